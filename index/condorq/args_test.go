package condorq

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseArguments(t *testing.T) {
	tests := []struct {
		args []string
		view View
		// constraint is the and of the constraints, as Selection builds it.
		constraint string
		owners     []string
		clusters   []int64
		jobs       [][2]int64
		dagIDs     []int64 // the ids that also select a DAG's jobs
		onlyMine   bool
		check      func(*Query) string
	}{
		{args: nil, view: ViewBatch, onlyMine: true},
		{args: []string{"-nobatch"}, view: ViewNormal, onlyMine: true},
		{args: []string{"-nob"}, view: ViewNormal, onlyMine: true},
		{args: []string{"--nobatch"}, view: ViewNormal, onlyMine: true},
		{args: []string{"-allusers"}, view: ViewBatch},
		{args: []string{"-all"}, view: ViewBatch},
		{args: []string{"-al"}, view: ViewBatch},
		{args: []string{"-all-users"}, view: ViewBatch},
		// Owners and ids are or'd and turn "only my jobs" off; in the batch
		// view a cluster id (or C.0) also selects its DAG.
		{args: []string{"alice", "12", "13.0", "14.2"}, view: ViewBatch, owners: []string{"alice"}, clusters: []int64{12},
			jobs: [][2]int64{{13, 0}, {14, 2}}, dagIDs: []int64{12, 13}},
		{args: []string{"-nobatch", "12"}, view: ViewNormal, clusters: []int64{12}},
		{args: []string{"-dag", "-nobatch", "12"}, view: ViewDAG, clusters: []int64{12}, dagIDs: []int64{12}},
		{args: []string{"12.", "+7", "12x", "1.2.3", "3.-1"}, view: ViewBatch, owners: []string{"12x", "1.2.3"}, clusters: []int64{12, 7, 3}, dagIDs: []int64{12, 7, 3}},
		// -af takes every following word not starting with '-'; a lone '-'
		// ends the list; qindex's A,B lists are split.
		{args: []string{"-af", "Owner", "ClusterId", "-", "bob"}, view: ViewColumns, owners: []string{"bob"},
			check: columns("Owner", "ClusterId")},
		{args: []string{"-af:jh", "Owner,ClusterId", "strcat(Owner, \",\")"}, view: ViewColumns, onlyMine: true,
			check: func(q *Query) string {
				if q.Layout != "jh" {
					return "layout " + q.Layout
				}
				return columns("Owner", "ClusterId", `strcat(Owner, ",")`)(q)
			}},
		{args: []string{"-autoformat:V", "Owner"}, view: ViewColumns, onlyMine: true, check: func(q *Query) string {
			if q.Columns[0].Mode != 'V' {
				return "mode " + string(q.Columns[0].Mode)
			}
			return ""
		}},
		// A column that does not parse drops itself and every later one.
		{args: []string{"-af", "Owner", "((", "JobStatus", "-format", "%d", "ProcId"}, view: ViewColumns, onlyMine: true, check: columns("Owner")},
		{args: []string{"-format", "%d\\n", "ClusterId", "-f", "%s", "Owner"}, view: ViewColumns, onlyMine: true, check: columns("ClusterId", "Owner")},
		{args: []string{"-run"}, view: ViewRun, onlyMine: true, constraint: "JobStatus == 2 || JobStatus == 6 || JobStatus == 7"},
		{args: []string{"-r", "-nobatch"}, view: ViewRun, onlyMine: true, constraint: "JobStatus == 2 || JobStatus == 6 || JobStatus == 7"},
		{args: []string{"-run", "-batch"}, view: ViewBatch, onlyMine: true, constraint: "JobStatus == 2 || JobStatus == 6 || JobStatus == 7"},
		{args: []string{"-hold", "-batch"}, view: ViewHold, onlyMine: true, constraint: "JobStatus == 5"},
		{args: []string{"-held:3/0,12,x"}, view: ViewHold, onlyMine: true, constraint: "(JobStatus == 5) && ((HoldReasonCode==3 && HoldReasonSubCode==0) || HoldReasonCode==12)"},
		{args: []string{"-idl", "-constraint", "Owner == \"x\"", "-c", "RequestCpus > 1"}, view: ViewIdle, onlyMine: true,
			constraint: `(Owner == "x") && (RequestCpus > 1) && (JobStatus == 1)`},
		{args: []string{"-hold-codes"}, view: ViewHoldCodes, onlyMine: true, constraint: "JobStatus == 5"},
		{args: []string{"-io"}, view: ViewIO, onlyMine: true, constraint: "JobUniverse == 1 || TransferQueued =?= true || TransferringOutput =?= true || TransferringInput =?= true"},
		{args: []string{"-tot"}, view: ViewTotals, onlyMine: true},
		{args: []string{"-l"}, view: ViewLong, onlyMine: true},
		{args: []string{"-long:nosort", "-at", "Owner,JobStatus ClusterId"}, view: ViewLong, onlyMine: true, check: func(q *Query) string {
			if !q.NoSort || !reflect.DeepEqual(q.Attributes, []string{"Owner", "JobStatus", "ClusterId"}) {
				return "attributes"
			}
			return ""
		}},
		{args: []string{"-js"}, view: ViewJSON, onlyMine: true},
		{args: []string{"-long", "-json"}, view: ViewJSON, onlyMine: true},
		{args: []string{"-long:jsonl"}, view: ViewJSONL, onlyMine: true},
		{args: []string{"-xml"}, view: ViewXML, onlyMine: true},
		{args: []string{"-cp", "-nob"}, view: ViewNormal, onlyMine: true, check: func(q *Query) string {
			if q.Time != TimeCPU {
				return "time " + string(q.Time)
			}
			return ""
		}},
		{args: []string{"-cum", "-nob", "-wide:100"}, view: ViewNormal, onlyMine: true, check: func(q *Query) string {
			if q.Time != TimeCumulative || q.Width != 100 {
				return "time or width"
			}
			return ""
		}},
		{args: []string{"-batch:z", "-lim", "5"}, view: ViewBatch, onlyMine: true, check: func(q *Query) string {
			if q.BatchZero != "0" || q.Limit != 5 {
				return "zero or limit"
			}
			return ""
		}},
		{args: []string{"-wide", "-verbose", "-expert", "-D", "FULLDEBUG", "-direct", "schedd"}, view: ViewBatch, onlyMine: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			q, err := Parse(tt.args, CondorDefaults)
			if err != nil {
				t.Fatal(err)
			}
			sel, err := q.Selection(Options{Me: "me"})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if sel.Constraint != nil {
				got = sel.Constraint.Text
			}
			owners := tt.owners
			if tt.onlyMine {
				owners = []string{"me"}
			}
			var jobs [][2]int64
			for _, j := range sel.Jobs {
				jobs = append(jobs, [2]int64{j.Cluster, j.Proc})
			}
			switch {
			case q.View != tt.view:
				t.Errorf("view %s, want %s", q.View, tt.view)
			case got != tt.constraint:
				t.Errorf("constraint %q, want %q", got, tt.constraint)
			case q.OnlyMine != tt.onlyMine || !reflect.DeepEqual(sel.Owners, owners):
				t.Errorf("only mine %v, owners %q; want %v, %q", q.OnlyMine, sel.Owners, tt.onlyMine, owners)
			case !reflect.DeepEqual(sel.Clusters, tt.clusters) || !reflect.DeepEqual(jobs, tt.jobs) || !reflect.DeepEqual(sel.DAGClusters, tt.dagIDs):
				t.Errorf("clusters %v, jobs %v, DAG ids %v; want %v, %v, %v", sel.Clusters, jobs, sel.DAGClusters, tt.clusters, tt.jobs, tt.dagIDs)
			}
			if tt.check != nil {
				if msg := tt.check(q); msg != "" {
					t.Errorf("%s: %+v", msg, q)
				}
			}
		})
	}
}

func columns(args ...string) func(*Query) string {
	return func(q *Query) string {
		var got []string
		for _, c := range q.Columns {
			got = append(got, c.Arg)
		}
		if !reflect.DeepEqual(got, args) {
			return "columns " + strings.Join(got, " | ")
		}
		return ""
	}
}

func TestParseRefusals(t *testing.T) {
	tests := []struct {
		args []string
		msg  string // condor_q's message, or the reason qindex gives
	}{
		{[]string{"-foo"}, "Error: unrecognized argument -foo"},
		{[]string{"-"}, "Error: unrecognized argument -"},
		{[]string{"-nobatchx"}, "Error: unrecognized argument -nobatchx"},
		{[]string{"--nob"}, "Error: unrecognized argument --nob"},
		{[]string{"-goodput"}, "Error: unrecognized argument -goodput"},
		{[]string{"-nobatch:x"}, "Error: unrecognized argument -nobatch:x"},
		{[]string{"-Run"}, "Error: unrecognized argument -Run"},
		{[]string{"-limit"}, "Error: -limit requires the max number of results as an argument."},
		{[]string{"-limit", "x"}, "Error: Unable to convert (x) to a number for -limit."},
		{[]string{"-limit", "0"}, "Error: 0 is not a valid for -limit."},
		{[]string{"-constraint"}, "Error: -constraint requires another parameter"},
		{[]string{"-attributes"}, "Error: -attributes requires a list of attributes to show"},
		{[]string{"-format", "%d"}, "Error: -format requires format and attribute parameters"},
		{[]string{"-af"}, "Error: -autoformat requires at least one attribute parameter"},
		{[]string{"-af", "-nobatch"}, "Error: -autoformat requires at least one attribute parameter"},
		{[]string{"-run", "-hold"}, "-run and -hold/held or -idle are incompatible"},
		{[]string{"-idle", "-hold-codes"}, "-hold-codes incompatible with -idle or -run"},
		{[]string{"-currentrun", "-cumulative-time"}, "Error: -currentrun can't be used with -cumulative-time"},
		{[]string{"-cum", "-cum"}, "Error: -cumulative-time can't be used with -currentrun"},
		{[]string{"-batch", "-af", "Owner"}, "Error: -batch conflicts with -format and -af"},
		{[]string{"-xml", "-json"}, "Error: Cannot print as both XML and JSON"},
		{[]string{"-better-analyze"}, whySlots},
		{[]string{"-an"}, whySlots},
		{[]string{"-global"}, whyCollector},
		{[]string{"-name", "schedd@x"}, whyCollector},
		{[]string{"-pool", "cm"}, whyCollector},
		{[]string{"-submitter", "bob"}, whyCollector},
		{[]string{"-s", "bob"}, whyCollector},
		{[]string{"-a", "<1.2.3.4:9618>"}, whyCollector},
		{[]string{"-autocluster"}, whyAggregate},
		{[]string{"-u", "job.log"}, whyFiles},
		{[]string{"-direct", "startd"}, "Error: -direct: 'startd' is not a valid value; only schedd is"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := Parse(tt.args, CondorDefaults)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v, want one saying %q", err, tt.msg)
			}
			var ue *UsageError
			var un *UnsupportedError
			if !errors.As(err, &ue) && !errors.As(err, &un) {
				t.Errorf("error %T is neither a usage error nor a refusal", err)
			}
		})
	}
	for _, a := range []string{"-help", "-h", "--help"} {
		if _, err := Parse([]string{a}, CondorDefaults); !errors.Is(err, ErrHelp) {
			t.Errorf("%s: %v, want help", a, err)
		}
	}
	if _, err := Parse([]string{"-v"}, CondorDefaults); !errors.Is(err, ErrVersion) {
		t.Errorf("-v: %v, want the version", err)
	}
}

func TestSiteDefaults(t *testing.T) {
	q, _ := Parse(nil, Defaults{OnlyMyJobs: false, BatchIsDefault: false})
	if q.View != ViewNormal || q.OnlyMine {
		t.Errorf("view %s, only mine %v; want the per-job view of every user", q.View, q.OnlyMine)
	}
	q, _ = Parse([]string{"-batch"}, Defaults{})
	if q.View != ViewBatch {
		t.Errorf("-batch: view %s", q.View)
	}
}

// FuzzParse: any command line parses or is refused, and a parsed one
// builds its selection and its -format specs, without a panic.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"", "-af\x00Owner\x00ClusterId", "-format\x00%-6s|\x00Owner", "-hold:1/2,x\x00alice\x0012.3",
		"-l\x00-attributes\x00a,b", "-format\x00%99999999d\x00Owner", "-wide:9\x00-batch:z\x00-lim\x005", "-constraint\x00((\x00-af\x00-"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, argv string) {
		q, err := Parse(strings.Split(argv, "\x00"), CondorDefaults)
		if err != nil {
			return
		}
		q.Selection(Options{Me: "me"})
		for _, c := range q.Columns {
			if c.Format != "" {
				parsePrintf(c.Format)
			}
		}
	})
}
