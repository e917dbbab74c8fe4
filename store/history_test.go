package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestHistoryRetentionBoundsTheFile simulates a week of churn, 300 jobs an
// hour each leaving with a 2 KB ad, pruned hourly to a day: the history
// keeps exactly the last day, the throughput counts keep everything, and
// the file stops growing once a day's history fills it (freed pages are
// reused).
func TestHistoryRetentionBoundsTheFile(t *testing.T) {
	db, path := openTemp(t)
	load(t, db, Position{}, "new 0.0 Job")
	start := time.Unix(1700000000, 0)
	pad := `"` + strings.Repeat("x", 2000) + `"`
	const perHour = 300
	retention := Retention{Age: 24 * time.Hour}
	var sizes []int64
	cluster := 1
	for hour := range 7 * 24 {
		now := start.Add(time.Duration(hour) * time.Hour)
		w := db.NewWriter(Limits{})
		for i := range perHour {
			c := fmt.Sprintf("%d", cluster)
			cluster++
			done := now.Unix() + int64(i)
			apply(t, w, "new "+c+".-1 Job", "set "+c+".-1 Owner \"u"+fmt.Sprint(i%7)+"\"",
				"new "+c+".0 Job", "set "+c+".0 JobStatus 4", "set "+c+".0 Pad "+pad,
				"set "+c+".0 CompletionDate "+fmt.Sprint(done), "destroy "+c+".0", "destroy "+c+".-1")
		}
		if err := w.Commit(context.Background(), Position{}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PruneHistory(now.Add(time.Hour), retention); err != nil {
			t.Fatal(err)
		}
		if hour%24 == 23 {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, fi.Size())
		}
	}
	db.View(func(s *Snapshot) error {
		st, err := s.HistoryStats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Entries != 24*perHour {
			t.Errorf("%d entries kept, want a day's %d", st.Entries, 24*perHour)
		}
		if cutoff := start.Add(7*24*time.Hour - 24*time.Hour).Unix(); st.Oldest < cutoff {
			t.Errorf("oldest entry left at %d, before the cutoff %d", st.Oldest, cutoff)
		}
		tp, err := s.Throughput()
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, v := range tp.Left {
			n += v
		}
		if n != 7*24*perHour || tp.WallTime.Count != 0 {
			t.Errorf("throughput counts %d left, %d wall times; want %d and 0 (no RemoteWallClockTime)", n, tp.WallTime.Count, 7*24*perHour)
		}
		return nil
	})
	// Day 1 holds a day of history; the days after hold a day too.
	if last := sizes[len(sizes)-1]; last > sizes[1]*5/4 {
		t.Errorf("the file grows with the churn: %d bytes after day 2, %d after day 7 (%v)", sizes[1], last, sizes)
	}
}

// TestHistoryRetentionBySize prunes the oldest entries beyond a size.
func TestHistoryRetentionBySize(t *testing.T) {
	db, _ := openTemp(t)
	load(t, db, Position{}, "new 0.0 Job")
	w := db.NewWriter(Limits{})
	for i := 1; i <= 100; i++ {
		c := fmt.Sprint(i)
		apply(t, w, "new "+c+".0 Job", "set "+c+".0 JobStatus 3", "set "+c+".0 EnteredCurrentStatus "+fmt.Sprint(1700000000+i),
			"set "+c+".0 Pad \""+strings.Repeat("y", 1000)+"\"", "destroy "+c+".0")
	}
	if err := w.Commit(context.Background(), Position{}); err != nil {
		t.Fatal(err)
	}
	var before HistoryStats
	db.View(func(s *Snapshot) error { before, _ = s.HistoryStats(); return nil })
	limit := before.Bytes / 4
	n, err := db.PruneHistory(time.Unix(1700000000, 0), Retention{Bytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(s *Snapshot) error {
		st, _ := s.HistoryStats()
		if st.Bytes > limit || st.Entries+int64(n) != 100 || st.Entries < 20 {
			t.Errorf("after pruning to %d bytes: %d entries, %d bytes, %d pruned", limit, st.Entries, st.Bytes, n)
		}
		if st.Newest != 1700000100 {
			t.Errorf("newest entry left at %d, want the last one kept (1700000100)", st.Newest)
		}
		for e := range s.History(HistoryID{}) {
			if e.How() != LeftRemoved {
				t.Errorf("entry %v left %s, want removed", e.Key, e.How())
			}
		}
		return s.Err()
	})
}

// TestDamagedHistoryIsReported damages each part of the history of a file
// and requires every read of it to fail with ErrDamaged, never to panic or
// to return the damaged bytes as an entry.
func TestDamagedHistoryIsReported(t *testing.T) {
	setup := func(t *testing.T) *DB {
		db, _ := openTemp(t)
		load(t, db, Position{}, "new 0.0 Job")
		w := db.NewWriter(Limits{})
		apply(t, w, "new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 4",
			"set 1.0 RemoteWallClockTime 60.0", "set 1.0 CompletionDate 1700000000", "destroy 1.0")
		if err := w.Commit(context.Background(), Position{}); err != nil {
			t.Fatal(err)
		}
		return db
	}
	// Each damage rewrites one value of the history in place.
	damages := []struct {
		name   string
		bucket []byte // under history/; nil: history itself
		damage func(k, v []byte) (newK, newV []byte)
	}{
		{"entry bit flipped", bucketEntries, func(k, v []byte) ([]byte, []byte) {
			v = bytes.Clone(v)
			v[len(v)-1] ^= 1
			return k, v
		}},
		{"entry cut short", bucketEntries, func(k, v []byte) ([]byte, []byte) { return k, v[:5] }},
		{"entry of an unknown format", bucketEntries, func(k, v []byte) ([]byte, []byte) {
			v = bytes.Clone(v)
			v[0] = 9
			return k, v
		}},
		{"owner length past the end", bucketEntries, func(k, v []byte) ([]byte, []byte) {
			v = bytes.Clone(v[:2+8+keyLen+statusPartLen])
			return k, append(v, 0xff, 0x7f)
		}},
		{"histogram of the wrong size", bucketDurations, func(k, v []byte) ([]byte, []byte) { return k, v[:3] }},
		{"count of the wrong size", bucketLeft, func(k, v []byte) ([]byte, []byte) { return k, v[:3] }},
		{"stats of the wrong size", nil, func(k, v []byte) ([]byte, []byte) { return keyHistoryStats, []byte{1} }},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			db := setup(t)
			err := db.bolt.Update(func(tx *bolt.Tx) error {
				h := tx.Bucket(bucketHistory)
				b := h
				if d.bucket != nil {
					b = h.Bucket(d.bucket)
				}
				k, v := b.Cursor().First()
				if d.bucket == nil {
					k, v = keyHistoryStats, h.Get(keyHistoryStats)
				}
				nk, nv := d.damage(bytes.Clone(k), bytes.Clone(v))
				return b.Put(nk, nv)
			})
			if err != nil {
				t.Fatal(err)
			}
			var errs []error
			db.View(func(s *Snapshot) error {
				for range s.History(HistoryID{}) {
				}
				errs = append(errs, s.Err())
				s.err = nil
				for id := range s.HistoryOfOwner(IndexedOwner{Class: ClassLiteral, Name: "alice"}, HistoryID{}) {
					s.HistoryEntry(id)
				}
				errs = append(errs, s.Err())
				_, err := s.HistoryStats()
				errs = append(errs, err)
				_, err = s.Throughput()
				errs = append(errs, err)
				return nil
			})
			damaged := 0
			for _, err := range errs {
				if err != nil && !errors.Is(err, ErrDamaged) {
					t.Errorf("an error that does not say the file is damaged: %v", err)
				}
				if errors.Is(err, ErrDamaged) {
					damaged++
				}
			}
			if damaged == 0 {
				t.Errorf("no read reported the damage: %v", errs)
			}
		})
	}
}

// TestCheckReportsHistoryDamage damages each of the history's indexes and
// counts and requires Check to name the damage.
func TestCheckReportsHistoryDamage(t *testing.T) {
	alice := IndexedOwner{Class: ClassLiteral, Name: "alice"}
	// entryOf returns the key of job k's entry, through history/by-job.
	entryOf := func(h *bolt.Bucket, k Key) []byte {
		jk, ek := h.Bucket(bucketHistByJob).Cursor().Seek(appendKey(nil, k))
		if !bytes.HasPrefix(jk, appendKey(nil, k)) {
			t.Fatalf("no history/by-job entry for %s", k)
		}
		return bytes.Clone(ek)
	}
	damages := []struct {
		name   string
		damage func(h *bolt.Bucket) error
		want   string
	}{
		{"lost by-owner entry", func(h *bolt.Bucket) error {
			return h.Bucket(bucketHistByOwner).Delete(append(appendPostingPrefix(nil, alice), entryOf(h, Key{1, 0})...))
		}, `history entry of job 1.0 (left 1700000000): missing from history/by-owner under Owner "alice"`},
		{"entry filed under another owner", func(h *bolt.Bucket) error {
			carol := IndexedOwner{Class: ClassLiteral, Name: "carol"}
			return h.Bucket(bucketHistByOwner).Put(append(appendPostingPrefix(nil, carol), entryOf(h, Key{1, 0})...), []byte{})
		}, `history/by-owner: entry of job 1.0 filed under Owner "carol", its entry says "alice"`},
		{"by-owner entry of no entry", func(h *bolt.Bucket) error {
			return h.Bucket(bucketHistByOwner).Put(append(appendPostingPrefix(nil, alice), appendEntryKey(nil, 5, 99)...), []byte{})
		}, `history/by-owner: entry ` + fmt.Sprintf("%x", appendEntryKey(nil, 5, 99)) + ` of Owner "alice", which is not in the history`},
		{"malformed by-owner key", func(h *bolt.Bucket) error {
			return h.Bucket(bucketHistByOwner).Put([]byte{0x7f, 1}, []byte{})
		}, `history/by-owner: malformed key "\x7f\x01"`},
		{"by-owner key whose length wraps around", func(h *bolt.Bucket) error {
			k := binary.AppendUvarint(nil, math.MaxUint64-(entryKeyLen-6)+1) // + entryKeyLen is 6
			return h.Bucket(bucketHistByOwner).Put(append(k, "abcdef"...), []byte{})
		}, `history/by-owner: malformed key "\xf6\xff`},
		{"lost by-job entry", func(h *bolt.Bucket) error {
			return h.Bucket(bucketHistByJob).Delete(appendByJobKey(nil, Key{2, 0}, 1700000000))
		}, `history entry of job 2.0 (left 1700000100): missing from history/by-job`},
		{"by-job entry naming another job's entry", func(h *bolt.Bucket) error {
			return h.Bucket(bucketHistByJob).Put(appendByJobKey(nil, Key{2, 0}, 1700000000), entryOf(h, Key{1, 0}))
		}, `history/by-job: job 2.0 names the entry of job 1.0`},
		{"by-job entry of no entry", func(h *bolt.Bucket) error {
			return h.Bucket(bucketHistByJob).Put(appendByJobKey(nil, Key{7, 0}, 1), appendEntryKey(nil, 5, 99))
		}, `history/by-job: job 7.0 names entry ` + fmt.Sprintf("%x", appendEntryKey(nil, 5, 99)) + `, which is not in the history`},
		{"wrong stats", func(h *bolt.Bucket) error {
			return h.Put(keyHistoryStats, make([]byte, 16))
		}, "history stats: 0 entries of 0 bytes, want 2 of"},
		{"count below the entries kept", func(h *bolt.Bucket) error {
			return h.Bucket(bucketLeft).Put(leftKey(nil, LeftCompleted, alice), make([]byte, 8))
		}, `history count of completed jobs of Owner "alice": 0, but 1 entries are kept`},
		{"lost count", func(h *bolt.Bucket) error {
			return h.Bucket(bucketLeft).Delete(leftKey(nil, LeftRemoved, IndexedOwner{Class: ClassLiteral, Name: "bob"}))
		}, `history count of removed jobs of Owner "bob": missing, but 1 entries are kept`},
		{"histogram buckets beyond its count", func(h *bolt.Bucket) error {
			return h.Bucket(bucketDurations).Put([]byte("wall"), (&Histogram{Count: 0, Buckets: []uint64{3}}).encode())
		}, "history wall histogram: 3 observations in its buckets, more than its count 0"},
		{"damaged entry", func(h *bolt.Bucket) error {
			ek := entryOf(h, Key{1, 0})
			return h.Bucket(bucketEntries).Put(ek, []byte{entryFormat})
		}, "history entry "},
		{"lost bucket", func(h *bolt.Bucket) error {
			return h.DeleteBucket(bucketHistByJob)
		}, "history: no by-job bucket"},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			db, _ := openTemp(t)
			load(t, db, Position{Generation: Generation{Created: 1700000000}}, "new 0.0 Job")
			w := db.NewWriter(Limits{})
			apply(t, w, "new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 4",
				"set 1.0 RemoteWallClockTime 60.0", "set 1.0 CompletionDate 1700000000", "destroy 1.0",
				"new 2.-1 Job", `set 2.-1 Owner "bob"`, "new 2.0 Job", "set 2.0 JobStatus 3",
				"set 2.0 EnteredCurrentStatus 1700000100", "destroy 2.0")
			if err := w.Commit(context.Background(), Position{Generation: Generation{Created: 1700000000}}); err != nil {
				t.Fatal(err)
			}
			checkClean(t, db)
			if err := db.bolt.Update(func(tx *bolt.Tx) error { return d.damage(tx.Bucket(bucketHistory)) }); err != nil {
				t.Fatal(err)
			}
			var got []string
			db.View(func(s *Snapshot) error {
				n, err := s.Check(func(p string) { got = append(got, p) })
				if err != nil || n != len(got) {
					t.Errorf("Check = %d, %v after %d reports", n, err, len(got))
				}
				return nil
			})
			if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, d.want) }) {
				t.Errorf("reports %q\nwant one starting %q", got, d.want)
			}
		})
	}
}

// TestHistoryEntries reads entries by ID across several batches: in the
// order of the IDs, skipping IDs with no entry, stopping when the reader
// stops or at a damaged entry; and the prefetch of a batch advises every
// leaf that holds one of its entries.
func TestHistoryEntries(t *testing.T) {
	db, _ := openTemp(t)
	load(t, db, Position{}, "new 0.0 Job")
	w := db.NewWriter(Limits{})
	pad := `"` + strings.Repeat("p", 1500) + `"`
	for i := 1; i <= 300; i++ {
		c := fmt.Sprint(i)
		apply(t, w, "new "+c+".0 Job", `set `+c+`.0 Owner "u`+fmt.Sprint(i%3)+`"`, "set "+c+".0 JobStatus 4",
			"set "+c+".0 CompletionDate "+fmt.Sprint(1700000000+i), "set "+c+".0 Pad "+pad, "destroy "+c+".0")
	}
	if err := w.Commit(context.Background(), Position{}); err != nil {
		t.Fatal(err)
	}
	var ids, want []HistoryID // newest first; a missing ID after every seventh
	db.View(func(s *Snapshot) error {
		for e := range s.History(HistoryID{}) {
			ids, want = append(ids, e.ID()), append(want, e.ID())
			if len(want)%7 == 0 {
				ids = append(ids, HistoryAfter(e.ID().Left()+1000000))
			}
		}
		return s.Err()
	})
	read := func(s *Snapshot, stopAt int) []HistoryID {
		var got []HistoryID
		for e := range s.HistoryEntries(slices.Values(ids)) {
			if got = append(got, e.ID()); len(got) == stopAt {
				break
			}
		}
		return got
	}
	db.View(func(s *Snapshot) error {
		if got := read(s, -1); !slices.Equal(got, want) || s.Err() != nil {
			t.Errorf("read %d entries (%v), want the %d that exist", len(got), s.Err(), len(want))
		}
		if got := read(s, 50); !slices.Equal(got, want[:50]) {
			t.Errorf("a reader that stops after 50 got %d", len(got))
		}
		return nil
	})

	// Prefetch: every leaf holding an entry of the batch is advised.
	var advised [][2]int64
	ps := db.pages.pageSize
	db.pages.advise = func(_ *os.File, off, n int64) {
		advised = append(advised, [2]int64{off / int64(ps), (off+n)/int64(ps) - 1})
	}
	batch := []HistoryID{want[3], want[40], want[41], want[120], want[200], want[299]}
	batch = append(batch, want[250:260]...)
	db.View(func(s *Snapshot) error {
		s.prefetchHistory(batch)
		all := leaves(t, db.pages.f, ps, uint64(s.historyBucket(bucketEntries).Root()))
		if len(all) < 10 {
			t.Fatalf("the entries fill %d leaves: too few to test", len(all))
		}
		for _, id := range batch {
			i := slices.IndexFunc(all, func(l leafSpan) bool {
				return bytes.Compare(l.first, id[:]) <= 0 && bytes.Compare(id[:], l.last) <= 0
			})
			if i < 0 || !slices.ContainsFunc(advised, func(r [2]int64) bool { return int64(all[i].id) >= r[0] && int64(all[i].id) <= r[1] }) {
				t.Errorf("the leaf of entry %x was not advised (%v)", id, advised)
			}
		}
		return nil
	})

	// A damaged entry in the third batch stops the read there.
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHistory).Bucket(bucketEntries).Put(want[100][:], []byte{entryFormat})
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(s *Snapshot) error {
		if got := read(s, -1); !slices.Equal(got, want[:100]) || !errors.Is(s.Err(), ErrDamaged) {
			t.Errorf("read %d entries then %v, want the 100 before the damaged one, then ErrDamaged", len(got), s.Err())
		}
		return nil
	})
}

// TestLeavingRoundTrip checks the encoding a load sorts its departures in:
// every field comes back, and a short or malformed record is an error.
func TestLeavingRoundTrip(t *testing.T) {
	ad := appendAd(nil, Key{Cluster: 7, Proc: 3}, "Job", []Attr{{Name: "Owner", Value: `"alice"`}})
	tests := []leaving{
		{key: Key{Cluster: 7, Proc: 3}, left: 1700000000, status: IndexedStatus{Class: ClassLiteral, N: 4},
			owner: IndexedOwner{Class: ClassLiteral, Name: "alice"}, wall: 3600.5, wallOK: true, wait: 12, waitOK: true, ad: ad},
		{key: Key{Cluster: -1, Proc: -2}, left: -5, status: IndexedStatus{Class: ClassMissing},
			owner: IndexedOwner{Class: ClassOther}, unobserved: true, ad: ad},
		{key: Key{Cluster: 1, Proc: 0}, left: math.MaxInt64, status: IndexedStatus{Class: ClassLiteral, N: -3},
			owner: IndexedOwner{Class: ClassMissing}, ad: nil},
	}
	for _, want := range tests {
		enc := appendLeaving([]byte("prefix"), &want)[len("prefix"):]
		got, err := readLeaving(enc)
		if err != nil {
			t.Fatalf("%v: %v", want.key, err)
		}
		if !bytes.Equal(got.ad, want.ad) {
			t.Errorf("%v: ad %q, want %q", want.key, got.ad, want.ad)
		}
		header := len(enc) - len(want.ad)
		got.ad, want.ad = nil, nil
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("read back %+v, want %+v", got, want)
		}
		for n := range header {
			if _, err := readLeaving(enc[:n]); err == nil {
				t.Errorf("%v: the first %d of %d bytes read back without an error", want.key, n, header)
			}
		}
	}
	if _, err := readLeaving(bytes.Repeat([]byte{0xff}, 60)); err == nil {
		t.Error("a record of 0xff bytes read back without an error")
	}
}
