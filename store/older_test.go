package store

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qindex/qindex/store/storetest"
)

// TestOlderSchemaIsReadWithoutIndexes: a file of an older schema whose
// indexes alone differ is refused by default, and read with Options.Older:
// its ads, position and job count as they are, every read of its indexes
// failing rather than answering empty.
func TestOlderSchemaIsReadWithoutIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	load(t, db, Position{Offset: 42},
		"new 0.0 Scheduler", "set 0.0 Name \"schedd\"",
		"new 01.-1 Job", "set 01.-1 Owner \"alice\"", "set 01.-1 JobStatus 1",
		"new 1.0 Job", "set 1.0 JobStatus 2",
		"new 1.1 Job", "set 1.1 JobStatus 5", "set 1.1 HoldReason \"disk\"",
		"new 1.2 Job",
		"new 02.-1 Job", "set 02.-1 Owner \"bob\"",
		"new 2.0 Job", "set 2.0 JobStatus 4")
	want := dump(t, db)
	db.Close()
	storetest.MakeOlder(t, path, "11")

	for _, o := range []Options{{}, {ReadOnly: true}, {Older: true}} {
		var se *SchemaError
		if _, err := Open(path, o); !errors.As(err, &se) || se.Found != "11" || !se.Older {
			t.Errorf("open with %+v: %v", o, err)
		}
	}
	db, err = Open(path, Options{ReadOnly: true, Older: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Schema() != "11" {
		t.Errorf("Schema() = %q", db.Schema())
	}
	if got := dump(t, db); got != want {
		t.Errorf("ads read from the older file:\n%s\nwant:\n%s", got, want)
	}
	err = db.View(func(s *Snapshot) error {
		if s.Indexed() || !s.Loaded() {
			t.Errorf("Indexed %v, Loaded %v", s.Indexed(), s.Loaded())
		}
		if pos, err := s.Position(); err != nil || pos.Offset != 42 {
			t.Errorf("position %+v, %v", pos, err)
		}
		if n := s.JobCount(); n != 4 {
			t.Errorf("JobCount %d, want 4", n)
		}
		var keys []string
		for j := range s.Jobs(AllJobs[0], AllJobs[1]) {
			o, _ := j.Lookup("Owner")
			keys = append(keys, j.Key.String()+"="+string(o))
		}
		if w := []string{"1.0=\"alice\"", "1.1=\"alice\"", "1.2=\"alice\"", "2.0=\"bob\""}; !slices.Equal(keys, w) {
			t.Errorf("jobs %v, want %v", keys, w)
		}
		if a, ok := s.Ad(Key{Cluster: 1, Proc: 1}); !ok || !hasAttr(a, "HoldReason", `"disk"`) {
			t.Errorf("Ad(1.1) = %v, %v", a, ok)
		}
		if _, ok := s.Ad(Key{Cluster: 1, Proc: 7}); ok {
			t.Error("Ad(1.7) found a job that is not there")
		}
		if s.Err() != nil {
			t.Fatalf("reads of the ads: %v", s.Err())
		}
		for name, read := range map[string]func() int{
			"JobsByOwner":  func() int { return countRefs(s.JobsByOwner(IndexedOwner{Class: ClassLiteral, Name: "alice"})) },
			"JobsByStatus": func() int { return countRefs(s.JobsByStatus(literalStatus(statusRunning))) },
			"StatusCounts": func() int {
				n := 0
				for range s.StatusCounts() {
					n++
				}
				return n
			},
			"JobKeys": func() int { return countRefs(s.JobKeys(AllJobs[0], AllJobs[1])) },
		} {
			s.err = nil
			if n := read(); n != 0 || s.Err() == nil || !strings.Contains(s.Err().Error(), "schema 11") {
				t.Errorf("%s on the older file: %d, err %v", name, n, s.Err())
			}
		}
		s.err = nil
		if _, err := s.Check(func(string) {}); err == nil || !strings.Contains(err.Error(), "rebuilds it") {
			t.Errorf("Check on the older file: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A schema that changed more than the indexes stays refused.
	db.Close()
	storetest.MakeOlder(t, path, "10")
	var se *SchemaError
	if _, err := Open(path, Options{ReadOnly: true, Older: true}); !errors.As(err, &se) || se.Older {
		t.Errorf("open of schema 10 with Older: %v", err)
	}
}

func hasAttr(a Ad, name, value string) bool {
	v, ok := a.Lookup(name)
	return ok && string(v) == value
}

func countRefs(refs func(func(JobRef) bool)) int {
	n := 0
	for range refs {
		n++
	}
	return n
}
