package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// cancelAfter is a context whose Err reports cancellation from its n-th
// call on, to stop a Finish between two of its commits.
type cancelAfter struct {
	context.Context
	n int
}

func (c *cancelAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestAbandonedLoadIsInvisible stops a load after it has committed part of
// its ads and requires readers to keep the old state, Target to report the
// unfinished reload without a position, no file to be left behind, and the
// next load to start from an empty state.
func TestAbandonedLoadIsInvisible(t *testing.T) {
	db, path := openTemp(t)
	load(t, db, Position{Offset: 10}, "new 1.0 Job", "set 1.0 A 1")

	loadFrom := func(ctx context.Context, from int) error {
		l, err := db.NewLoader(Limits{Records: 500, Bytes: 8 << 10}) // spill every 500 operations, commit every 2 KiB
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for i := from; i < 20000; i++ {
			k := "2." + strconv.Itoa(i)
			apply(t, l, "new "+k+" Job", "set "+k+" B "+strconv.Itoa(i))
		}
		err = l.Commit(ctx, Position{Offset: 99})
		// The runs are still open, unlinked.
		if files := tempFiles(t, filepath.Dir(path)); len(files) != 0 {
			t.Errorf("spilled runs visible in the directory: %v", files)
		}
		return err
	}
	if err := loadFrom(&cancelAfter{context.Background(), 2}, 0); err != context.Canceled {
		t.Fatalf("Finish with a cancelled context: %v", err)
	}
	if got := dump(t, db); got != "1.0: A=1\n" {
		t.Errorf("after an abandoned load readers see %.80q, want the old state", got)
	}
	tg, err := db.Target()
	if err != nil || !tg.Reloading || tg.Position.Offset != 10 {
		t.Errorf("Target after an abandoned load = %+v, %v; want the old state and an unfinished reload", tg, err)
	}
	var partial int
	db.bolt.View(func(tx *bolt.Tx) error {
		name := tx.Bucket(bucketMeta).Get(keyLoading)
		partial = tx.Bucket(name).Bucket(bucketAds).Stats().KeyN
		return nil
	})
	if partial == 0 {
		t.Fatal("the abandoned load committed nothing: the test does not stop it between commits")
	}
	if files := tempFiles(t, filepath.Dir(path)); len(files) != 0 {
		t.Errorf("files left behind: %v", files)
	}

	if err := loadFrom(context.Background(), 19998); err != nil {
		t.Fatal(err)
	}
	if got, want := dump(t, db), "2.19998: B=19998\n2.19999: B=19999\n"; got != want {
		t.Errorf("after a new load: %q, want %q", got, want)
	}
	db.View(func(s *Snapshot) error {
		if p, _ := s.Position(); p.Offset != 99 || s.JobCount() != 2 {
			t.Errorf("position %+v, %d jobs; want offset 99, 2 jobs", p, s.JobCount())
		}
		return nil
	})
	db.bolt.View(func(tx *bolt.Tx) error {
		n := 0
		tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if !bytes.Equal(name, bucketHistory) { // job 1.0 left unobserved
				n++
			}
			return nil
		})
		if n != 2 {
			t.Errorf("%d top-level buckets besides history, want meta and one state", n)
		}
		return nil
	})
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "q.db" {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestLoaderLargeValuesAndBadKeys(t *testing.T) {
	db, _ := openTemp(t)
	l, err := db.NewLoader(Limits{Records: 2, Bytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := `"` + strings.Repeat("x", 3*chunkSize) + `"`
	apply(t, l, "new 1.0 Job", "set 1.0 Big "+big, "set 1.0 Small 1", "new 1.1 Job", "set 1.1 Big "+big)
	if err := l.SetAttr(Key{Cluster: 1 << 40, Proc: 0}, []byte("A"), []byte("1")); err == nil || !strings.Contains(err.Error(), "1099511627776.0") {
		t.Errorf("SetAttr on a key out of 32-bit range: %v, want an error naming the key", err)
	}
	if err := l.Commit(context.Background(), Position{}); err != nil {
		t.Fatal(err)
	}
	want := "1.0: Big=" + big + " Small=1\n1.1: Big=" + big + "\n"
	if got := dump(t, db); got != want {
		t.Errorf("large values did not survive spilling and merging (got %d bytes, want %d)", len(got), len(want))
	}
}

// TestSpillFailure removes the directory the runs spill to: the load must
// fail with an error that says so, at the latest at Finish, and never
// finish without the lost runs.
func TestSpillFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "q.db")
	os.Mkdir(filepath.Dir(path), 0o700)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := db.NewLoader(Limits{Records: 10, Bytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.RemoveAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	var addErr error
	for i := 0; i < 1000 && addErr == nil; i++ {
		addErr = l.NewAd(Key{1, int64(i)}, "Job")
	}
	finishErr := l.Commit(context.Background(), Position{})
	for _, err := range []error{addErr, finishErr} {
		if err != nil && !strings.Contains(err.Error(), "spill") {
			t.Errorf("error %q does not say that a run could not be spilled", err)
		}
	}
	if finishErr == nil {
		t.Error("Finish succeeded although runs were lost")
	}
}

// TestLoadCutShortInItsHistory stops a load while it writes the jobs its
// log saw leave (some of their entries committed, the state not yet
// promoted) and loads again: the history ends with every job once, at the
// time it left, as one uninterrupted load records it.
func TestLoadCutShortInItsHistory(t *testing.T) {
	const jobs = 5000
	var ops []string
	for i := range jobs {
		k := "1." + strconv.Itoa(i)
		left := 1_700_000_000 + (i*7919)%jobs // met by job, left in another order
		ops = append(ops, "new "+k+" Job", "set "+k+` Owner "u`+strconv.Itoa(i%2)+`"`, "set "+k+" JobStatus 4",
			"set "+k+" CompletionDate "+strconv.Itoa(left), "destroy "+k)
	}
	loadWith := func(db *DB, ctx context.Context) error {
		l, err := db.NewLoader(Limits{Records: 2000, Bytes: 256 << 10}) // departures in runs of 16 KiB, written 64 KiB a transaction
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		apply(t, l, ops...)
		return l.Commit(ctx, Position{Offset: 99})
	}
	history := func(db *DB) map[Key]int64 {
		got := make(map[Key]int64)
		err := db.View(func(s *Snapshot) error {
			for e := range s.History(HistoryID{}) {
				if _, dup := got[e.Key]; dup {
					t.Errorf("job %v is in the history twice", e.Key)
				}
				got[e.Key] = e.Left
			}
			return s.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for n := 0; n < 40; n++ {
		db, _ := openTemp(t)
		if err := loadWith(db, &cancelAfter{context.Background(), n}); !errors.Is(err, context.Canceled) {
			if err != nil {
				t.Fatal(err)
			}
			break // the load ran to its end: no stop met its history half written
		}
		partial := len(history(db))
		if partial == 0 || partial == jobs {
			continue
		}
		t.Logf("stopped at the %d-th check with %d of %d entries written", n, partial, jobs)
		if err := loadWith(db, context.Background()); err != nil {
			t.Fatal(err)
		}
		got := history(db)
		if len(got) != jobs {
			t.Fatalf("stopped at the %d-th check, then loaded again: %d jobs in the history, want %d", n, len(got), jobs)
		}
		for i := range jobs {
			if want := int64(1_700_000_000 + (i*7919)%jobs); got[Key{Cluster: 1, Proc: int64(i)}] != want {
				t.Fatalf("job 1.%d left at %d, want %d", i, got[Key{Cluster: 1, Proc: int64(i)}], want)
			}
		}
		return
	}
	t.Fatal("no stop of the load left its history half written: the test does not reach the departures")
}
