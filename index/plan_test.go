package index

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
)

// oddJobs are jobs whose Owner or JobStatus only evaluation can compare,
// that the indexes must file by their cluster's values, or whose ClusterId
// is not their key's, appended to a generated queue (clusters 900000 and
// up, past anything it submits).
const oddJobs = `105 
101 900000.-1 Job Machine
103 900000.-1 Owner "OddOwner"
103 900000.-1 JobStatus 2
101 900000.0 Job Machine
101 900000.1 Job Machine
103 900000.1 Owner strcat("user", "001")
101 900000.2 Job Machine
103 900000.2 JobStatus 2.0
101 900000.3 Job Machine
103 900000.3 JobStatus 5.5
101 900000.4 Job Machine
103 900000.4 JobStatus "1"
101 900000.5 Job Machine
103 900000.5 JobStatus true
101 900000.6 Job Machine
103 900000.6 Owner "USER002"
103 900000.6 JobStatus ifThenElse(true, 1, 2)
106 
105 
101 900001.0 Job Machine
103 900001.0 JobStatus 1
101 900001.1 Job Machine
103 900001.1 Owner undefined
106 
105 
101 900002.-1 Job Machine
103 900002.-1 ClusterId 900001
101 900002.0 Job Machine
103 900002.0 JobStatus 1
101 900002.1 Job Machine
103 900002.1 ClusterId 900002
101 900000.7 Job Machine
103 900000.7 ClusterId 1
101 900001.2 Job Machine
103 900001.2 ClusterId 1 + 1
106 
`

// propertyQueue builds a db from a generated queue plus oddJobs: loaded
// whole, or (tail) with the odd jobs tailed after the load.
func propertyQueue(t *testing.T, seed uint64, tail bool) (*store.DB, []string) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job_queue.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	g := loggen.New(loggen.Config{Seed: seed, TargetJobs: 600, Owners: 15})
	if err := g.WriteQueue(w, 500, false); err != nil {
		t.Fatal(err)
	}
	if !tail {
		w.WriteString(oddJobs)
	}
	w.Flush()
	f.Close()
	db, err := store.Open(filepath.Join(dir, "q.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	catchUp := func() {
		if _, err := ingest.CatchUp(context.Background(), db, ingest.Options{Log: logPath}); err != nil {
			t.Fatal(err)
		}
	}
	catchUp()
	if tail {
		f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(oddJobs)
		f.Close()
		catchUp()
	}
	return db, g.Owners()
}

// constraintGen writes random constraints over Owner and JobStatus, in the
// shapes the planner recognises and many it does not.
type constraintGen struct {
	rng    *rand.Rand
	owners []string
}

func (g *constraintGen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

func (g *constraintGen) recase(s string) string {
	switch g.rng.IntN(3) {
	case 0:
		return strings.ToUpper(s)
	case 1:
		return s
	}
	b := []byte(s)
	for i := range b {
		if g.rng.IntN(2) == 0 {
			b[i] = byte(strings.ToUpper(string(b[i]))[0])
		}
	}
	return string(b)
}

func (g *constraintGen) term() string {
	switch g.rng.IntN(4) {
	case 0:
		return g.ownerTerm()
	case 1:
		return g.statusTerm()
	case 2:
		return g.clusterTerm()
	}
	return g.pick("RequestMemory > 2048", "ProcId < 2", "true", "false", "undefined",
		"JobPrio >= 0", "ProcId", "isUndefined(Owner)")
}

func (g *constraintGen) clusterTerm() string {
	attr := g.pick("ClusterId", "MY.ClusterId", "clusterid")
	op := g.pick("==", "==", "=?=", "!=", "=!=", "<")
	lit := g.pick("1", "2", "7", "900000", "900001", "900002", "1.0", "2.0", "900001.0", "0", "-1", `"1"`)
	return g.compare(attr, op, lit)
}

func (g *constraintGen) ownerTerm() string {
	attr := g.pick("Owner", "MY.Owner", "owner", "OWNER")
	op := g.pick("==", "==", "=?=", "!=", "=!=", "<")
	owner := g.pick(append(g.owners[:min(4, len(g.owners))], "OddOwner", "nobody")...)
	lit := g.pick(strconv.Quote(g.recase(owner)), strconv.Quote(owner), "5", "undefined")
	return g.compare(attr, op, lit)
}

func (g *constraintGen) statusTerm() string {
	attr := g.pick("JobStatus", "MY.JobStatus", "jobstatus")
	op := g.pick("==", "==", "=?=", "!=", "!=", "=!=", ">=")
	lit := g.pick("1", "2", "4", "5", "7", "2.0", "5.5", "-1", `"1"`, "true", "(3-1)")
	return g.compare(attr, op, lit)
}

func (g *constraintGen) compare(attr, op, lit string) string {
	if g.rng.IntN(4) == 0 {
		return lit + " " + op + " " + attr
	}
	return attr + " " + op + " " + lit
}

func (g *constraintGen) expr(depth int) string {
	if depth == 0 {
		return g.term()
	}
	switch g.rng.IntN(7) {
	case 0, 1:
		return g.expr(depth-1) + " && " + g.expr(depth-1)
	case 2:
		return g.expr(depth-1) + " || " + g.expr(depth-1)
	case 3:
		return "(" + g.expr(depth-1) + ")"
	case 4:
		return "!(" + g.expr(depth-1) + ")"
	case 5:
		// Owner and JobStatus side by side, as the pair index serves them.
		return g.ownerTerm() + " && " + g.statusTerm() + " && " + g.expr(depth-1)
	}
	return g.term()
}

func (g *constraintGen) args() []string {
	var args []string
	for range g.rng.IntN(3) {
		switch g.rng.IntN(3) {
		case 0:
			args = append(args, g.recase(g.pick(append(g.owners[:min(3, len(g.owners))], "OddOwner")...)))
		case 1:
			args = append(args, g.pick("1", "2", "7", "900000"))
		default:
			args = append(args, g.pick("1.0", "3.1", "900000.2", "900001.1"))
		}
	}
	return args
}

func runKeys(t *testing.T, db *store.DB, sel Selection, noIndex bool) ([]string, Stats) {
	t.Helper()
	var keys []string
	var st Stats
	err := db.View(func(s *store.Snapshot) error {
		var err error
		st, err = sel.Run(context.Background(), s, NewEnv(1763900000), RunOptions{NoIndex: noIndex}, func(j store.Job) error {
			keys = append(keys, j.Key.String())
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, st
}

// TestIndexedAnswerEqualsScan runs hundreds of generated selections over
// generated queues, loaded and tailed, and requires the indexed answer to
// be the scan's, job for job, and the counted totals to be the scanned ones.
func TestIndexedAnswerEqualsScan(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		for _, tail := range []bool{false, true} {
			db, owners := propertyQueue(t, seed, tail)
			g := &constraintGen{rng: rand.New(rand.NewPCG(seed, 99)), owners: owners}
			indexed, paired, matched := 0, 0, 0
			for i := range 400 {
				args, constraint := g.args(), ""
				switch {
				case i%4 == 1:
					constraint = g.ownerTerm() + " && " + g.statusTerm()
				case i%10 != 0:
					constraint = g.expr(g.rng.IntN(4))
				}
				sel, err := parseSelection(args, constraint)
				if err != nil {
					t.Fatalf("generated selection %v %q: %v", args, constraint, err)
				}
				got, st := runKeys(t, db, sel, false)
				want, _ := runKeys(t, db, sel, true)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d tail %v: args %v constraint %q\nplan %s\nindexed: %v\nscan:    %v", seed, tail, args, constraint, st.Plan, got, want)
				}
				if st.Candidates >= 0 {
					indexed++
				}
				if strings.Contains(st.Plan, " × ") {
					paired++
				}
				if len(got) > 0 {
					matched++
				}
				checkCountedTotals(t, db, sel)
			}
			// The comparison means something only if the index was used
			// often, (Owner, JobStatus) pairs among them, and queries
			// matched jobs often.
			if indexed < 100 || paired < 20 || matched < 100 {
				t.Errorf("seed %d tail %v: %d of 400 selections used an index, %d of them pairs; %d matched jobs", seed, tail, indexed, paired, matched)
			}
		}
	}
}

func checkCountedTotals(t *testing.T, db *store.DB, sel Selection) {
	t.Helper()
	env := NewEnv(1763900000)
	db.View(func(s *store.Snapshot) error {
		counted, _, ok, err := sel.CountTotals(s, env)
		if err != nil || !ok {
			if err != nil {
				t.Fatal(err)
			}
			return nil
		}
		var scanned Totals
		sel.Run(context.Background(), s, env, RunOptions{NoIndex: true}, func(j store.Job) error {
			if SchedulerJob(j, env) {
				return nil
			}
			st, _ := IntAttr(j, env, "JobStatus")
			scanned.Add(st, 1)
			return nil
		})
		if counted != scanned {
			t.Errorf("args %v: counted totals %v, scanned %v", sel.Owners, counted, scanned)
		}
		return nil
	})
}

func TestPlans(t *testing.T) {
	db, owners := propertyQueue(t, 3, false)
	tests := []struct {
		args       []string
		constraint string
		plan       string // a part of the plan's description
		not        string // what it must not contain, if not ""
	}{
		{nil, fmt.Sprintf("Owner == %q", strings.ToUpper(owners[0])), `index [(owner == "` + strings.ToUpper(owners[0]) + `"): Owner "` + owners[0] + `" ∪ Owner (Owner not a string literal)`, ""},
		{nil, "MY.JobStatus =?= 5", "JobStatus 5 ∪ JobStatus (JobStatus not an integer literal)", ""},
		{nil, "5 == JobStatus", "index [(5 == jobstatus)", ""},
		{nil, "JobStatus =?= 2.0", "JobStatus (JobStatus not an integer literal); 5 jobs]", "JobStatus 2 "},
		{nil, "JobStatus == -2.0", "JobStatus -2 ∪ JobStatus (JobStatus not an integer literal)", ""},
		{nil, "JobStatus == 2.5", "index [(jobstatus == 2.5): JobStatus (JobStatus not an integer literal); 5 jobs]", ""},
		{nil, "(JobStatus == 5 || JobStatus == 7) && RequestMemory > 0", "JobStatus 5 ∪ JobStatus (JobStatus not an integer literal) ∪ JobStatus 7", ""},
		{nil, "JobStatus != 2", "scan of all jobs (the narrowest index term", ""},
		{[]string{"900000.2"}, "", "index [arguments: job 900000.2; 1 jobs]", ""},
		{[]string{owners[0]}, "JobStatus == 1", `index [arguments && (jobstatus == 1): Owner "` + owners[0] + `" × JobStatus 1; `, " ∩ "},
		{nil, fmt.Sprintf("Owner == %q && JobStatus != 2 && RequestMemory > 0", owners[0]), `Owner "` + owners[0] + `" × JobStatus 1`, "× JobStatus 2"},
		{nil, fmt.Sprintf("JobStatus == 2.5 && Owner == %q", owners[0]), `[(jobstatus == 2.5) && (owner == "` + owners[0] + `")`, ""},
		{[]string{"900000"}, fmt.Sprintf("Owner =?= %q && JobStatus == 1", owners[0]), " × JobStatus 1", ""},
		{nil, "RequestMemory > 2048", "scan of all jobs", ""},
		{nil, "MY.ClusterId == 900002", "index [(MY.clusterid == 900002): cluster 900002 ∪ jobs whose ClusterId is not their cluster's; 5 jobs]", ""},
		{nil, "ClusterId =?= 2.0", "index [(clusterid is 2): jobs whose ClusterId is not their cluster's; 3 jobs]", ""},
		{nil, "ClusterId == 2.0 && JobStatus == 1", "cluster 2 ∪ jobs whose ClusterId", ""},
		{nil, "ClusterId != 2", "scan of all jobs", ""},
		{nil, "ClusterId == 1 || clusterid == 2", "cluster 1 ∪ jobs whose ClusterId is not their cluster's ∪ cluster 2;", ""},
		{nil, "!(Owner == \"x\")", "scan of all jobs", ""},
	}
	for _, tt := range tests {
		sel, err := parseSelection(tt.args, tt.constraint)
		if err != nil {
			t.Fatal(err)
		}
		_, st := runKeys(t, db, sel, false)
		if !strings.Contains(st.Plan, tt.plan) || tt.not != "" && strings.Contains(st.Plan, tt.not) {
			t.Errorf("args %v constraint %q: plan %q, want it to contain %q and not %q", tt.args, tt.constraint, st.Plan, tt.plan, tt.not)
		}
	}
}

// TestStatsSizeTerms requires the counts to size every index term as its
// listing does, and the queue as its job count. A wrong size only picks a
// worse plan, which no test comparing answers would notice.
func TestStatsSizeTerms(t *testing.T) {
	db, owners := propertyQueue(t, 5, false)
	err := db.View(func(snap *store.Snapshot) error {
		st, err := readStats(snap)
		if err != nil {
			return err
		}
		if st.jobs != snap.JobCount() {
			t.Errorf("stats count %d jobs, the queue has %d", st.jobs, snap.JobCount())
		}
		ownerVals := []store.IndexedOwner{{Class: store.ClassOther}, {Class: store.ClassMissing}, {Class: store.ClassLiteral, Name: "nobody"}}
		for _, o := range owners {
			ownerVals = append(ownerVals, store.IndexedOwner{Class: store.ClassLiteral, Name: store.FoldName(o)})
		}
		statusVals := []store.IndexedStatus{{Class: store.ClassOther}, {Class: store.ClassMissing}}
		for n := range int64(9) {
			statusVals = append(statusVals, store.IndexedStatus{Class: store.ClassLiteral, N: n})
		}
		var srcs []source
		for i := range ownerVals {
			srcs = append(srcs, ownerSource{ownerVals[i]})
			for j := range statusVals {
				srcs = append(srcs, pairSource{ownerVals[i], statusVals[j]})
			}
		}
		for j := range statusVals {
			srcs = append(srcs, statusSource{statusVals[j]})
		}
		nonEmpty := 0
		for _, src := range srcs {
			want := int64(len(list(snap, []source{src})))
			if got := src.size(snap, st); got != want {
				t.Errorf("size of %s = %d, its listing holds %d", src, got, want)
			}
			if want > 0 {
				nonEmpty++
			}
		}
		if nonEmpty < len(srcs)/4 {
			t.Errorf("only %d of %d terms hold jobs: the queue does not exercise the sizes", nonEmpty, len(srcs))
		}
		return snap.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
