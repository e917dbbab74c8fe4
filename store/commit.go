package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// Limits bound what the writes between two commits hold. A Writer commits
// at the first transaction boundary after any limit is reached; a Loader
// spills its sort runs and commits its chunks by Records and Bytes.
type Limits struct {
	Records int           // operations applied
	Bytes   int           // bytes of memory held: ad data, and the pages a Writer's commit rewrites
	Delay   time.Duration // time since the first operation (Writer only)
}

// DefaultLimits suit both a bulk load and a daemon that must show new
// transactions within a second.
var DefaultLimits = Limits{Records: 1 << 20, Bytes: 48 << 20, Delay: time.Second}

// orDefault returns l with each zero or negative field from DefaultLimits.
func (l Limits) orDefault() Limits {
	if l.Records <= 0 {
		l.Records = DefaultLimits.Records
	}
	if l.Bytes <= 0 {
		l.Bytes = DefaultLimits.Bytes
	}
	if l.Delay <= 0 {
		l.Delay = DefaultLimits.Delay
	}
	return l
}

// batch is the commit policy of a Writer: it counts the operations and
// bytes held since the last commit, and says when they are due.
type batch struct {
	limits Limits
	ops    int       // operations applied
	ads    int       // ads touched
	bytes  int       // memory the pending ads hold, estimated by the Writer
	first  time.Time // when the first operation came
	adCost int       // bbolt's memory at commit per ad touched, as learned
}

// learn sets what a touched ad costs at commit from a commit of the
// current batch for which bbolt allocated pageBytes of pages. Most of a
// commit's memory is bbolt's, invisible until the commit: a buffer for each
// page it rewrites, and the node it decoded to change it (about as large
// again, measured at a million jobs). An ad rewrites its own page, and a
// job whose filing changed pages of the indexes; how many of those pages
// its neighbours share depends on how far apart the changed jobs lie, that
// is on the size of the queue and on the traffic, so it is measured, not
// guessed (at a million jobs, with changes spread over the queue, nearly
// twice what it is at 125k). The pages every commit rewrites (branches,
// counts, meta and freelist) are shared by its ads: a small commit teaches
// a high cost, and the next, larger, a truer one. The cost rises at once
// and falls by a quarter a commit: ads differ (a burst of new jobs, side
// by side, costs little; updates spread over the queue cost a page or more
// each), and a cheap commit must not let the next one hold several times
// the limit.
func (b *batch) learn(pageBytes int64) {
	if b.ads > 0 {
		seen := int(min(2*pageBytes/int64(b.ads), int64(b.limits.Bytes)))
		b.adCost = max(seen, b.adCost-b.adCost/4)
	}
}

// op counts one operation.
func (b *batch) op() {
	if b.ops == 0 {
		b.first = time.Now()
	}
	b.ops++
}

// grow counts n more bytes held.
func (b *batch) grow(n int) { b.bytes += n }

// touch counts an ad touched for the first time since the last commit.
func (b *batch) touch() { b.ads++ }

// due reports whether the batch has reached a limit.
func (b *batch) due() bool {
	return b.ops >= b.limits.Records || b.bytes+b.ads*b.adCost >= b.limits.Bytes ||
		b.ops > 0 && time.Since(b.first) >= b.limits.Delay
}

// reset starts a new batch, after a commit or a rollback.
func (b *batch) reset() { b.ops, b.ads, b.bytes = 0, 0, 0 }

// txPageBytes returns the bytes of pages bbolt allocated for tx's commit.
func txPageBytes(tx *bolt.Tx) int64 {
	st := tx.Stats()
	return st.GetPageAlloc()
}
