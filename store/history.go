package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The history bucket (docs/STORE.md, "History") lies beside the states, so
// that a reload, which replaces the state, keeps it.
var (
	bucketHistory     = []byte("history")
	bucketEntries     = []byte("entries")
	bucketHistByOwner = []byte("by-owner")
	bucketHistByJob   = []byte("by-job")
	bucketLeft        = []byte("left")
	bucketDurations   = []byte("durations")
	keyHistoryStats   = []byte("stats")
	keyRetention      = []byte("retention")
)

const (
	entryFormat  = 1
	entryKeyLen  = 16 // when it left, then a sequence number
	byJobKeyLen  = keyLen + 8
	historyBatch = 10000 // entries a pruning transaction deletes at most
)

// How a job left the queue, as the left/ counters and the metrics name it.
const (
	LeftCompleted  = "completed"  // its last JobStatus was 4
	LeftRemoved    = "removed"    // its last JobStatus was 3
	LeftOther      = "other"      // any other last JobStatus, or none
	LeftUnobserved = "unobserved" // it left while the log was not followed
)

// leftClasses are the How values in the order of their class bytes.
var leftClasses = []string{LeftCompleted, LeftRemoved, LeftOther, LeftUnobserved}

// HistoryEntry is a job that left the queue: its final effective ad (its
// cluster ad overlaid by its own, secrets never kept), when it left and how.
type HistoryEntry struct {
	Key     Key
	Created int64 // the queue's CreationTimestamp: with Key, the job's identity
	// Left is when it left (Unix seconds): its CompletionDate, else its
	// EnteredCurrentStatus, else the time its destruction was applied.
	Left int64
	// Status is its last JobStatus, if that was an integer literal.
	Status   int64
	StatusOK bool
	// Unobserved says it vanished between two generations of the log
	// whose records in between were never read: nothing is known of how
	// it left, and its ad is the last one seen.
	Unobserved bool
	Owner      IndexedOwner
	Ad         Ad

	id [entryKeyLen]byte
}

// How names the way e left the queue: LeftCompleted, LeftRemoved,
// LeftOther or LeftUnobserved.
func (e *HistoryEntry) How() string {
	st := IndexedStatus{Class: ClassOther}
	if e.StatusOK {
		st = IndexedStatus{Class: ClassLiteral, N: e.Status}
	}
	return leftHow(e.Unobserved, st)
}

// leftHow names how a job whose last JobStatus is filed as st left.
func leftHow(unobserved bool, st IndexedStatus) string {
	switch {
	case unobserved:
		return LeftUnobserved
	case st.Class == ClassLiteral && st.N == 4:
		return LeftCompleted
	case st.Class == ClassLiteral && st.N == 3:
		return LeftRemoved
	}
	return LeftOther
}

// Job returns the entry as a Job whose attributes are its effective ad.
func (e *HistoryEntry) Job() Job { return Job{Key: e.Key, Proc: e.Ad} }

// DurationBounds are the upper bounds, in seconds, of the buckets of the
// histograms of completed jobs' wall time and queue wait: a minute to a
// month.
var DurationBounds = []float64{60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800, 2592000}

// Histogram is a cumulative histogram of durations in seconds, over
// DurationBounds.
type Histogram struct {
	Count   uint64
	Sum     float64
	Buckets []uint64 // observations at most DurationBounds[i], not cumulative
}

func (h *Histogram) observe(v float64) {
	if len(h.Buckets) != len(DurationBounds) {
		h.Buckets = make([]uint64, len(DurationBounds))
	}
	h.Count++
	h.Sum += v
	if i, _ := slices.BinarySearch(DurationBounds, v); i < len(DurationBounds) {
		h.Buckets[i]++
	}
}

func (h *Histogram) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, h.Count)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(h.Sum))
	for i := range DurationBounds {
		var n uint64
		if i < len(h.Buckets) {
			n = h.Buckets[i]
		}
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return b
}

func decodeHistogram(v []byte) (Histogram, error) {
	if len(v) != 16+8*len(DurationBounds) {
		return Histogram{}, fmt.Errorf("%w: a history histogram of %d bytes", ErrDamaged, len(v))
	}
	h := Histogram{Count: binary.BigEndian.Uint64(v), Sum: math.Float64frombits(binary.BigEndian.Uint64(v[8:]))}
	for i := range DurationBounds {
		h.Buckets = append(h.Buckets, binary.BigEndian.Uint64(v[16+8*i:]))
	}
	return h, nil
}

// Throughput is what the history has counted since the file was created:
// jobs that left by how and owner, and the durations of completed jobs.
// Pruning old entries never lowers it.
type Throughput struct {
	Left      map[LeftKey]uint64
	WallTime  Histogram // completed jobs' RemoteWallClockTime
	QueueWait Histogram // completed jobs' JobStartDate - QDate
}

// LeftKey is a cell of Throughput.Left.
type LeftKey struct {
	How   string
	Owner IndexedOwner
}

// Retention bounds the history: entries that left longer than Age ago,
// and the oldest entries beyond Bytes of them, are pruned (0: no bound).
type Retention struct {
	Age   time.Duration `json:"age"`
	Bytes int64         `json:"bytes"`
}

// HistoryStats describe the history as status shows it.
type HistoryStats struct {
	Entries   int64
	Bytes     int64 // of the entries' encodings
	Oldest    int64 // when the oldest entry left (0: none)
	Newest    int64
	Retention *Retention // as serve last set it; nil if never
}

// leaving is an entry on its way into the history.
type leaving struct {
	key        Key
	left       int64
	status     IndexedStatus
	unobserved bool
	owner      IndexedOwner
	wall, wait float64
	waitOK     bool
	wallOK     bool
	ad         []byte // encoded
}

// newLeaving builds the entry of job k that leaves with its own attributes
// proc and its cluster ad's cluster (both sorted by folded name): the
// merge of the two, job winning, encoded as an ad. now is the time of the
// leaving when the ad does not say it.
func newLeaving(dst []byte, k Key, myType string, proc, cluster []Attr, now int64) leaving {
	merged := make([]Attr, 0, len(proc)+len(cluster))
	i, j := 0, 0
	for i < len(proc) || j < len(cluster) {
		switch {
		case j == len(cluster):
			merged = append(merged, proc[i])
			i++
		case i == len(proc):
			merged = append(merged, cluster[j])
			j++
		default:
			switch c := compareFold(proc[i].Name, cluster[j].Name); {
			case c < 0:
				merged = append(merged, proc[i])
				i++
			case c > 0:
				merged = append(merged, cluster[j])
				j++
			default:
				merged = append(merged, proc[i])
				i, j = i+1, j+1
			}
		}
	}
	find := (&adState{exists: true, attrs: merged}).lookup
	l := leaving{key: k, left: now}
	for _, name := range []string{"CompletionDate", "EnteredCurrentStatus"} {
		if v, ok := find(name); ok {
			if t, ok := IntLiteral(v); ok && t > 0 {
				l.left = t
				break
			}
		}
	}
	l.status = StatusValue(find("JobStatus"))
	l.owner = OwnerValue(find("Owner"))
	if l.status.Class == ClassLiteral && l.status.N == 4 {
		if v, ok := find("RemoteWallClockTime"); ok {
			l.wall, _, l.wallOK = NumberLiteral(v)
		}
		start, sok := find("JobStartDate")
		queued, qok := find("QDate")
		if sok && qok {
			s, sok := IntLiteral(start)
			q, qok := IntLiteral(queued)
			if sok && qok && s >= q && q > 0 {
				l.wait, l.waitOK = float64(s-q), true
			}
		}
	}
	l.ad = appendAd(dst, k, myType, merged)
	return l
}

// appendLeaving encodes l for a Loader's sort of departures by the time
// they left; readLeaving decodes it.
func appendLeaving(dst []byte, l *leaving) []byte {
	dst = appendKey(dst, l.key)
	dst = binary.BigEndian.AppendUint64(dst, uint64(l.left))
	dst = appendStatusPart(dst, l.status)
	var flags byte
	if l.unobserved {
		flags |= 1
	}
	if l.wallOK {
		flags |= 2
	}
	if l.waitOK {
		flags |= 4
	}
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(l.wall))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(l.wait))
	dst = appendPostingPrefix(dst, l.owner)
	return append(dst, l.ad...)
}

// readLeaving decodes what appendLeaving encoded; the leaving's ad refers
// to b.
func readLeaving(b []byte) (leaving, error) {
	var l leaving
	const fixed = keyLen + 8 + statusPartLen + 1 + 16
	if len(b) < fixed {
		return l, fmt.Errorf("a departure of %d bytes, short of %d", len(b), fixed)
	}
	var err error
	if l.key, err = decodeKey(b[:keyLen]); err != nil {
		return l, err
	}
	b = b[keyLen:]
	l.left = int64(binary.BigEndian.Uint64(b))
	if l.status, err = decodeStatusPart(b[8 : 8+statusPartLen]); err != nil {
		return l, err
	}
	b = b[8+statusPartLen:]
	l.unobserved, l.wallOK, l.waitOK = b[0]&1 != 0, b[0]&2 != 0, b[0]&4 != 0
	l.wall = math.Float64frombits(binary.BigEndian.Uint64(b[1:]))
	l.wait = math.Float64frombits(binary.BigEndian.Uint64(b[9:]))
	b = b[17:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return l, fmt.Errorf("a departure with a malformed owner")
	}
	if l.owner, err = decodeOwnerPart(b[w : w+int(n)]); err != nil {
		return l, err
	}
	l.ad = b[w+int(n):]
	return l, nil
}

// departures are jobs on their way into the history in one transaction,
// and what writing them holds until its commit: their ads (their entries
// lie together, in the order they left) and a leaf of the index by owner
// for each owner (that index keeps each owner's entries together).
type departures struct {
	jobs   []leaving
	bytes  int
	owners map[IndexedOwner]bool
}

// add adds l, an entry of a job that left at or after those added before.
func (d *departures) add(l leaving, pageSize int) {
	d.jobs = append(d.jobs, l)
	d.bytes += len(l.ad)
	if d.owners == nil {
		d.owners = make(map[IndexedOwner]bool)
	}
	if !d.owners[l.owner] {
		d.owners[l.owner] = true
		d.bytes += pageSize
	}
}

func (d *departures) reset() {
	clear(d.jobs)
	clear(d.owners)
	d.jobs, d.bytes = d.jobs[:0], 0
}

// historyWriter records entries in the history bucket of a write
// transaction.
type historyWriter struct {
	h, entries, byOwner, byJob, left, durations *bolt.Bucket
	arena                                       *arena
	stats                                       [2]int64 // entries, bytes
	cutoff                                      int64    // entries that left before it are not kept
	wall, wait                                  *Histogram
	scratch                                     []byte
}

// openHistory returns a writer of tx's history, creating its buckets if
// the file has none yet; a copies what bbolt must keep until commit.
func openHistory(tx *bolt.Tx, a *arena, now int64) (*historyWriter, error) {
	h, err := tx.CreateBucketIfNotExists(bucketHistory)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	w := &historyWriter{h: h, arena: a}
	for _, b := range []struct {
		name []byte
		to   **bolt.Bucket
	}{{bucketEntries, &w.entries}, {bucketHistByOwner, &w.byOwner}, {bucketHistByJob, &w.byJob}, {bucketLeft, &w.left}, {bucketDurations, &w.durations}} {
		if *b.to, err = h.CreateBucketIfNotExists(b.name); err != nil {
			return nil, fmt.Errorf("create history/%s: %w", b.name, err)
		}
	}
	// Entries come in the order jobs left, and each owner's and (mostly)
	// each job's after the ones before: fill the pages as a load fills
	// the ads', not to bbolt's half.
	w.entries.FillPercent, w.byOwner.FillPercent, w.byJob.FillPercent = 0.9, 0.9, 0.9
	if w.stats, err = readHistoryStats(h); err != nil {
		return nil, err
	}
	r, err := readRetention(h)
	if err != nil {
		return nil, err
	}
	if r != nil && r.Age > 0 {
		w.cutoff = now - int64(r.Age/time.Second)
	}
	return w, nil
}

func readHistoryStats(h *bolt.Bucket) ([2]int64, error) {
	var s [2]int64
	v := h.Get(keyHistoryStats)
	if v == nil {
		return s, nil
	}
	if len(v) != 16 {
		return s, fmt.Errorf("%w: history stats of %d bytes", ErrDamaged, len(v))
	}
	s[0], s[1] = int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
	return s, nil
}

func readRetention(h *bolt.Bucket) (*Retention, error) {
	v := h.Get(keyRetention)
	if v == nil {
		return nil, nil
	}
	var r Retention
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("%w: history retention %q: %v", ErrDamaged, v, err)
	}
	return &r, nil
}

func appendEntryKey(dst []byte, left int64, seq uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(left)^1<<63)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func appendByJobKey(dst []byte, k Key, created int64) []byte {
	return binary.BigEndian.AppendUint64(appendKey(dst, k), uint64(created)^1<<63)
}

// add records l, a job of the queue born at created, unless the history
// holds it already (a log read again after a reload) or retention would
// prune it at once.
func (w *historyWriter) add(l *leaving, created int64) error {
	jk := appendByJobKey(w.scratch[:0], l.key, created)
	if w.byJob.Get(jk) != nil || l.left < w.cutoff {
		return nil
	}
	seq, err := w.entries.NextSequence()
	if err != nil {
		return err
	}
	ek := w.arena.keep(appendEntryKey(nil, l.left, seq))
	if err := w.byJob.Put(w.arena.keep(jk), ek); err != nil {
		return fmt.Errorf("history by job %s: %w", l.key, err)
	}
	var flags byte
	if l.unobserved {
		flags |= 1
	}
	v := append(w.scratch[:0], entryFormat, flags)
	v = binary.BigEndian.AppendUint64(v, uint64(created))
	v = appendKey(v, l.key)
	v = appendStatusPart(v, l.status)
	op := appendOwnerPart(nil, l.owner)
	v = binary.AppendUvarint(v, uint64(len(op)))
	v = append(v, op...)
	v = append(v, l.ad...)
	w.scratch = v[:0]
	if err := w.entries.Put(ek, w.arena.keep(v)); err != nil {
		return fmt.Errorf("history entry %s: %w", l.key, err)
	}
	if err := w.byOwner.Put(w.arena.keep(appendPostingPrefix(nil, l.owner), ek), []byte{}); err != nil {
		return fmt.Errorf("history by owner: %w", err)
	}
	w.stats[0]++
	w.stats[1] += int64(len(v))
	lk := leftKey(nil, leftHow(l.unobserved, l.status), l.owner)
	n := uint64(1)
	if v := w.left.Get(lk); len(v) == 8 {
		n += binary.BigEndian.Uint64(v)
	}
	if err := w.left.Put(w.arena.keep(lk), binary.BigEndian.AppendUint64(nil, n)); err != nil {
		return fmt.Errorf("history counts: %w", err)
	}
	if l.wallOK {
		if err := w.observe(&w.wall, "wall", l.wall); err != nil {
			return err
		}
	}
	if l.waitOK {
		if err := w.observe(&w.wait, "wait", l.wait); err != nil {
			return err
		}
	}
	return nil
}

// observe adds v to the histogram named name, read on first use.
func (w *historyWriter) observe(h **Histogram, name string, v float64) error {
	if *h == nil {
		*h = &Histogram{}
		if b := w.durations.Get([]byte(name)); b != nil {
			d, err := decodeHistogram(b)
			if err != nil {
				return err
			}
			*h = &d
		}
	}
	(*h).observe(v)
	return nil
}

// remove deletes the entry under ek, whose stored value is v, and its
// index entries.
func (w *historyWriter) remove(ek, v []byte) error {
	e, err := decodeEntry(ek, v)
	if err != nil {
		return err
	}
	ek = bytes.Clone(ek)
	if err := w.entries.Delete(ek); err != nil {
		return err
	}
	if err := w.byJob.Delete(appendByJobKey(nil, e.Key, e.Created)); err != nil {
		return err
	}
	if err := w.byOwner.Delete(append(appendPostingPrefix(nil, e.Owner), ek...)); err != nil {
		return err
	}
	w.stats[0]--
	w.stats[1] -= int64(len(v))
	return nil
}

// finish writes the counts the writer changed.
func (w *historyWriter) finish() error {
	for _, h := range []struct {
		name string
		h    *Histogram
	}{{"wall", w.wall}, {"wait", w.wait}} {
		if h.h != nil {
			if err := w.durations.Put([]byte(h.name), h.h.encode()); err != nil {
				return err
			}
		}
	}
	s := binary.BigEndian.AppendUint64(nil, uint64(w.stats[0]))
	return w.h.Put(keyHistoryStats, binary.BigEndian.AppendUint64(s, uint64(w.stats[1])))
}

// decodeEntry decodes the entry stored under ek with value v; its Ad
// refers to v.
func decodeEntry(ek, v []byte) (HistoryEntry, error) {
	var e HistoryEntry
	bad := func(what string) (HistoryEntry, error) {
		return e, fmt.Errorf("%w: history entry %x: %s", ErrDamaged, ek, what)
	}
	if len(ek) != entryKeyLen {
		return bad("a key of the wrong length")
	}
	copy(e.id[:], ek)
	e.Left = int64(binary.BigEndian.Uint64(ek) ^ 1<<63)
	if len(v) < 2+8+keyLen+statusPartLen || v[0] != entryFormat {
		return bad("too short, or of an unknown format")
	}
	e.Unobserved = v[1]&1 != 0
	e.Created = int64(binary.BigEndian.Uint64(v[2:]))
	var err error
	if e.Key, err = decodeKey(v[10 : 10+keyLen]); err != nil {
		return bad(err.Error())
	}
	st, err := decodeStatusPart(v[10+keyLen : 10+keyLen+statusPartLen])
	if err != nil {
		return bad(err.Error())
	}
	e.Status, e.StatusOK = st.N, st.Class == ClassLiteral
	rest := v[10+keyLen+statusPartLen:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n > uint64(len(rest)-w) {
		return bad("a malformed owner")
	}
	if e.Owner, err = decodeOwnerPart(rest[w : w+int(n)]); err != nil {
		return bad(err.Error())
	}
	if e.Ad, err = openAd(e.Key, rest[w+int(n):]); err != nil {
		return e, err
	}
	return e, nil
}

// recordLeft records in tx the jobs of l, of the queue born at created.
func recordLeft(tx *bolt.Tx, a *arena, l []leaving, created, now int64) error {
	if len(l) == 0 {
		return nil
	}
	w, err := openHistory(tx, a, now)
	if err != nil {
		return err
	}
	for i := range l {
		if err := w.add(&l[i], created); err != nil {
			return err
		}
	}
	return w.finish()
}

// SetRetention records r as the history's retention, for status to show;
// PruneHistory applies it.
func (db *DB) SetRetention(r Retention) error {
	return db.update(func(tx *bolt.Tx) error {
		h, err := tx.CreateBucketIfNotExists(bucketHistory)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(r)
		return h.Put(keyRetention, b)
	})
}

// PruneHistory deletes the entries r does not keep at time now: those that
// left before now-r.Age, then the oldest while the entries take more than
// r.Bytes. It works in transactions of bounded size, and returns how many
// it deleted; the throughput counts are kept.
func (db *DB) PruneHistory(now time.Time, r Retention) (int, error) {
	total := 0
	for {
		n := 0
		err := db.update(func(tx *bolt.Tx) error {
			if tx.Bucket(bucketHistory) == nil {
				return nil
			}
			var a arena
			w, err := openHistory(tx, &a, now.Unix())
			if err != nil {
				return err
			}
			cutoff := int64(math.MinInt64)
			if r.Age > 0 {
				cutoff = now.Add(-r.Age).Unix()
			}
			c := w.entries.Cursor()
			for k, v := c.First(); k != nil && n < historyBatch; k, v = c.First() {
				left := int64(binary.BigEndian.Uint64(k) ^ 1<<63)
				if left >= cutoff && (r.Bytes <= 0 || w.stats[1] <= r.Bytes) {
					break
				}
				if err := w.remove(k, v); err != nil {
					return err
				}
				n++
			}
			if n == 0 {
				return nil
			}
			return w.finish()
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("db %s: prune history: %w", db.path, err)
		}
		if n < historyBatch {
			return total, nil
		}
	}
}

// recordUnobserved records in the history, as unobserved, every job of the
// active state that the state being loaded lacks: the jobs that left
// while the log was not followed (a generation whose rotated file is
// gone, a replaced log). It runs once the loading state holds every job,
// in transactions of bounded size; a job the history holds already (it
// left in records a load or a writer read) is not recorded again.
func (b *loadBatch) recordUnobserved() error {
	if err := b.begin(); err != nil {
		return err
	}
	name := bytes.Clone(b.tx.Bucket(bucketMeta).Get(keyActive))
	if name == nil {
		return nil
	}
	old := b.tx.Bucket(name)
	if old == nil {
		return nil
	}
	pos, err := readPosition(old)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	var (
		from []byte // the first old job key not yet compared
		left departures
	)
	for {
		more := false
		oldPostings, oldAds := old.Bucket(bucketPostings), old.Bucket(bucketAds)
		nc := b.state.Bucket(bucketPostings).Cursor()
		oc := oldPostings.Cursor()
		ok, ov := oc.First()
		if from != nil {
			ok, ov = oc.Seek(from)
		}
		nk, _ := nc.Seek(ok)
		for ; ok != nil; ok, ov = oc.Next() {
			for nk != nil && bytes.Compare(nk, ok) < 0 {
				nk, _ = nc.Next()
			}
			if nk != nil && bytes.Equal(nk, ok) {
				continue
			}
			if left.bytes >= b.limit || len(left.jobs) >= historyBatch {
				from, more = bytes.Clone(ok), true
				break
			}
			k, err := decodeKey(ok)
			if err != nil {
				return err
			}
			part, err := postingPartition(ov)
			if err != nil {
				return err
			}
			proc, err := getAd(oldAds, part, k, nil)
			if err != nil {
				return err
			}
			if proc == nil {
				return fmt.Errorf("%w: job %s is indexed without an ad", ErrDamaged, k)
			}
			t, attrs, err := decodeAd(proc)
			if err != nil {
				return err
			}
			var cluster []Attr
			if c, err := getAd(oldAds, partMain, k.ClusterKey(), nil); err != nil {
				return err
			} else if c != nil {
				if _, cluster, err = decodeAd(c); err != nil {
					return err
				}
			}
			l := newLeaving(nil, k, t, attrs, cluster, now)
			l.left, l.unobserved = now, true
			left.add(l, b.db.pageSize) // all leave now
		}
		if err := recordLeft(b.tx, &b.arena, left.jobs, pos.Generation.Created, now); err != nil {
			return err
		}
		if !more {
			return nil
		}
		if err := b.commit(); err != nil {
			return err
		}
		if err := b.begin(); err != nil {
			return err
		}
		if old = b.tx.Bucket(name); old == nil {
			return nil
		}
		left.reset()
	}
}
