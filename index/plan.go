package index

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/PelicanPlatform/classad/ast"
	"github.com/qindex/qindex/store"
)

// A source is a set of jobs the store can list in key order without
// reading ads: those the indexes file under an Owner (ownerSource), a
// JobStatus (statusSource) or a pair of both (pairSource), a key range
// (keyRange), or the jobs whose ClusterId is not their key's (oddIDs).
type source interface {
	// String describes the source for --explain.
	String() string
	// list yields the source's jobs in key order.
	list(snap *store.Snapshot) iter.Seq[store.JobRef]
	// size returns how many jobs the source holds, from the counts where
	// the indexes keep them.
	size(snap *store.Snapshot, st *stats) int64
	// holds reports whether the job filed as f lies in the source; oddID
	// says it is in cluster-id-odd/.
	holds(f store.Filing, oddID bool) bool
}

type (
	ownerSource  struct{ owner store.IndexedOwner }
	statusSource struct{ status store.IndexedStatus }
	pairSource   struct {
		owner  store.IndexedOwner
		status store.IndexedStatus
	}
	oddIDs struct{}
)

func (s ownerSource) String() string  { return "Owner " + s.owner.String() }
func (s statusSource) String() string { return "JobStatus " + s.status.String() }
func (s pairSource) String() string {
	return "Owner " + s.owner.String() + " × JobStatus " + s.status.String()
}
func (oddIDs) String() string { return "jobs whose ClusterId is not their cluster's" }
func (r keyRange) String() string {
	switch {
	case r.from == r.to:
		return "job " + r.from.String()
	case r.to == store.AllJobs[1]:
		return fmt.Sprintf("clusters from %d (a DAG's)", r.from.Cluster)
	}
	return fmt.Sprintf("cluster %d", r.from.Cluster)
}

func (s ownerSource) list(snap *store.Snapshot) iter.Seq[store.JobRef] {
	return snap.JobsByOwner(s.owner)
}
func (s statusSource) list(snap *store.Snapshot) iter.Seq[store.JobRef] {
	return snap.JobsByStatus(s.status)
}
func (s pairSource) list(snap *store.Snapshot) iter.Seq[store.JobRef] {
	return snap.JobsFiled(s.owner, s.status)
}
func (oddIDs) list(snap *store.Snapshot) iter.Seq[store.JobRef] { return snap.OddClusterIDs() }
func (r keyRange) list(snap *store.Snapshot) iter.Seq[store.JobRef] {
	return snap.JobKeys(r.from, r.to)
}

func (s ownerSource) size(_ *store.Snapshot, st *stats) int64 {
	var n int64
	for _, c := range st.ownerCounts(s.owner) {
		n += c.Jobs
	}
	return n
}
func (s statusSource) size(_ *store.Snapshot, st *stats) int64 {
	for _, c := range st.byStatus {
		if c.Status == s.status {
			return c.Jobs
		}
	}
	return 0
}
func (s pairSource) size(_ *store.Snapshot, st *stats) int64 {
	for _, c := range st.ownerCounts(s.owner) {
		if c.Status == s.status {
			return c.Jobs
		}
	}
	return 0
}
func (o oddIDs) size(snap *store.Snapshot, _ *stats) int64   { return countJobs(o.list(snap)) }
func (r keyRange) size(snap *store.Snapshot, _ *stats) int64 { return countJobs(r.list(snap)) }

// countJobs counts the jobs of a listing.
func countJobs(jobs iter.Seq[store.JobRef]) int64 {
	var n int64
	for range jobs {
		n++
	}
	return n
}

func (s ownerSource) holds(f store.Filing, _ bool) bool  { return s.owner == f.Owner }
func (s statusSource) holds(f store.Filing, _ bool) bool { return s.status == f.Status }
func (s pairSource) holds(f store.Filing, _ bool) bool {
	return s.owner == f.Owner && s.status == f.Status
}
func (oddIDs) holds(_ store.Filing, oddID bool) bool { return oddID }
func (r keyRange) holds(f store.Filing, _ bool) bool {
	return r.from.Compare(f.Key) <= 0 && f.Key.Compare(r.to) <= 0
}

// A conjunct is a union of sources that holds every job a selection can
// match: a term of the constraint's top-level &&, or the positional
// arguments.
type conjunct struct {
	from    string // what it came from, for --explain
	sources []source
	size    int64 // jobs in its sources, an upper bound of its union
}

// conjuncts returns what the selection's arguments and constraint confine
// the jobs to, as far as the indexes can tell. A constraint term it does
// not recognise confines nothing and is left to evaluation.
func (s Selection) conjuncts(st *stats) []conjunct {
	var cs []conjunct
	if len(s.Owners)+len(s.Clusters)+len(s.Jobs)+len(s.DAGClusters) > 0 {
		c := conjunct{from: "arguments"}
		for _, cl := range s.DAGClusters {
			c.sources = append(c.sources, dagRange(cl))
		}
		for _, o := range s.Owners {
			c.sources = append(c.sources, ownerSources(o)...)
		}
		for _, cl := range s.Clusters {
			c.sources = append(c.sources, clusterRange(cl))
		}
		for _, j := range s.Jobs {
			c.sources = append(c.sources, keyRange{j, j})
		}
		cs = append(cs, c)
	}
	if s.Constraint != nil {
		for _, term := range andTerms(s.Constraint.AST, nil) {
			if srcs := recognise(term, st); srcs != nil {
				cs = append(cs, conjunct{from: term.String(), sources: srcs})
			}
		}
	}
	return cs
}

// pairUp merges the first conjunct made only of Owner sources and the first
// made only of JobStatus sources into one of (Owner, JobStatus) pairs. A
// job lies in both exactly when the pair it is filed under joins an Owner
// of one to a JobStatus of the other; the by-owner-status index lists each
// pair's jobs, so no candidate is read only to be dropped. Only the pairs
// some job is filed under are kept.
func pairUp(cs []conjunct, st *stats) []conjunct {
	o := slices.IndexFunc(cs, allOf[ownerSource])
	s := slices.IndexFunc(cs, allOf[statusSource])
	if o < 0 || s < 0 {
		return cs
	}
	pairs := conjunct{from: cs[min(o, s)].from + " && " + cs[max(o, s)].from}
	seen := make(map[store.IndexedOwner]bool)
	for _, ow := range cs[o].sources {
		owner := ow.(ownerSource).owner
		if seen[owner] {
			continue
		}
		seen[owner] = true
		for _, c := range st.ownerCounts(owner) {
			if slices.Contains(cs[s].sources, source(statusSource{c.Status})) {
				pairs.sources = append(pairs.sources, pairSource{c.Owner, c.Status})
			}
		}
	}
	out := []conjunct{pairs}
	for i, c := range cs {
		if i != o && i != s {
			out = append(out, c)
		}
	}
	return out
}

// allOf reports whether every source of c is an S.
func allOf[S source](c conjunct) bool {
	for _, src := range c.sources {
		if _, ok := src.(S); !ok {
			return false
		}
	}
	return true
}

// andTerms appends the operands of the top-level && chain of e.
func andTerms(e ast.Expr, terms []ast.Expr) []ast.Expr {
	e = unparen(e)
	if b, ok := e.(*ast.BinaryOp); ok && b.Op == "&&" {
		return andTerms(b.Right, andTerms(b.Left, terms))
	}
	return append(terms, e)
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.Inner
	}
}

// recognise returns the sources that hold every job for which term can be
// true, or nil if it cannot tell. Only a true term lets a job through a
// top-level &&, and the comparisons recognised are true only as described:
//
//   - Owner == "x" (strings compare ignoring case) and Owner =?= "x": jobs
//     filed under x folded, and those whose Owner only evaluation tells;
//   - JobStatus == n and =?= n: jobs filed under n (if n is integral: 2.0
//     == 2, though not 2.0 =?= 2), and those whose JobStatus only
//     evaluation tells;
//   - JobStatus != n: jobs filed under any other number, and those; a
//     missing JobStatus makes != undefined, not true;
//   - ClusterId == n and =?= n: the jobs of cluster n (if n is integral,
//     and for =?= an integer), and those whose ClusterId is not their
//     cluster's (the store lists them);
//   - a || b: the union of both, when both are recognised.
//
// Either operand order and the MY. prefix are accepted.
func recognise(term ast.Expr, st *stats) []source {
	term = unparen(term)
	b, ok := term.(*ast.BinaryOp)
	if !ok {
		return nil
	}
	if b.Op == "||" {
		l, r := recognise(b.Left, st), recognise(b.Right, st)
		if l == nil || r == nil {
			return nil
		}
		for _, src := range r {
			if !slices.ContainsFunc(l, func(s source) bool { return s.String() == src.String() }) {
				l = append(l, src)
			}
		}
		return l
	}
	if b.Op != "==" && b.Op != "is" && b.Op != "!=" {
		return nil
	}
	attr, lit := attrName(b.Left), unparen(b.Right)
	if attr == "" {
		attr, lit = attrName(b.Right), unparen(b.Left)
	}
	switch {
	case store.EqualFold(attr, "Owner") && b.Op != "!=":
		if s, ok := lit.(*ast.StringLiteral); ok {
			return ownerSources(s.Value)
		}
	case store.EqualFold(attr, "ClusterId") && b.Op != "!=":
		n, isReal, ok := number(lit)
		if !ok {
			return nil
		}
		odd := oddIDs{}
		if n != math.Trunc(n) || math.Abs(n) >= 1<<62 || isReal && b.Op == "is" {
			return []source{odd}
		}
		return []source{clusterRange(int64(n)), odd}
	case store.EqualFold(attr, "JobStatus"):
		n, isReal, ok := number(lit)
		if !ok {
			return nil
		}
		other := statusSource{store.IndexedStatus{Class: store.ClassOther}}
		integral := n == math.Trunc(n) && math.Abs(n) < 1<<62
		if b.Op != "!=" {
			// =?= compares types too: no integer is identical to a real.
			if !integral || isReal && b.Op == "is" {
				return []source{other}
			}
			return []source{statusSource{store.IndexedStatus{Class: store.ClassLiteral, N: int64(n)}}, other}
		}
		srcs := []source{other}
		for _, v := range st.statuses() {
			if !integral || v != int64(n) {
				srcs = append(srcs, statusSource{store.IndexedStatus{Class: store.ClassLiteral, N: v}})
			}
		}
		return srcs
	}
	return nil
}

// ownerSources are the jobs whose Owner can equal name: those filed under
// it, and those whose Owner is not a plain string.
func ownerSources(name string) []source {
	return []source{
		ownerSource{store.IndexedOwner{Class: store.ClassLiteral, Name: store.FoldName(name)}},
		ownerSource{store.IndexedOwner{Class: store.ClassOther}},
	}
}

// attrName returns the attribute e reads, if it is Name or MY.Name.
func attrName(e ast.Expr) string {
	if r, ok := unparen(e).(*ast.AttributeReference); ok && (r.Scope == ast.NoScope || r.Scope == ast.MyScope) {
		return r.Name
	}
	return ""
}

// number returns the value of a numeric literal, possibly negated, and
// whether it is a real rather than an integer.
func number(e ast.Expr) (n float64, isReal, ok bool) {
	switch v := unparen(e).(type) {
	case *ast.IntegerLiteral:
		return float64(v.Value), false, true
	case *ast.RealLiteral:
		return v.Value, true, true
	case *ast.UnaryOp:
		if n, isReal, ok := number(v.Expr); ok && (v.Op == "-" || v.Op == "+") {
			if v.Op == "-" {
				n = -n
			}
			return n, isReal, true
		}
	}
	return 0, false, false
}

// stats size index terms from the counts the indexes keep: the counts per
// JobStatus, read once per query, and the counts of each owner a term
// names, read when first asked for. Neither grows with the number of owners.
type stats struct {
	snap     *store.Snapshot
	byStatus []store.StatusCount
	jobs     int64
	owners   map[store.IndexedOwner][]store.IndexCount
}

func readStats(snap *store.Snapshot) (*stats, error) {
	st := &stats{snap: snap, owners: make(map[store.IndexedOwner][]store.IndexCount)}
	for c := range snap.StatusCounts() {
		st.byStatus = append(st.byStatus, c)
		st.jobs += c.Jobs
	}
	return st, snap.Err()
}

// ownerCounts returns owner o's counts, one per JobStatus it has jobs in.
func (st *stats) ownerCounts(o store.IndexedOwner) []store.IndexCount {
	cs, ok := st.owners[o]
	if !ok {
		for c := range st.snap.OwnerCounts(o) {
			cs = append(cs, c)
		}
		st.owners[o] = cs
	}
	return cs
}

// statuses returns, in order, the JobStatus numbers that some job is filed
// under.
func (st *stats) statuses() []int64 {
	var out []int64
	for _, c := range st.byStatus {
		if c.Status.Class == store.ClassLiteral {
			out = append(out, c.Status.N)
		}
	}
	return out
}

// list returns the jobs in the union of srcs, sorted by key.
func list(snap *store.Snapshot, srcs []source) []store.JobRef {
	var keys []store.JobRef
	for _, src := range srcs {
		for k := range src.list(snap) {
			keys = append(keys, k)
		}
	}
	if len(srcs) > 1 {
		slices.SortFunc(keys, compareRefs)
		keys = slices.Compact(keys)
	}
	return keys
}

func compareRefs(a, b store.JobRef) int { return a.Key.Compare(b.Key) }

// intersect returns the jobs in both sorted lists.
func intersect(a, b []store.JobRef) []store.JobRef {
	out := a[:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch c := compareRefs(a[i], b[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// filterByPosting keeps the keys whose filing lies in a source of every
// conjunct in cs.
func filterByPosting(snap *store.Snapshot, keys []store.JobRef, cs []conjunct) []store.JobRef {
	var odd map[store.Key]bool // cluster-id-odd/, read if a conjunct names it
	if slices.ContainsFunc(cs, func(c conjunct) bool {
		return slices.ContainsFunc(c.sources, func(s source) bool { return s == oddIDs{} })
	}) {
		odd = make(map[store.Key]bool)
		for r := range snap.OddClusterIDs() {
			odd[r.Key] = true
		}
	}
	out := keys[:0]
	for f := range snap.Filings(keys) {
		in := true
		for _, c := range cs {
			if !c.holds(f, odd[f.Key]) {
				in = false
				break
			}
		}
		if in {
			out = append(out, f.JobRef)
		}
	}
	return out
}

// holds reports whether the job filed as f lies in one of c's sources;
// oddID says it is in cluster-id-odd/.
func (c conjunct) holds(f store.Filing, oddID bool) bool {
	return slices.ContainsFunc(c.sources, func(src source) bool { return src.holds(f, oddID) })
}

// A plan is how a selection finds its candidate jobs: a sorted list of
// keys from the indexes, or a scan of key ranges.
type plan struct {
	indexed     bool
	keys        []store.JobRef
	ranges      []keyRange
	description string
}

// Cost model of the planner, in units of one job read by a scan of the
// ads: a job fetched by key costs a few times more than one read in
// sequence, and an index entry much less than either.
const (
	costFetch = 3
	// intersectRatio: a further conjunct is listed and intersected only if
	// it holds at most this many times the candidates so far; reading its
	// entries then costs less than evaluating the candidates it removes.
	intersectRatio = 16
)

// plan chooses how to find the selection's jobs in snap.
func (s Selection) plan(snap *store.Snapshot, noIndex bool) (plan, error) {
	scan := plan{ranges: s.ranges()}
	scan.description = "scan of all jobs"
	if len(s.Owners) == 0 && len(s.Clusters)+len(s.Jobs)+len(s.DAGClusters) > 0 {
		scan.description = fmt.Sprintf("scan of %d key ranges", len(scan.ranges))
	}
	switch {
	case noIndex:
		scan.description += " (--no-index)"
		return scan, nil
	case !snap.Indexed():
		scan.description += " (a file of an older schema, read without its indexes)"
		return scan, nil
	}
	st, err := readStats(snap)
	if err != nil {
		return plan{}, err
	}
	cs := pairUp(s.conjuncts(st), st)
	if len(cs) == 0 {
		return scan, nil
	}
	for i := range cs {
		for _, src := range cs[i].sources {
			cs[i].size += src.size(snap, st)
		}
	}
	slices.SortStableFunc(cs, func(a, b conjunct) int { return cmp.Compare(a.size, b.size) })
	if cs[0].size*costFetch >= st.jobs {
		scan.description += fmt.Sprintf(" (the narrowest index term, %s, holds %d of %d jobs)", cs[0].from, cs[0].size, st.jobs)
		return scan, nil
	}
	keys := list(snap, cs[0].sources)
	used := []string{describe(cs[0])}
	rest := cs[1:]
	for len(rest) > 0 && rest[0].size <= intersectRatio*int64(len(keys)) {
		keys = intersect(keys, list(snap, rest[0].sources))
		used = append(used, describe(rest[0]))
		rest = rest[1:]
	}
	desc := "index " + strings.Join(used, " ∩ ")
	if len(rest) > 0 {
		// The other terms are too large to list, but each candidate's
		// posting tells whether it lies in them without reading its ad.
		keys = filterByPosting(snap, keys, rest)
		var by []string
		for _, c := range rest {
			by = append(by, describe(c))
		}
		desc += ", filtered by postings on " + strings.Join(by, ", ")
	}
	return plan{indexed: true, keys: keys, description: desc}, snap.Err()
}

func describe(c conjunct) string {
	parts := make([]string, len(c.sources))
	for i, src := range c.sources {
		parts[i] = src.String()
	}
	return fmt.Sprintf("[%s: %s; %d jobs]", c.from, strings.Join(parts, " ∪ "), c.size)
}

// Totals computes the selection's totals line: from the counts the
// indexes keep when CountTotals applies, else by evaluating the jobs the
// selection finds.
func (s Selection) Totals(ctx context.Context, snap *store.Snapshot, env *Env) (Totals, error) {
	t, _, ok, err := s.CountTotals(snap, env)
	if err != nil || ok {
		return t, err
	}
	_, err = s.Run(ctx, snap, env, RunOptions{}, func(job store.Job) error {
		if !SchedulerJob(job, env) {
			status, _ := IntAttr(job, env, "JobStatus")
			t.Add(status, 1)
		}
		return nil
	})
	return t, err
}

// CountTotals computes the selection's totals line from the counts the
// indexes keep, reading only the ads of jobs whose Owner or JobStatus only
// evaluation can tell, and of those that may be scheduler-universe jobs,
// which condor_q's totals leave out. It applies when the selection has no
// constraint and no cluster or job ids, and snap has indexes; ok is false
// otherwise, and the caller runs the selection instead.
func (s Selection) CountTotals(snap *store.Snapshot, env *Env) (t Totals, st Stats, ok bool, err error) {
	if s.Constraint != nil || len(s.Clusters)+len(s.Jobs)+len(s.DAGClusters) > 0 || !snap.Indexed() {
		return t, st, false, nil
	}
	start := time.Now()
	// Jobs filed as "other" in either index are left out here and
	// evaluated one by one below.
	n := 0
	add := func(c store.IndexCount, sign int64) {
		n++
		if c.Status.Class != store.ClassOther {
			t.Add(c.Status.N, sign*c.Jobs) // a missing JobStatus is 0: a job of no state
		}
	}
	if len(s.Owners) == 0 {
		for c := range snap.StatusCounts() {
			add(store.IndexCount{Status: c.Status, Jobs: c.Jobs}, 1)
		}
		for c := range snap.OwnerCounts(store.IndexedOwner{Class: store.ClassOther}) {
			add(c, -1)
		}
	}
	seen := make(map[string]bool, len(s.Owners))
	for _, o := range s.Owners {
		name := store.FoldName(o)
		if seen[name] {
			continue
		}
		seen[name] = true
		for c := range snap.OwnerCounts(store.IndexedOwner{Class: store.ClassLiteral, Name: name}) {
			add(c, 1)
		}
	}
	keys := list(snap, []source{
		ownerSource{store.IndexedOwner{Class: store.ClassOther}},
		statusSource{store.IndexedStatus{Class: store.ClassOther}},
	})
	for job := range snap.JobsAt(keys) {
		st.Evaluated++
		if !s.matchesArgs(job, env) || SchedulerJob(job, env) {
			continue
		}
		status, _ := IntAttr(job, env, "JobStatus")
		t.Add(status, 1)
	}
	// Scheduler jobs the counts above include are taken away.
	sched := slices.Collect(snap.SchedulerJobs())
	for job := range snap.JobsAt(sched) {
		st.Evaluated++
		o, ook := job.Lookup("Owner")
		s2, sok := job.Lookup("JobStatus")
		status := store.StatusValue(s2, sok)
		if store.OwnerValue(o, ook).Class == store.ClassOther || status.Class == store.ClassOther {
			continue // evaluated above
		}
		if s.matchesArgs(job, env) && SchedulerJob(job, env) {
			t.Add(status.N, -1)
		}
	}
	st.Plan = fmt.Sprintf("index counts (%d read), evaluating jobs whose values only evaluation tells", n)
	st.Candidates = len(keys) + len(sched)
	st.Matched = int(t.Jobs)
	st.Duration = time.Since(start)
	return t, st, true, snap.Err()
}
