package ingest

import (
	"bytes"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
)

// chained returns the chained attributes of every job of db's queue, keyed
// by lower-cased name: what a job that leaves unobserved is recorded with.
func chained(t *testing.T, db *store.DB) map[store.Key]map[string]string {
	t.Helper()
	out := make(map[store.Key]map[string]string)
	err := db.View(func(s *store.Snapshot) error {
		for job := range s.Jobs(store.AllJobs[0], store.AllJobs[1]) {
			m := map[string]string{}
			for n, v := range job.All() {
				m[strings.ToLower(string(n))] = string(v)
			}
			out[job.Key] = m
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHistoryAcrossGenerations follows a generated queue through a first
// load of a log full of departures, tails, a compaction whose rotated file
// holds the records the daemon had not read, and one whose rotated file is
// gone: every job the model destroyed is in the history once, with its
// final ad, except those that left unseen, which are recorded as
// unobserved with the last ad seen, never as completed.
func TestHistoryAcrossGenerations(t *testing.T) {
	g := loggen.New(loggen.Config{Seed: 5, TargetJobs: 2000, Owners: 30})
	var first bytes.Buffer
	g.WriteQueue(&first, 1500, false)
	e := newEnv(t, first.String())
	sum := e.catchUp(store.Limits{Bytes: 64 << 10}) // a load in many runs
	if g.Left() == 0 {
		t.Fatal("the first log destroyed no job")
	}
	if sum.Load == nil || sum.Load.DepartureRuns < 3 {
		t.Fatalf("the first load did not sort its departures in several runs: %+v", sum.Load)
	}
	check := func(what string, seen map[store.Key]map[string]string) {
		t.Helper()
		var lastSeen func(store.Key) (map[string]string, bool)
		if seen != nil {
			lastSeen = func(k store.Key) (map[string]string, bool) { m, ok := seen[k]; return m, ok }
		}
		if err := e.db.View(func(s *store.Snapshot) error { return g.CompareHistorySeen(s, lastSeen) }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	check("first load", nil)

	var more bytes.Buffer
	g.Run(&more, 3000)
	e.append(more.String())
	e.catchUp(store.Limits{Records: 300})
	check("tail", nil)

	// The same generation loaded again from the start (its saved tail no
	// longer matches): its departures are already recorded.
	content, _ := os.ReadFile(e.log)
	e.write(string(content[:len(content)-1]) + " \n")
	if sum := e.catchUp(store.Limits{}); !sum.Reloaded {
		t.Fatal("a changed tail did not reload")
	}
	check("reload of the same log", nil)

	// A compaction the daemon did not see happen, with the rotated file.
	more.Reset()
	g.Run(&more, 3000)
	e.append(more.String())
	seq := strconv.Itoa(1)
	if err := os.Link(e.log, e.log+"."+seq); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	g.Compact(&snap)
	os.Remove(e.log) // a new inode, as the schedd's rename makes
	os.WriteFile(e.log, snap.Bytes(), 0o600)
	e.catchUp(store.Limits{})
	check("compaction with its rotated file", nil)

	// One without: the departures in between were never read.
	seen := chained(t, e.db)
	os.Remove(e.log + "." + seq)
	more.Reset()
	g.Run(&more, 3000)
	e.append(more.String())
	snap.Reset()
	g.Compact(&snap)
	os.Remove(e.log)
	os.WriteFile(e.log, snap.Bytes(), 0o600)
	e.catchUp(store.Limits{})
	check("compaction without its rotated file", seen)
	unobserved := 0
	e.db.View(func(s *store.Snapshot) error {
		for h := range s.History(store.HistoryID{}) {
			if h.Unobserved {
				unobserved++
			}
		}
		return nil
	})
	if unobserved == 0 {
		t.Error("no job left unobserved: the test did not hide any departure")
	}
}

// TestHistoryWaitsForTheTransaction checks that a 102 inside a transaction
// still open is not history, and is once the transaction commits.
func TestHistoryWaitsForTheTransaction(t *testing.T) {
	const head = "107 1 CreationTimestamp 1700000000\n" +
		"101 01.-1 Job Machine\n103 01.-1 Owner \"alice\"\n" +
		"101 1.0 Job Machine\n103 1.0 ProcId 0\n103 1.0 JobStatus 4\n103 1.0 CompletionDate 1700000500\n" +
		"103 1.0 ClaimId \"secret\"\n"
	e := newEnv(t, head)
	e.catchUp(store.Limits{})
	e.append("105 \n102 1.0\n")
	e.catchUp(store.Limits{})
	entries := func() []store.HistoryEntry {
		var out []store.HistoryEntry
		e.db.View(func(s *store.Snapshot) error {
			for h := range s.History(store.HistoryID{}) {
				h.Ad = append(store.Ad(nil), h.Ad...)
				out = append(out, h)
			}
			return s.Err()
		})
		return out
	}
	if got := entries(); len(got) != 0 {
		t.Fatalf("an open transaction's 102 is history: %v", got)
	}
	e.append("106 \n")
	e.catchUp(store.Limits{})
	got := entries()
	if len(got) != 1 {
		t.Fatalf("%d entries after the 106, want 1", len(got))
	}
	h := got[0]
	if h.Key != (store.Key{Cluster: 1}) || h.Left != 1700000500 || h.How() != store.LeftCompleted || h.Created != 1700000000 {
		t.Errorf("entry %v left %d (%s), queue %d; want 1.0 at 1700000500, completed, queue 1700000000", h.Key, h.Left, h.How(), h.Created)
	}
	attrs := map[string]string{}
	for n, v := range h.Job().All() {
		attrs[string(n)] = string(v)
	}
	if want := map[string]string{"CompletionDate": "1700000500", "JobStatus": "4", "Owner": `"alice"`, "ProcId": "0"}; !maps.Equal(attrs, want) {
		t.Errorf("entry's ad %v, want %v (the cluster's Owner, no secret)", attrs, want)
	}
}

// TestHistoryRetentionAgainstTheModel prunes the history of a generated
// queue to the newer half of its departures, then tails more of the log
// and prunes again: each time, the history holds exactly the jobs the
// model destroyed that left after the cutoff, each with its final ad.
func TestHistoryRetentionAgainstTheModel(t *testing.T) {
	g := loggen.New(loggen.Config{Seed: 9, TargetJobs: 1500, Owners: 40, Left: 400})
	var first bytes.Buffer
	g.WriteQueue(&first, 1200, false)
	e := newEnv(t, first.String())
	e.catchUp(store.Limits{Bytes: 64 << 10})
	prune := func(what string) {
		t.Helper()
		var lefts []int64
		e.db.View(func(s *store.Snapshot) error {
			for h := range s.History(store.HistoryID{}) {
				lefts = append(lefts, h.Left)
			}
			return s.Err()
		})
		if len(lefts) < 100 {
			t.Fatalf("%s: only %d entries", what, len(lefts))
		}
		cutoff := lefts[len(lefts)/2] // newest first: the median
		const age = 24 * time.Hour
		n, err := e.db.PruneHistory(time.Unix(cutoff, 0).Add(age), store.Retention{Age: age})
		if err != nil || n == 0 {
			t.Fatalf("%s: pruned %d, %v", what, n, err)
		}
		if err := e.db.View(func(s *store.Snapshot) error { return g.CompareHistoryPruned(s, cutoff) }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		checkIndexes(t, e.db)
	}
	prune("after the first load")

	var more bytes.Buffer
	g.Run(&more, 4000)
	e.append(more.String())
	e.catchUp(store.Limits{Records: 500})
	prune("after a tail")
}
