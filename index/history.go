package index

import (
	"context"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/qindex/qindex/store"
)

// HistorySelection is what condor_history's arguments select from the
// history: the entries that match any of the owners, cluster ids or job
// ids (every entry when there are none) and the constraint, newest first,
// from the newest down to the first that -since excludes.
type HistorySelection struct {
	Owners     []string
	Clusters   []int64
	Jobs       []store.Key
	Constraint *Expr
	// From keeps only the entries whose ID is at least it (a time bound:
	// store.HistoryAfter).
	From store.HistoryID
	// SinceJob, if set, keeps only the entries newer than that job's.
	SinceJob *store.Key
	// Since, if set, stops at the first entry for which it is true; only a
	// scan of the whole history can tell which that is.
	Since *Expr
	// ScanLimit stops after reading this many entries (0: no limit).
	ScanLimit int
}

// Run calls fn for each selected entry, newest first, stopping after
// o.Limit entries when it is positive, at fn's first error, or soon after
// ctx ends. The indexes (by owner, by job) only choose the candidates:
// each is tested against the arguments and the constraint, exactly as a
// scan tests every entry.
func (s HistorySelection) Run(ctx context.Context, snap *store.Snapshot, env *Env, o RunOptions, fn func(store.HistoryEntry) error) (Stats, error) {
	start := time.Now()
	from := s.From
	if s.SinceJob != nil {
		if ids := snap.HistoryOfJobs(*s.SinceJob, *s.SinceJob); len(ids) > 0 && ids[0].Next().Compare(from) > 0 {
			from = ids[0].Next()
		}
	}
	args := Selection{Owners: s.Owners, Clusters: s.Clusters, Jobs: s.Jobs}
	indexed := !o.NoIndex && s.Since == nil && len(s.Owners)+len(s.Clusters)+len(s.Jobs) > 0
	st := Stats{Plan: "scan of the history, newest first", Candidates: -1}
	var ids iter.Seq[store.HistoryID]
	if indexed {
		ids, st.Plan = s.candidates(snap, from)
		st.Candidates = 0
	}
	var fnErr error
	visit := func(e store.HistoryEntry) bool {
		if st.Evaluated++; st.Evaluated%1024 == 0 && ctx.Err() != nil {
			fnErr = ctx.Err()
			return false
		}
		job := e.Job()
		if s.Since != nil {
			env.Bind(job, s.Since)
			if env.Matches(s.Since) {
				return false
			}
		}
		if args.matchesArgs(job, env) {
			if s.Constraint != nil {
				env.Bind(job, s.Constraint)
			}
			if s.Constraint == nil || env.Matches(s.Constraint) {
				st.Matched++
				if fnErr = fn(e); fnErr != nil || o.Limit > 0 && st.Matched >= o.Limit {
					return false
				}
			}
		}
		return s.ScanLimit <= 0 || st.Evaluated < s.ScanLimit
	}
	if indexed {
		// An ID an index files with no entry is skipped: check reports it.
		for e := range snap.HistoryEntries(ids) {
			st.Candidates++
			if !visit(e) {
				break
			}
		}
	} else {
		for e := range snap.History(from) {
			if !visit(e) {
				break
			}
		}
	}
	err := fnErr
	if err == nil {
		err = snap.Err()
	}
	st.Duration = time.Since(start)
	return st, err
}

// candidates returns the IDs the indexes file under the selection's
// owners, clusters and jobs, at least from, newest first and each once,
// and how it found them.
func (s HistorySelection) candidates(snap *store.Snapshot, from store.HistoryID) (iter.Seq[store.HistoryID], string) {
	var (
		sources []iter.Seq[store.HistoryID]
		plan    []string
	)
	for _, o := range s.Owners {
		sources = append(sources, snap.HistoryOfOwner(store.IndexedOwner{Class: store.ClassLiteral, Name: store.FoldName(o)}, from))
		plan = append(plan, "Owner "+store.OwnerValue(`"`+o+`"`, true).String())
	}
	if len(s.Owners) > 0 {
		// Owners that are not string literals: only evaluation tells.
		other := store.IndexedOwner{Class: store.ClassOther}
		sources = append(sources, snap.HistoryOfOwner(other, from))
		plan = append(plan, other.String())
	}
	ranges := make([][2]store.Key, 0, len(s.Clusters)+len(s.Jobs))
	for _, c := range s.Clusters {
		ranges = append(ranges, [2]store.Key{{Cluster: c}, {Cluster: c, Proc: math.MaxInt32}})
		plan = append(plan, "cluster "+strconv.FormatInt(c, 10))
	}
	for _, j := range s.Jobs {
		ranges = append(ranges, [2]store.Key{j, j})
		plan = append(plan, "job "+j.String())
	}
	for _, r := range ranges {
		ids := snap.HistoryOfJobs(r[0], r[1])
		sources = append(sources, func(yield func(store.HistoryID) bool) {
			for _, id := range ids {
				if id.Compare(from) >= 0 && !yield(id) {
					return
				}
			}
		})
	}
	return mergeNewest(sources), "history index: " + strings.Join(plan, " or ")
}

// mergeNewest merges sources, each newest first, into one stream newest
// first in which each ID appears once.
func mergeNewest(sources []iter.Seq[store.HistoryID]) iter.Seq[store.HistoryID] {
	if len(sources) == 1 {
		return sources[0]
	}
	return func(yield func(store.HistoryID) bool) {
		type head struct {
			id   store.HistoryID
			next func() (store.HistoryID, bool)
		}
		var heads []head
		for _, src := range sources {
			next, stop := iter.Pull(src)
			defer stop()
			if id, ok := next(); ok {
				heads = append(heads, head{id, next})
			}
		}
		var last store.HistoryID
		first := true
		for len(heads) > 0 {
			best := 0
			for i := range heads {
				if heads[i].id.Compare(heads[best].id) > 0 {
					best = i
				}
			}
			id := heads[best].id
			if first || id != last {
				if !yield(id) {
					return
				}
			}
			first, last = false, id
			if nid, ok := heads[best].next(); ok {
				heads[best].id = nid
			} else {
				heads = append(heads[:best], heads[best+1:]...)
			}
		}
	}
}
