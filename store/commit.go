package store

import "time"

// Limits bound what the writes between two commits hold. A Writer commits
// at the first transaction boundary after any limit is reached; a Loader
// spills its sort runs and commits its chunks by Records and Bytes.
type Limits struct {
	Records int           // operations applied
	Bytes   int           // bytes of ad data held in memory
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
	bytes  int       // memory the pending ads hold, estimated by the Writer
	first  time.Time // when the first operation came
}

// op counts one operation holding n more bytes.
func (b *batch) op(n int) {
	if b.ops == 0 {
		b.first = time.Now()
	}
	b.ops++
	b.bytes += n
}

// grow counts n more bytes held without a new operation.
func (b *batch) grow(n int) { b.bytes += n }

// due reports whether the batch has reached a limit.
func (b *batch) due() bool {
	return b.ops >= b.limits.Records || b.bytes >= b.limits.Bytes ||
		b.ops > 0 && time.Since(b.first) >= b.limits.Delay
}

// reset starts a new batch, after a commit or a rollback.
func (b *batch) reset() { b.ops, b.bytes = 0, 0 }
