package ingest

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
)

// TestReplayMatchesGeneratorTruth replays thousands of generated jobs, written
// in arbitrary byte chunks with catch-ups in between, through several
// compactions (a new file renamed over the log, loaded again in small sorted
// runs), and requires the db to equal the generator's truth, ad by ad and
// attribute by attribute.
func TestReplayMatchesGeneratorTruth(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		g := loggen.New(loggen.Config{Seed: seed, TargetJobs: 3000, Owners: 40})
		e := newEnv(t, "")
		e.lateCheck = true // after each round, not after each of hundreds of catch-ups
		rng := rand.New(rand.NewPCG(seed, 7))
		var pending bytes.Buffer
		g.Begin(&pending)
		flushChunks := func() {
			for pending.Len() > 0 {
				n := min(pending.Len(), 1+rng.IntN(40000))
				e.append(string(pending.Next(n)))
				if sum := e.catchUp(store.Limits{Records: 1 + rng.IntN(5000)}); sum.Corrupt != 0 {
					t.Fatalf("seed %d: the generator wrote %d corrupt records", seed, sum.Corrupt)
				}
			}
		}
		for round := range 6 {
			g.Run(&pending, 4000)
			flushChunks()
			checkIndexes(t, e.db)
			if round%2 == 1 {
				var snap bytes.Buffer
				g.Compact(&snap)
				tmp := e.log + ".tmp"
				os.WriteFile(tmp, snap.Bytes(), 0o600)
				if err := os.Rename(tmp, e.log); err != nil {
					t.Fatal(err)
				}
				// Small sort runs: the load spills and merges dozens.
				sum := e.catchUp(store.Limits{Bytes: 16<<10 + rng.IntN(256<<10)})
				if !sum.Reloaded {
					t.Fatalf("seed %d: compaction did not reload", seed)
				}
				checkIndexes(t, e.db)
			}
		}
		if g.Jobs() < 1000 {
			t.Fatalf("seed %d: generator made only %d jobs", seed, g.Jobs())
		}
		want, got := g.Truth(), e.state()
		if got != want {
			t.Errorf("seed %d: replay differs from the generator's truth:\n%s", seed, firstDiff(got, want))
		}
		compareJobs(t, e.db, g)
		if g.Left() < 500 {
			t.Fatalf("seed %d: the generator destroyed only %d jobs", seed, g.Left())
		}
	}
}

// compareJobs checks every job as queries see it (cluster ad overlaid by
// the job's own, through store.Job) against the model's chained attributes.
func compareJobs(t *testing.T, db *store.DB, g *loggen.Generator) {
	t.Helper()
	if err := db.View(g.CompareJobs); err != nil {
		t.Fatal(err)
	}
	if err := db.View(g.CompareHistory); err != nil {
		t.Fatal(err)
	}
}

func firstDiff(got, want string) string {
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got  " + gl[i] + "\n want " + wl[i]
		}
	}
	return "lengths differ: got " + strconv.Itoa(len(gl)) + " lines, want " + strconv.Itoa(len(wl))
}
