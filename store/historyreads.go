package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// HistoryID names a history entry; IDs order entries by when they left,
// then by when they were recorded.
type HistoryID [entryKeyLen]byte

// ID returns the entry's HistoryID.
func (e *HistoryEntry) ID() HistoryID { return e.id }

// Left returns when the entry id names left the queue (Unix seconds).
func (id HistoryID) Left() int64 { return int64(binary.BigEndian.Uint64(id[:]) ^ 1<<63) }

// HistoryAfter returns the smallest ID of an entry that left after t: the
// bound that keeps the entries that left after t.
func HistoryAfter(t int64) HistoryID {
	var id HistoryID
	binary.BigEndian.PutUint64(id[:], uint64(t+1)^1<<63)
	return id
}

func (s *Snapshot) historyBucket(name []byte) *bolt.Bucket {
	if s.history == nil {
		return nil
	}
	return s.history.Bucket(name)
}

// History yields every entry whose ID is at least from, newest first. A
// damaged entry stops it, and Err reports it.
func (s *Snapshot) History(from HistoryID) iter.Seq[HistoryEntry] {
	return func(yield func(HistoryEntry) bool) {
		b := s.historyBucket(bucketEntries)
		if b == nil || s.err != nil {
			return
		}
		c := b.Cursor()
		var prev []byte
		for k, v := c.Last(); k != nil && bytes.Compare(k, from[:]) >= 0; k, v = c.Prev() {
			if prev != nil && bytes.Compare(k, prev) >= 0 {
				s.err = fmt.Errorf("%w: history entries out of order", ErrDamaged)
				return
			}
			prev = k
			e, err := decodeEntry(k, v)
			if err != nil {
				s.err = err
				return
			}
			if !yield(e) {
				return
			}
		}
	}
}

// HistoryOfOwner yields the IDs of the entries filed under Owner o whose
// ID is at least from, newest first.
func (s *Snapshot) HistoryOfOwner(o IndexedOwner, from HistoryID) iter.Seq[HistoryID] {
	return func(yield func(HistoryID) bool) {
		b := s.historyBucket(bucketHistByOwner)
		if b == nil || s.err != nil {
			return
		}
		// The owner's keys lie together, oldest first: start after the last.
		prefix := appendPostingPrefix(nil, o)
		c := b.Cursor()
		k, _ := c.Seek(append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, entryKeyLen+1)...))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		var prev []byte
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			id := k[len(prefix):]
			if len(id) != entryKeyLen || prev != nil && bytes.Compare(id, prev) >= 0 {
				s.err = fmt.Errorf("%w: history index of owner %s", ErrDamaged, o)
				return
			}
			if bytes.Compare(id, from[:]) < 0 || !yield(HistoryID(id)) {
				return
			}
			prev = id
		}
	}
}

// HistoryOfJobs returns the IDs of the entries of the jobs from..to (in
// key order, inclusive), of any queue, newest first.
func (s *Snapshot) HistoryOfJobs(from, to Key) []HistoryID {
	b := s.historyBucket(bucketHistByJob)
	if b == nil || s.err != nil {
		return nil
	}
	var ids []HistoryID
	c := b.Cursor()
	end := appendKey(nil, to)
	for k, v := c.Seek(appendKey(nil, from)); k != nil && bytes.Compare(k[:min(len(k), keyLen)], end) <= 0; k, v = c.Next() {
		if len(k) != byJobKeyLen || len(v) != entryKeyLen {
			s.err = fmt.Errorf("%w: history index by job", ErrDamaged)
			return nil
		}
		ids = append(ids, HistoryID(v))
	}
	slices.SortFunc(ids, func(a, b HistoryID) int { return bytes.Compare(b[:], a[:]) })
	return ids
}

// HistoryEntry returns the entry id names; ok is false if there is none,
// and a damaged entry is reported by Err.
func (s *Snapshot) HistoryEntry(id HistoryID) (e HistoryEntry, ok bool) {
	b := s.historyBucket(bucketEntries)
	if b == nil || s.err != nil {
		return e, false
	}
	v := b.Get(id[:])
	if v == nil {
		return e, false
	}
	e, err := decodeEntry(id[:], v)
	if err != nil {
		s.err = err
		return e, false
	}
	return e, true
}

// maxEntryBatch is the most IDs HistoryEntries reads ahead.
const maxEntryBatch = 1024

// coldEntryRead is the time above which reading an entry, on average over
// a batch, means the pages came from the disk: an entry in the page cache
// takes a few microseconds, one read from a disk a hundred or more.
const coldEntryRead = 25 * time.Microsecond

// HistoryEntries yields the entries ids name, in the order of ids, skipping
// IDs with no entry; a damaged entry stops it, and Err reports it. The IDs
// an index gives lie scattered over the history: read cold, each entry
// would wait for a page of its own. So it reads the IDs a batch at a time
// (16, then twice as many each time, up to 1,024), and once a batch has
// read slowly, as from the disk, prefetches the pages of every batch after
// it. Finding those pages costs more than reading entries already in the
// page cache, so a warm read never prefetches.
func (s *Snapshot) HistoryEntries(ids iter.Seq[HistoryID]) iter.Seq[HistoryEntry] {
	return func(yield func(HistoryEntry) bool) {
		batch := make([]HistoryID, 0, minPrefetch)
		prefetch := false
		visit := func() bool {
			if prefetch {
				s.prefetchHistory(batch)
			}
			var took time.Duration
			for _, id := range batch {
				start := time.Now()
				e, ok := s.HistoryEntry(id)
				took += time.Since(start)
				if !ok && s.err != nil {
					return false
				}
				if ok && !yield(e) {
					return false
				}
			}
			prefetch = prefetch || took > time.Duration(len(batch))*coldEntryRead
			batch = batch[:0]
			return true
		}
		n := minPrefetch
		for id := range ids {
			if batch = append(batch, id); len(batch) == n {
				if !visit() {
					return
				}
				n = min(2*n, maxEntryBatch)
			}
		}
		visit()
	}
}

// HistoryStats returns the size, span and retention of the history.
func (s *Snapshot) HistoryStats() (HistoryStats, error) {
	var st HistoryStats
	if s.history == nil {
		return st, nil
	}
	n, err := readHistoryStats(s.history)
	if err != nil {
		return st, err
	}
	st.Entries, st.Bytes = n[0], n[1]
	if st.Retention, err = readRetention(s.history); err != nil {
		return st, err
	}
	if b := s.history.Bucket(bucketEntries); b != nil {
		c := b.Cursor()
		if k, _ := c.First(); len(k) == entryKeyLen {
			st.Oldest = HistoryID(k).Left()
		}
		if k, _ := c.Last(); len(k) == entryKeyLen {
			st.Newest = HistoryID(k).Left()
		}
	}
	return st, nil
}

// Throughput returns what the history counted since the file was created.
func (s *Snapshot) Throughput() (Throughput, error) {
	t := Throughput{Left: make(map[LeftKey]uint64)}
	if b := s.historyBucket(bucketLeft); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			if len(k) < 2 || int(k[0]) >= len(leftClasses) || len(v) != 8 {
				return fmt.Errorf("%w: history count %q", ErrDamaged, k)
			}
			o, err := decodeOwnerPart(k[1:])
			if err != nil {
				return fmt.Errorf("%w: %v", ErrDamaged, err)
			}
			t.Left[LeftKey{How: leftClasses[k[0]], Owner: o}] = binary.BigEndian.Uint64(v)
			return nil
		})
		if err != nil {
			return t, err
		}
	}
	if b := s.historyBucket(bucketDurations); b != nil {
		for _, h := range []struct {
			name string
			to   *Histogram
		}{{"wall", &t.WallTime}, {"wait", &t.QueueWait}} {
			if v := b.Get([]byte(h.name)); v != nil {
				d, err := decodeHistogram(v)
				if err != nil {
					return t, err
				}
				*h.to = d
			}
		}
	}
	return t, nil
}

// Next returns the ID right after id: the bound that keeps the entries
// newer than id's.
func (id HistoryID) Next() HistoryID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}

// Compare orders IDs as the entries they name: by when they left, then by
// when they were recorded.
func (id HistoryID) Compare(o HistoryID) int { return bytes.Compare(id[:], o[:]) }
