package index

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qindex/qindex/store"
)

// Selection is what condor_q's arguments select: the jobs that match any of
// the owners, cluster ids or job ids (every job when there are none) and
// that satisfy the constraint, if there is one.
type Selection struct {
	Owners   []string
	Clusters []int64
	Jobs     []store.Key
	// DAGClusters are cluster ids that, as in condor_q's batch and DAG
	// views, also select the jobs of that DAG and batch: those whose
	// DAGManJobId is the id, or whose JobBatchId begins with it
	// (CONDOR_Q.md §1.4).
	DAGClusters []int64
	Constraint  *Expr
}

// Stats describe one run of a selection.
type Stats struct {
	Plan       string        // how the jobs were found
	Candidates int           // jobs the plan selected, -1 for a scan
	Evaluated  int           // jobs read and tested
	Matched    int           // jobs passed to the caller
	Duration   time.Duration // time spent
}

// String formats s as qindex q --explain prints it.
func (s Stats) String() string {
	cand := "all in range (scan)"
	if s.Candidates >= 0 {
		cand = strconv.Itoa(s.Candidates)
	}
	return fmt.Sprintf("plan: %s\ncandidates: %s\nevaluated: %d\nmatched: %d\ntime: %s\n",
		s.Plan, cand, s.Evaluated, s.Matched, s.Duration.Round(time.Microsecond))
}

// RunOptions control Selection.Run.
type RunOptions struct {
	// Limit stops the run after this many matches (0: no limit).
	Limit int
	// NoIndex forces a scan, as a reference for the indexed answer.
	NoIndex bool
}

// keyRange is an inclusive range of keys.
type keyRange struct{ from, to store.Key }

// ranges returns the key ranges a selection can be confined to: every job
// when it names an owner (any job may match) or nothing at all, else the
// named clusters and jobs, sorted and merged.
func (s Selection) ranges() []keyRange {
	if len(s.Owners) > 0 || len(s.Clusters)+len(s.Jobs)+len(s.DAGClusters) == 0 {
		return []keyRange{{store.AllJobs[0], store.AllJobs[1]}}
	}
	var rs []keyRange
	for _, c := range s.DAGClusters {
		rs = append(rs, dagRange(c))
	}
	for _, c := range s.Clusters {
		rs = append(rs, clusterRange(c))
	}
	for _, j := range s.Jobs {
		rs = append(rs, keyRange{j, j})
	}
	slices.SortFunc(rs, func(a, b keyRange) int { return a.from.Compare(b.from) })
	merged := rs[:1]
	for _, r := range rs[1:] {
		last := &merged[len(merged)-1]
		if r.from.Compare(last.to) <= 0 {
			if r.to.Compare(last.to) > 0 {
				last.to = r.to
			}
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// dagRange is the key range that holds DAG c's jobs: the schedd numbers
// clusters in submission order, and DAGMan submits its nodes after it
// starts, so every node's cluster follows its dagman's.
func dagRange(c int64) keyRange {
	return keyRange{store.Key{Cluster: c, Proc: 0}, store.AllJobs[1]}
}

// clusterRange is the key range of cluster c's jobs.
func clusterRange(c int64) keyRange {
	return keyRange{store.Key{Cluster: c, Proc: 0}, store.Key{Cluster: c, Proc: math.MaxInt32}} // ids fit in 32 bits (store.ParseKey)
}

// Run calls fn for each selected job in (cluster, proc) order, stopping
// after o.Limit jobs when it is positive, at fn's first error, or soon
// after ctx ends, with its error. The
// indexes only choose the candidates: every candidate is tested against the
// arguments and the whole constraint, exactly as a scan tests every job.
func (s Selection) Run(ctx context.Context, snap *store.Snapshot, env *Env, o RunOptions, fn func(store.Job) error) (Stats, error) {
	start := time.Now()
	p, err := s.plan(snap, o.NoIndex)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Plan: p.description, Candidates: -1}
	var fnErr error
	visit := func(job store.Job) bool {
		if st.Evaluated++; st.Evaluated%1024 == 0 && ctx.Err() != nil {
			fnErr = ctx.Err()
			return false
		}
		if !s.matchesArgs(job, env) {
			return true
		}
		if s.Constraint != nil {
			env.Bind(job, s.Constraint)
			if !env.Matches(s.Constraint) {
				return true
			}
		}
		st.Matched++
		fnErr = fn(job)
		return fnErr == nil && (o.Limit <= 0 || st.Matched < o.Limit)
	}
	if p.indexed {
		st.Candidates = len(p.keys)
		for job := range snap.JobsAt(p.keys) {
			if !visit(job) {
				break
			}
		}
	} else {
	ranges:
		for _, r := range p.ranges {
			for job := range snap.Jobs(r.from, r.to) {
				if !visit(job) {
					break ranges
				}
			}
		}
	}
	err = fnErr
	if err == nil {
		err = snap.Err()
	}
	st.Duration = time.Since(start)
	return st, err
}

// matchesArgs reports whether job matches one of the positional arguments
// (or there are none). Owners match as condor_q's Owner == "name": string
// equality ignoring case.
func (s Selection) matchesArgs(job store.Job, env *Env) bool {
	if len(s.Owners)+len(s.Clusters)+len(s.Jobs)+len(s.DAGClusters) == 0 {
		return true
	}
	if slices.Contains(s.Clusters, job.Key.Cluster) || slices.Contains(s.Jobs, job.Key) {
		return true
	}
	if len(s.DAGClusters) > 0 && s.inDAG(job, env) {
		return true
	}
	if len(s.Owners) == 0 {
		return false
	}
	owner, ok := ownerOf(job, env)
	if !ok {
		return false
	}
	for _, o := range s.Owners {
		if store.EqualFold(owner, o) {
			return true
		}
	}
	return false
}

// inDAG reports whether job belongs to one of DAGClusters: as condor_q
// asks, DAGManJobId == C, or int(split(JobBatchId, ".")[0]) == C.
func (s Selection) inDAG(job store.Job, env *Env) bool {
	if slices.Contains(s.DAGClusters, job.Key.Cluster) {
		return true
	}
	if d, ok := IntAttr(job, env, "DAGManJobId"); ok && slices.Contains(s.DAGClusters, d) {
		return true
	}
	if b, ok := StringAttr(job, env, "JobBatchId"); ok {
		head, _, _ := strings.Cut(b, ".")
		if n, err := strconv.ParseInt(strings.TrimSpace(head), 10, 64); err == nil && slices.Contains(s.DAGClusters, n) {
			return true
		}
	}
	return false
}

// ownerOf returns the job's effective Owner as a string, evaluating it only
// when it is not a plain string literal.
func ownerOf(job store.Job, env *Env) (string, bool) {
	text, ok := job.Lookup("Owner")
	if !ok {
		return "", false
	}
	if store.LiteralKind(text) == store.KindString {
		return store.StringValue(text), true
	}
	owner := AttrExpr("Owner")
	env.Bind(job, owner)
	v, err := env.Eval(owner).StringValue()
	return v, err == nil
}
