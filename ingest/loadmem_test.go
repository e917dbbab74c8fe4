package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
)

// TestLoadMemoryStaysBounded loads a queue whose (Owner, JobStatus) buckets
// hold enough jobs to have pages of their own: the case in which every one
// of a load's transactions once rewrote a page of nearly every bucket, and
// bbolt held pages in proportion to the queue. What the load holds must
// stay within its limits: each transaction's pages, the queued filings and
// the runs' read buffers.
func TestLoadMemoryStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a 40,000-job queue")
	}
	const jobs = 40000
	limits := store.Limits{Bytes: 4 << 20}
	log, _, db := largeQueue(t, jobs)
	sum, err := CatchUp(context.Background(), db, Options{Log: log, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	st := sum.Load
	if st == nil || st.Jobs < jobs || st.Runs < 4 || st.PairsFlushed < 2 {
		t.Fatalf("the load did not exercise the bounds: %+v", st)
	}
	t.Logf("%+v", *st)
	for _, c := range []struct {
		what       string
		got, limit int64
	}{
		{"bytes of pages in one transaction", st.PeakTxPages, int64(limits.Bytes) / 2},
		// A flush is due at an eighth, checked after each chunk of ads.
		{"bytes of queued (Owner, JobStatus) filings", int64(st.PeakPairQueue), int64(limits.Bytes) / 4},
		{"bytes of the runs' read buffers", int64(st.ReadBuffers), int64(limits.Bytes) / 8},
	} {
		if c.got > c.limit {
			t.Errorf("%s: %d, more than %d", c.what, c.got, c.limit)
		}
	}
}

// TestWriterMemoryStaysBounded tails a queue whose changes are spread over
// many pages: each one then rewrites pages of its own (its ad's, its
// filings'), which bbolt holds until the commit, beyond the ads the Writer
// holds itself. The Writer once counted one page per ad and nothing for
// the indexes, so on a large queue a commit held several times its limit.
// Its commits' pages must stay within its limits.
func TestWriterMemoryStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a 40,000-job queue")
	}
	const jobs = 40000
	limits := store.Limits{Bytes: 4 << 20, Delay: time.Hour} // commits by size alone: the same every run
	log, g, db := largeQueue(t, jobs)
	if _, err := CatchUp(context.Background(), db, Options{Log: log, Limits: limits}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Run(f, 10000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err := CatchUp(context.Background(), db, Options{Log: log, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	st := sum.Write
	if sum.Reloaded || st == nil || st.Commits < 100 || sum.Jobs < jobs*3/4 {
		t.Fatalf("the tail did not exercise the bound: %+v, %+v", sum, st)
	}
	t.Logf("%+v", *st)
	// A commit's pages are half of what it is counted to hold (the other
	// half: bbolt's nodes), and vary around it.
	if st.PeakTxPages > int64(limits.Bytes) {
		t.Errorf("a commit's pages took %d bytes, more than the %d of the limit", st.PeakTxPages, limits.Bytes)
	}
}

// largeQueue writes the log of a generated queue of at least jobs jobs
// among 100 owners, and opens an empty database for it; the generator can
// go on writing to the log.
func largeQueue(t *testing.T, jobs int) (log string, g *loggen.Generator, db *store.DB) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "job_queue.log")
	g = loggen.New(loggen.Config{Seed: 5, TargetJobs: jobs + jobs/5, Owners: 100})
	if err := g.WriteQueueFile(log, jobs, false); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "q.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return log, g, db
}

// TestChurnLoadMemoryStaysBounded loads a log in which fifty times more
// jobs come and go than the queue holds. The history is keyed by when jobs
// left, the load meets them in key order: each departure of a transaction
// dirties a leaf of entries of its own, and a leaf of the index by owner
// per owner, which bbolt holds until the commit. The load once counted
// only the departures' ads: here 2.6 MB of pages in a transaction against
// the 1 MiB its limit allows; 1M departures took 1.6x as long, the heap
// pinned at its soft limit.
func TestChurnLoadMemoryStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 jobs leave")
	}
	limits := store.Limits{Bytes: 2 << 20}
	dir := t.TempDir()
	log := filepath.Join(dir, "job_queue.log")
	g := loggen.New(loggen.Config{Seed: 5, TargetJobs: 600, Owners: 1000, Left: 30000, ForgetLeft: true})
	if err := g.WriteQueueFile(log, 500, false); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "q.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sum, err := CatchUp(context.Background(), db, Options{Log: log, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	st := sum.Load
	if st == nil || g.Left() < 30000 {
		t.Fatalf("the load did not exercise the bound: %+v, %d left", st, g.Left())
	}
	t.Logf("%+v", *st)
	if st.PeakTxPages > int64(limits.Bytes)/2 {
		t.Errorf("bytes of pages in one transaction: %d, more than %d", st.PeakTxPages, limits.Bytes/2)
	}
	checkIndexes(t, db)
}
