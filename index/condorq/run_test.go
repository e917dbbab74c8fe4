package condorq

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/store"
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
