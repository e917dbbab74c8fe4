package store

import (
	"errors"
	"fmt"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// bigDB writes a closed database of a few hundred jobs over many pages and
// returns its path.
func bigDB(t *testing.T) string {
	t.Helper()
	db, path := openTemp(t)
	var ops []string
	for c := 1; c <= 300; c++ {
		ops = append(ops, fmt.Sprintf("new 0%d.-1 Job", c), fmt.Sprintf(`set 0%d.-1 Owner "u%d"`, c, c%7))
		for p := range 3 {
			k := fmt.Sprintf("%d.%d", c, p)
			ops = append(ops, "new "+k+" Job", "set "+k+" JobStatus 1", fmt.Sprintf(`set %s Cmd "/bin/%0200d"`, k, c))
		}
	}
	load(t, db, Position{Offset: 10}, ops...)
	if err := checkAll(db); err != nil {
		t.Fatalf("intact file: %v", err)
	}
	db.Close()
	return path
}

// checkAll runs what qindex check runs, CheckPages then Check, and returns
// an error wrapping ErrDamaged if either reports a problem.
func checkAll(db *DB) error {
	var first string
	report := func(p string) {
		if first == "" {
			first = p
		}
	}
	n, err := db.CheckPages(report)
	if err == nil && n == 0 {
		err = db.View(func(s *Snapshot) error {
			if !s.Loaded() {
				return nil
			}
			n, err = s.Check(report)
			return err
		})
	}
	switch {
	case err != nil:
		return err
	case n > 0:
		return fmt.Errorf("%w: %d problems, the first: %s", ErrDamaged, n, first)
	}
	return nil
}

// leafPages returns the ids of the file's leaf pages.
func leafPages(t *testing.T, path string) (ids []int, pageSize int, used int64) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.View(func(tx *bolt.Tx) error {
		used = tx.Size()
		for id := 2; ; id++ {
			p, err := tx.Page(id)
			if err != nil || p == nil {
				return err
			}
			if p.Type == "leaf" {
				ids = append(ids, id)
			}
		}
	})
	return ids, b.Info().PageSize, used
}

// TestCheckFindsDamage damages a file as a power loss with unsynced writes
// can (pages never written, a file cut short) and requires Open or
// CheckPages and Check to report ErrDamaged, without crashing.
func TestCheckFindsDamage(t *testing.T) {
	zeroPage := func(pick func(ids []int) int) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			ids, ps, _ := leafPages(t, path)
			if len(ids) < 3 {
				t.Fatalf("only %d leaf pages", len(ids))
			}
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			defer f.Close()
			f.WriteAt(make([]byte, ps), int64(pick(ids)*ps))
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"first leaf page zeroed", zeroPage(func(ids []int) int { return ids[0] })},
		{"middle leaf page zeroed", zeroPage(func(ids []int) int { return ids[len(ids)/2] })},
		{"last leaf page zeroed", zeroPage(func(ids []int) int { return ids[len(ids)-1] })},
		{"second half zeroed", func(t *testing.T, path string) {
			_, _, used := leafPages(t, path)
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			defer f.Close()
			f.WriteAt(make([]byte, used/2), used/2)
		}},
		{"cut to half", func(t *testing.T, path string) {
			_, _, used := leafPages(t, path)
			os.Truncate(path, used/2)
		}},
		{"meta pages zeroed", func(t *testing.T, path string) {
			_, ps, _ := leafPages(t, path)
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			defer f.Close()
			hdr := make([]byte, 20)
			f.ReadAt(hdr, 0)
			f.WriteAt(make([]byte, 2*ps-20), 20) // keep the first page's magic
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := bigDB(t)
			tt.damage(t, path)
			db, err := Open(path, Options{})
			if err == nil {
				err = checkAll(db)
				db.Close()
			}
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("got %v, want ErrDamaged", err)
			}
			t.Log(err)
		})
	}
}
