package index

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PelicanPlatform/classad/classad"
	"github.com/qindex/qindex/store"
)

// parseSelection builds the selection of owner names, "C" and "C.P" ids
// and a constraint (empty for none), as the tests write them.
func parseSelection(args []string, constraint string) (Selection, error) {
	var s Selection
	for _, a := range args {
		cs, ps, isJob := strings.Cut(a, ".")
		c, err := strconv.ParseInt(cs, 10, 64)
		p, perr := strconv.ParseInt(ps, 10, 64)
		switch {
		case err != nil || isJob && perr != nil:
			s.Owners = append(s.Owners, a)
		case isJob:
			s.Jobs = append(s.Jobs, store.Key{Cluster: c, Proc: p})
		default:
			s.Clusters = append(s.Clusters, c)
		}
	}
	if strings.TrimSpace(constraint) != "" {
		x, err := ParseExpr(constraint)
		if err != nil {
			return s, err
		}
		s.Constraint = x
	}
	return s, nil
}

func TestRanges(t *testing.T) {
	tests := []struct {
		sel  Selection
		want []keyRange
	}{
		{Selection{}, []keyRange{{store.AllJobs[0], store.AllJobs[1]}}},
		{Selection{Owners: []string{"a"}, Clusters: []int64{5}}, []keyRange{{store.AllJobs[0], store.AllJobs[1]}}},
		{Selection{Clusters: []int64{5, 2}, Jobs: []store.Key{{Cluster: 5, Proc: 3}, {Cluster: 9, Proc: 1}, {Cluster: 2, Proc: 0}}}, []keyRange{
			{store.Key{Cluster: 2, Proc: 0}, store.Key{Cluster: 2, Proc: 1<<31 - 1}},
			{store.Key{Cluster: 5, Proc: 0}, store.Key{Cluster: 5, Proc: 1<<31 - 1}},
			{store.Key{Cluster: 9, Proc: 1}, store.Key{Cluster: 9, Proc: 1}},
		}},
	}
	for _, tt := range tests {
		if got := tt.sel.ranges(); !slices.Equal(got, tt.want) {
			t.Errorf("ranges(%+v) = %v, want %v", tt.sel, got, tt.want)
		}
	}
}

func TestParseExprRefs(t *testing.T) {
	tests := []struct {
		text string
		refs []string
	}{
		{"5", nil},
		{`"x"`, nil},
		{"Owner", []string{"owner"}}, // folded: names are case-insensitive
		{`MY.Owner == "a" && TARGET.Memory > RequestMemory && owner =!= undefined`, []string{"owner", "requestmemory"}},
		{"ifThenElse(JobStatus == 2, { A, B }, [ x = C ].x)", []string{"jobstatus", "a", "b", "c"}},
		{"L[Index] ?: Fallback", []string{"l", "index", "fallback"}},
	}
	for _, tt := range tests {
		x, err := ParseExpr(tt.text)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tt.text, err)
			continue
		}
		if !slices.Equal(x.Refs, tt.refs) {
			t.Errorf("refs of %q = %v, want %v", tt.text, x.Refs, tt.refs)
		}
	}
	if x, _ := ParseExpr("MY.Owner"); x.Attr() != "owner" {
		t.Errorf("Attr of MY.Owner = %q", x.Attr())
	}
	if x, _ := ParseExpr("Owner + 1"); x.Attr() != "" {
		t.Errorf("Attr of an expression = %q", x.Attr())
	}
}

// testDB builds a store holding the given ads ("key" then "Name value" pairs).
func testDB(t *testing.T, ads map[string][]string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "q.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := db.NewLoader(store.Limits{Records: 1000, Bytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for k, attrs := range ads {
		key, err := store.ParseKey([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		l.NewAd(key, "Job")
		for _, a := range attrs {
			n, v, _ := strings.Cut(a, " ")
			l.SetAttr(key, []byte(n), []byte(v))
		}
	}
	if err := l.Commit(context.Background(), store.Position{}); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestEvaluationAgainstJobs(t *testing.T) {
	db := testDB(t, map[string][]string{
		"1.-1": {`Owner "alice"`, "RequestMemory 4096", "Limit (RequestMemory * 2)", "Done ((JobStatus == 4) && (CurrentTime - CompletionDate < 100))"},
		"1.0":  {"JobStatus 4", "CompletionDate 950", `Cmd "C:\Users\alice\a.exe"`, "Broken (1 +"},
		"1.1":  {"JobStatus 2", "RequestMemory 100", `Owner "ALICE"`},
		"2.0":  {"JobStatus 1", "One 1", "Real 2.5"},
	})
	tests := []struct {
		expr string
		want []string // results per job in key order
	}{
		{"Limit", []string{"8192", "200", "undefined"}},             // through an attribute that references another, chained
		{"Done", []string{"true", "false", "undefined"}},            // CurrentTime supplied when the job lacks it
		{`Owner == "alice"`, []string{"true", "true", "undefined"}}, // == ignores case
		{`Owner =?= "alice"`, []string{"true", "false", "false"}},   // =?= does not
		{"Cmd", []string{`C:\Users\alice\a.exe`, "undefined", "undefined"}},
		{"Broken", []string{"error", "undefined", "undefined"}},
		{"Real * 2", []string{"undefined", "undefined", "5.0"}},
		{"JobStatus == 2.0", []string{"false", "true", "false"}},
	}
	env := NewEnv(1000)
	for _, tt := range tests {
		x, err := ParseExpr(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		db.View(func(s *store.Snapshot) error {
			for job := range s.Jobs(store.AllJobs[0], store.AllJobs[1]) {
				env.Bind(job, x)
				got = append(got, show(env.Eval(x)))
			}
			return nil
		})
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestSelectionRun(t *testing.T) {
	db := testDB(t, map[string][]string{
		"1.-1": {`Owner "alice"`}, "1.0": {"JobStatus 1"}, "1.1": {"JobStatus 2"},
		"2.-1": {`Owner "bob"`}, "2.0": {"JobStatus 5"},
		"3.0": {`Owner "carol"`, "JobStatus 1"}, "0.0": {`Owner "header"`}, "3.-2": {`Owner "x"`},
		"4.0": {"JobStatus 1", "One 1"},
	})
	tests := []struct {
		args       []string
		constraint string
		limit      int
		want       string
	}{
		{nil, "", 0, "1.0 1.1 2.0 3.0 4.0"},
		{[]string{"ALICE"}, "", 0, "1.0 1.1"},
		{[]string{"bob", "3"}, "", 0, "2.0 3.0"},
		{[]string{"1.1", "2"}, "", 0, "1.1 2.0"},
		{[]string{"alice"}, "JobStatus == 2", 0, "1.1"},
		{nil, "JobStatus != 1", 0, "1.1 2.0"},
		{nil, "One", 0, "4.0"}, // a non-zero number is true
		{nil, "", 2, "1.0 1.1"},
		{[]string{"nobody"}, "", 0, ""},
		{nil, "Owner == undefined", 0, ""},
	}
	for _, tt := range tests {
		sel, err := parseSelection(tt.args, tt.constraint)
		if err != nil {
			t.Fatal(err)
		}
		for _, noIndex := range []bool{false, true} {
			var got []string
			db.View(func(s *store.Snapshot) error {
				_, err := sel.Run(context.Background(), s, NewEnv(0), RunOptions{Limit: tt.limit, NoIndex: noIndex}, func(j store.Job) error {
					got = append(got, j.Key.String())
					return nil
				})
				return err
			})
			if strings.Join(got, " ") != tt.want {
				t.Errorf("args %v constraint %q limit %d no-index %v: %v, want %s", tt.args, tt.constraint, tt.limit, noIndex, got, tt.want)
			}
		}
	}
}

func TestTotalsLine(t *testing.T) {
	var tot Totals
	// 6 is running, 8 (failed) completed; 9, 10 and unknown states count
	// nowhere, not even in the jobs (CONDOR_Q.md §5.9).
	for _, st := range []int64{1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0} {
		tot.Add(st, 1)
	}
	if got, want := tot.String(), "9 jobs; 2 completed, 1 removed, 2 idle, 2 running, 1 held, 1 suspended"; got != want {
		t.Errorf("totals %q, want %q", got, want)
	}
}

// show formats a value for the tests: strings bare, reals with a point.
func show(v classad.Value) string {
	switch {
	case v.IsString():
		s, _ := v.StringValue()
		return s
	case v.IsReal():
		f, _ := v.RealValue()
		return strconv.FormatFloat(f, 'f', -1, 64) + map[bool]string{true: ".0", false: ""}[f == float64(int64(f))]
	}
	return v.String()
}
