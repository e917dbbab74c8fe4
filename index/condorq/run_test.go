package condorq

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/store"
	"github.com/qindex/qindex/store/storetest"
)

// fixtureDB replays testdata/<name> into a new database.
func fixtureDB(t *testing.T, name string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "q.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := ingest.CatchUp(context.Background(), db, ingest.Options{Log: filepath.Join("..", "..", "testdata", name), Logger: logger}); err != nil {
		t.Fatal(err)
	}
	return db
}

// query runs a condor_q command line against db with at most maxBuffer
// bytes of rows kept.
func query(t *testing.T, db *store.DB, maxBuffer int, args ...string) (string, error) {
	t.Helper()
	q, err := Parse(args, CondorDefaults)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = db.View(func(s *store.Snapshot) error {
		_, err := Run(context.Background(), s, q, Options{Now: 1763830000, Location: time.UTC, DB: "q.db", MaxBuffer: maxBuffer}, &out, io.Discard)
		return err
	})
	return out.String(), err
}

// TestRowsPastTheBuffer: a per-job view with more rows than it may keep
// reads the jobs twice and prints what it prints when it keeps them all.
func TestRowsPastTheBuffer(t *testing.T) {
	for _, fixture := range []string{"queue.log", "condorq.log"} {
		db := fixtureDB(t, fixture)
		for _, view := range [][]string{{"-nobatch"}, {"-run"}, {"-idle"}, {"-hold"}, {"-io"}, {"-nobatch", "-cputime", "-wide:60"}} {
			args := append([]string{"-allusers"}, view...)
			kept, err := query(t, db, 0, args...)
			if err != nil {
				t.Fatal(err)
			}
			streamed, err := query(t, db, 1, args...)
			if err != nil || streamed != kept {
				t.Errorf("%s %v: %v; streamed:\n%s\nkept:\n%s", fixture, args, err, streamed, kept)
			}
		}
		for _, view := range [][]string{{"-nobatch", "-dag"}, {"-batch"}} {
			if _, err := query(t, db, 1, append([]string{"-allusers"}, view...)...); err == nil || !strings.Contains(err.Error(), "narrow the query") {
				t.Errorf("%s: %v past the buffer: %v", fixture, view, err)
			}
		}
	}
}

// olderCopy copies the database db to a file of the older schema version
// "11" with no indexes, and opens it as the daemon does while it rebuilds
// such a file after an upgrade.
func olderCopy(t *testing.T, db *store.DB) *store.DB {
	t.Helper()
	b, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "older.db")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	storetest.MakeOlder(t, path, "11")
	older, err := store.Open(path, store.Options{ReadOnly: true, Older: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { older.Close() })
	return older
}

// TestAnOlderSchemaAnswersAlike: a file of an older schema, read without
// its indexes while the daemon rebuilds it, gives every query the answer
// the indexed file gives, totals lines included.
func TestAnOlderSchemaAnswersAlike(t *testing.T) {
	queries := [][]string{
		{"-allusers"}, {"-allusers", "-totals"}, {"-allusers", "-nobatch"}, {"-allusers", "-hold"},
		{"-allusers", "-run"}, {"-allusers", "-idle"}, {"-allusers", "-dag", "-nobatch"},
		{"-allusers", "-af", "ClusterId", "ProcId", "Owner", "JobStatus"},
		{"-allusers", "-constraint", "JobStatus == 2", "-af", "ClusterId", "ProcId"},
		{"-allusers", "-constraint", "JobStatus =!= 1 && ImageSize > 1000"},
		{"-allusers", "-long", "2"},
	}
	for _, fixture := range []string{"queue.log", "condorq.log"} {
		db := fixtureDB(t, fixture)
		var owners []string
		db.View(func(s *store.Snapshot) error {
			for c := range s.Counts() {
				if c.Owner.Class == store.ClassLiteral {
					owners = append(owners, c.Owner.Name)
				}
			}
			return s.Err()
		})
		if len(owners) == 0 {
			t.Fatalf("%s: no owner to query", fixture)
		}
		qs := append(slices.Clone(queries), []string{owners[0]}, []string{owners[len(owners)-1], "-totals"})
		older := olderCopy(t, db)
		for _, args := range qs {
			want, err := query(t, db, 0, args...)
			if err != nil {
				t.Fatalf("%s %v: %v", fixture, args, err)
			}
			got, err := query(t, older, 0, args...)
			if err != nil || got != want {
				t.Errorf("%s %v on the older file: %v\n%s\nwant:\n%s", fixture, args, err, got, want)
			}
		}
	}
}
