package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// checkHistory compares the history's indexes and stats with its entries,
// both ways, and calls problem for each difference. The throughput counts
// outlive pruned entries, so they are only required to count at least the
// entries kept. Memory stays bounded by the number of owners.
func (s *Snapshot) checkHistory(problem func(format string, args ...any)) {
	if s.history == nil {
		return
	}
	var entries, byOwner, byJob, left, durations *bolt.Bucket
	for _, b := range []struct {
		name []byte
		to   **bolt.Bucket
	}{{bucketEntries, &entries}, {bucketHistByOwner, &byOwner}, {bucketHistByJob, &byJob}, {bucketLeft, &left}, {bucketDurations, &durations}} {
		if *b.to = s.history.Bucket(b.name); *b.to == nil {
			problem("history: no %s bucket", b.name)
			return
		}
	}

	// Each entry against its index entries and its count.
	var n, size int64
	kept := make(map[string]uint64) // left/ keys, from the entries
	var scratch []byte
	c := entries.Cursor()
	for ek, v := c.First(); ek != nil; ek, v = c.Next() {
		e, err := decodeEntry(ek, v)
		if err == nil {
			err = e.Ad.Validate()
		}
		if err != nil {
			problem("history entry %x: %v", ek, err)
			continue
		}
		n++
		size += int64(len(v))
		name := func() string { return fmt.Sprintf("history entry of job %s (left %d)", e.Key, e.Left) } // for reports only
		scratch = append(appendPostingPrefix(scratch[:0], e.Owner), ek...)
		if byOwner.Get(scratch) == nil {
			problem("%s: missing from history/by-owner under Owner %s", name(), e.Owner)
		}
		switch jv := byJob.Get(appendByJobKey(scratch[:0], e.Key, e.Created)); {
		case jv == nil:
			problem("%s: missing from history/by-job", name())
		case !bytes.Equal(jv, ek):
			problem("%s: history/by-job names another entry, %x", name(), jv)
		}
		kept[string(leftKey(scratch[:0], e.How(), e.Owner))]++
	}
	switch st, err := readHistoryStats(s.history); {
	case err != nil:
		problem("history stats: %v", err)
	case st != [2]int64{n, size}:
		problem("history stats: %d entries of %d bytes, want %d of %d", st[0], st[1], n, size)
	}

	// Each index entry against the entry it names.
	c = byOwner.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		l, w := binary.Uvarint(k)
		if w <= 0 || l > uint64(len(k)) || uint64(len(k)-w) != l+entryKeyLen {
			problem("history/by-owner: malformed key %q", k)
			continue
		}
		op, ek := k[w:w+int(l)], k[w+int(l):]
		o, err := decodeOwnerPart(op)
		if err != nil {
			problem("history/by-owner: %v", err)
			continue
		}
		e, ok := checkedEntry(entries, ek)
		switch {
		case !ok:
			problem("history/by-owner: entry %x of Owner %s, which is not in the history", ek, o)
		case e.Owner != o:
			problem("history/by-owner: entry of job %s filed under Owner %s, its entry says %s", e.Key, o, e.Owner)
		}
	}
	c = byJob.Cursor()
	for k, ek := c.First(); k != nil; k, ek = c.Next() {
		if len(k) != byJobKeyLen || len(ek) != entryKeyLen {
			problem("history/by-job: malformed entry %q => %q", k, ek)
			continue
		}
		jk := keyText(k[:keyLen])
		e, ok := checkedEntry(entries, ek)
		switch {
		case !ok:
			problem("history/by-job: job %s names entry %x, which is not in the history", jk, ek)
		case !bytes.Equal(appendByJobKey(scratch[:0], e.Key, e.Created), k):
			problem("history/by-job: job %s names the entry of job %s", jk, e.Key)
		}
	}

	// The counts never fall below the entries kept; a histogram's buckets
	// never hold more than its count.
	c = left.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) < 2 || int(k[0]) >= len(leftClasses) || len(v) != 8 {
			problem("history/left: malformed count %q", k)
			continue
		}
		if got, want := binary.BigEndian.Uint64(v), kept[string(k)]; got < want {
			problem("history count of %s jobs of %s: %d, but %d entries are kept", leftClasses[k[0]], partText(k[1:], nil), got, want)
		}
		delete(kept, string(k))
	}
	for _, k := range slices.Sorted(maps.Keys(kept)) {
		problem("history count of %s jobs of %s: missing, but %d entries are kept", leftClasses[k[0]], partText([]byte(k[1:]), nil), kept[k])
	}
	for _, name := range []string{"wall", "wait"} {
		v := durations.Get([]byte(name))
		if v == nil {
			continue
		}
		h, err := decodeHistogram(v)
		if err != nil {
			problem("history %s histogram: %v", name, err)
			continue
		}
		var sum uint64
		for _, b := range h.Buckets {
			sum += b
		}
		if sum > h.Count {
			problem("history %s histogram: %d observations in its buckets, more than its count %d", name, sum, h.Count)
		}
	}
}

// checkedEntry returns the entry stored under ek, if there is one that
// decodes.
func checkedEntry(entries *bolt.Bucket, ek []byte) (HistoryEntry, bool) {
	v := entries.Get(ek)
	if v == nil {
		return HistoryEntry{}, false
	}
	e, err := decodeEntry(ek, v)
	return e, err == nil
}

// leftKey appends the key of history/left's count of the jobs of owner o
// that left as how says.
func leftKey(dst []byte, how string, o IndexedOwner) []byte {
	return appendOwnerPart(append(dst, byte(slices.Index(leftClasses, how))), o)
}
