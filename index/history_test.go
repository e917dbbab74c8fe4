package index

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/qindex/qindex/store"
)

func runHistory(t *testing.T, db *store.DB, sel HistorySelection, o RunOptions) ([]string, Stats) {
	t.Helper()
	var keys []string
	var st Stats
	err := db.View(func(s *store.Snapshot) error {
		var err error
		st, err = sel.Run(context.Background(), s, NewEnv(1763900000), o, func(e store.HistoryEntry) error {
			keys = append(keys, e.Key.String())
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, st
}

// TestHistoryIndexedAnswerEqualsScan runs hundreds of generated history
// selections (owners, clusters, jobs, constraints, time bounds, -since a
// job, limits) and requires the answer through the history's indexes to be
// the scan's, entry for entry and in order.
func TestHistoryIndexedAnswerEqualsScan(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		db, owners := propertyQueue(t, seed, false)
		var left []store.HistoryEntry
		db.View(func(s *store.Snapshot) error {
			for e := range s.History(store.HistoryID{}) {
				left = append(left, store.HistoryEntry{Key: e.Key, Left: e.Left})
			}
			return s.Err()
		})
		if len(left) < 50 {
			t.Fatalf("seed %d: only %d jobs in the history", seed, len(left))
		}
		g := &constraintGen{rng: rand.New(rand.NewPCG(seed, 77)), owners: owners}
		indexed, matched := 0, 0
		for i := range 400 {
			constraint := ""
			if i%3 == 1 {
				constraint = g.expr(g.rng.IntN(3))
			}
			args := g.args()
			if i%5 == 0 { // a cluster and a job that are in the history
				e := left[g.rng.IntN(len(left))]
				args = append(args, e.Key.String(), strconv.FormatInt(left[g.rng.IntN(len(left))].Key.Cluster, 10))
			}
			q, err := parseSelection(args, constraint)
			if err != nil {
				t.Fatal(err)
			}
			sel := HistorySelection{Owners: q.Owners, Clusters: q.Clusters, Jobs: q.Jobs, Constraint: q.Constraint}
			switch i % 7 {
			case 2:
				sel.From = store.HistoryAfter(left[g.rng.IntN(len(left))].Left)
			case 4:
				k := left[g.rng.IntN(len(left))].Key
				sel.SinceJob = &k
			}
			o := RunOptions{}
			if i%6 == 5 {
				o.Limit = 1 + g.rng.IntN(5)
			}
			got, st := runHistory(t, db, sel, o)
			o.NoIndex = true
			want, _ := runHistory(t, db, sel, o)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d: %+v\nplan %s\nindexed: %v\nscan:    %v", seed, sel, st.Plan, got, want)
			}
			if st.Candidates >= 0 {
				indexed++
			}
			if len(got) > 0 {
				matched++
			}
		}
		if indexed < 100 || matched < 100 {
			t.Errorf("seed %d: %d of 400 selections used an index, %d matched entries", seed, indexed, matched)
		}
	}
}
