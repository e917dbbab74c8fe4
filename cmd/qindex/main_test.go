package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixedNow is the clock of the golden outputs.
var fixedNow = time.Unix(1763830000, 0)

// cliMu serialises runCLI: the CLI package keeps its help flag and command
// in package variables that each run writes, so two runs in one process
// race (a real qindex process runs one).
var cliMu sync.Mutex

// runCLI runs qindex with args and returns its output and exit status. It
// runs as a user whose name cannot be found, for whom qindex q, as
// condor_q, lists every user's jobs.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIAs(t, "", args...)
}

// runCLIAs is runCLI for the OS user me.
func runCLIAs(t *testing.T, me string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runAt(t, me, fixedNow, args...)
}

// runAt is runCLIAs at the clock now, in UTC.
func runAt(t *testing.T, me string, now time.Time, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cliMu.Lock()
	defer cliMu.Unlock()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"qindex"}, args...), env{
		stdout: &out, stderr: &errOut, now: func() time.Time { return now }, location: time.UTC, user: me,
	})
	noSecrets(t, fmt.Sprintf("qindex %v", args), out.String()+errOut.String())
	return out.String(), errOut.String(), code
}

// noSecrets fails the test if text shows a value of a secret attribute
// (FORMAT.md §6) of the fixtures' or the generator's logs: their ClaimIds
// are "<10.0.0.N:9618>#...". Every command run and every daemon log of
// these tests passes through it.
func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, secret := range []string{":9618>#", "#1#secret"} {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows a secret (%q):\n%.1000s", what, secret, text)
		}
	}
}

// ingestFixture replays testdata/<name> into a new db and returns its path.
func ingestFixture(t *testing.T, name string) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "q.db")
	out, errOut, code := runCLI(t, "ingest", "--log", filepath.Join("..", "..", "testdata", name), "--db", db)
	if code != 0 {
		t.Fatalf("ingest %s: exit %d: %s", name, code, errOut)
	}
	if !strings.HasPrefix(out, "ingest: ") || !strings.Contains(out, " jobs, ") {
		t.Fatalf("ingest summary: %q", out)
	}
	if out, errOut, code := runCLI(t, "check", "--db", db); code != 0 {
		t.Fatalf("check after ingest %s: exit %d: %s%s", name, code, out, errOut)
	}
	return db
}

// goldenQueries run against both fixtures: queue.log and its compaction
// snapshot replay to the same queue, so they share the golden files.
var goldenQueries = []struct {
	name string
	args []string
}{
	{"table", []string{"-nobatch", "-allusers"}},
	{"totals", []string{"--totals", "-allusers"}},
	{"af", []string{"-allusers", "--af", "ClusterId,ProcId,Owner,JobStatus,Cmd,Args,HoldReason"}},
	{"af-expressions", []string{"-allusers", "--af", `ClusterId, ProcId, RequestMemory / 1024, LeaveJobInQueue, JobMachineAttrs, strcat(Owner, "-", ProcId), RemoteWallClockTime, TransferExecutable, Environment`}},
	{"long", []string{"--long", "-allusers"}},
	{"json", []string{"--json", "-allusers"}},
	{"args", []string{"bob", "1.1", "3", "--af", "ClusterId,ProcId,Owner,JobStatus"}},
	{"constraint", []string{"--constraint", `JobStatus == 5 && Owner =?= "alice"`, "--af", "ClusterId,ProcId,HoldReasonCode,HoldReason"}},
	{"constraint-case", []string{"--constraint", `Owner == "ALICE"`, "--totals"}},
	{"owner-edit", []string{"dave", "--af", "ClusterId,ProcId,Owner,JobStatus"}},
	{"limit", []string{"-allusers", "--limit", "2", "--af", "ClusterId,ProcId"}},
	{"job-prio", []string{"2", "--af", "ClusterId,ProcId,JobPrio"}},
}

func TestGolden(t *testing.T) {
	for _, fixture := range []string{"queue.log", "snapshot.log"} {
		db := ingestFixture(t, fixture)
		for _, q := range goldenQueries {
			t.Run(fixture+"/"+q.name, func(t *testing.T) {
				out, errOut, code := runCLI(t, append([]string{"q", "--db", db}, q.args...)...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				out = strings.ReplaceAll(out, db, "q.db") // the banner names the db
				path := filepath.Join("..", "..", "testdata", "golden", q.name+".txt")
				if *update && fixture == "queue.log" {
					if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if out != string(want) {
					t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, out, want)
				}
				scan, errOut, code := runCLI(t, append([]string{"q", "--db", db, "--no-index"}, q.args...)...)
				if scan = strings.ReplaceAll(scan, db, "q.db"); code != 0 || scan != out {
					t.Errorf("--no-index: exit %d %s, output differs from the indexed one:\n%s", code, errOut, scan)
				}
			})
		}
	}
}

func TestJSONIsValidAndKeepsValues(t *testing.T) {
	db := ingestFixture(t, "queue.log")
	out, _, code := runCLI(t, "q", "--db", db, "--json")
	if code != 0 {
		t.Fatal(code)
	}
	var jobs []map[string]any
	if err := json.Unmarshal([]byte(out), &jobs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(jobs) != 7 {
		t.Fatalf("%d jobs, want 7", len(jobs))
	}
	j := jobs[3] // 2.0
	checks := map[string]any{
		"Cmd": `C:\Users\bob\jobs\render.exe`, "Args": "scene.blend  --frames 1-10", "JobPrio": float64(-5),
		"TransferExecutable": false, "Owner": "bob",
	}
	for k, want := range checks {
		if j[k] != want {
			t.Errorf("2.0 %s = %#v, want %#v", k, j[k], want)
		}
	}
	one := jobs[0]
	if one["Requirements"] != `/Expr(((TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (TARGET.Memory >= RequestMemory)))/` {
		t.Errorf("Requirements = %#v", one["Requirements"])
	}
	if one["Environment"] != `MSG="hello  world" PATH=/usr/bin` || one["TransferOutputRemaps"] != nil {
		t.Errorf("Environment %#v TransferOutputRemaps %#v", one["Environment"], one["TransferOutputRemaps"])
	}
	if !strings.Contains(out, `"\/Expr(`) {
		t.Error(`expressions are not written as "\/Expr(...)\/"`)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	db := ingestFixture(t, "snapshot.log") // the snapshot holds a ClaimId, as the schedd writes it
	for _, args := range [][]string{{"--long"}, {"--json"}, {"--af", "ClaimId"}} {
		out, _, _ := runCLI(t, append([]string{"q", "--db", db}, args...)...)
		if strings.Contains(out, "secret") {
			t.Errorf("q %v shows a secret:\n%s", args, out)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	db := ingestFixture(t, "queue.log")
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("hello, this is not a database\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"q without --db", []string{"q"}, 2, "no database: give --db FILE or set QINDEX_DB"},
		{"unknown flag", []string{"q", "--db", db, "--bogus"}, 2, "bogus"},
		{"unparsable constraint", []string{"q", "--db", db, "--constraint", "JobStatus == (("}, 2, "-constraint \"JobStatus == ((\" does not parse"},
		{"af without attributes", []string{"q", "--db", db, "-af", "-l"}, 2, "-autoformat requires at least one attribute parameter"},
		{"two output forms", []string{"q", "--db", db, "-xml", "-json"}, 2, "Cannot print as both XML and JSON"},
		{"negative limit", []string{"q", "--db", db, "--limit", "-1"}, 2, "-1 is not a valid for -limit"},
		{"a pool's question", []string{"q", "--db", db, "-better-analyze"}, 2, "match analysis needs the pool's slot ads"},
		{"bad limit", []string{"q", "--db", db, "--limit", "x"}, 2, "limit"},
		{"missing db", []string{"q", "--db", missing}, 1, missing},
		{"not a db", []string{"q", "--db", notDB}, 1, "not a qindex database"},
		{"ingest without --log", []string{"ingest", "--db", db}, 2, "--log is required"},
		{"ingest of a missing log", []string{"ingest", "--db", filepath.Join(dir, "new.db"), "--log", filepath.Join(dir, "nope.log")}, 1, "nope.log"},
		{"ingest into a foreign file", []string{"ingest", "--db", notDB, "--log", filepath.Join("..", "..", "testdata", "queue.log")}, 1, "not a qindex database"},
		{"unknown command", []string{"frobnicate"}, 2, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and a message with %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Error("q created the missing db")
	}
	if b, _ := os.ReadFile(notDB); string(b) != "hello, this is not a database\n" {
		t.Error("a foreign file was changed")
	}
}

func TestEnvironmentVariables(t *testing.T) {
	db := filepath.Join(t.TempDir(), "q.db")
	t.Setenv("QINDEX_DB", db)
	t.Setenv("QINDEX_LOG", filepath.Join("..", "..", "testdata", "queue.log"))
	if _, errOut, code := runCLI(t, "ingest"); code != 0 {
		t.Fatalf("ingest from the environment: %d %s", code, errOut)
	}
	out, errOut, code := runCLI(t, "q", "--totals")
	if code != 0 || !strings.Contains(out, "\nTotal for query: 7 jobs;") {
		t.Errorf("q from the environment: %d %q %s", code, out, errOut)
	}
}

func TestIngestAgainReplaysNothing(t *testing.T) {
	db := ingestFixture(t, "queue.log")
	out, _, code := runCLI(t, "ingest", "--log", filepath.Join("..", "..", "testdata", "queue.log"), "--db", db)
	if code != 0 || !strings.HasPrefix(out, "ingest: 0 records, 0 transactions, 7 jobs, 0 bytes") {
		t.Errorf("second ingest: %d %q", code, out)
	}
}

func TestEveryCommandHelpHasAnExample(t *testing.T) {
	for _, cmd := range []string{"ingest", "q", "gen", "demo"} {
		out, _, code := runCLI(t, cmd, "--help")
		if code != 0 || !strings.Contains(out, "Example") || !strings.Contains(out, "qindex "+cmd) {
			t.Errorf("%s --help (exit %d) has no example:\n%s", cmd, code, out)
		}
	}
}

// TestGenLeft: gen --left keeps the model running until that many jobs
// have left its queue, and ingesting the log records each in the history.
func TestGenLeft(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "churn.log"), filepath.Join(dir, "q.db")
	out, errOut, code := runCLI(t, "gen", "--out", log, "--jobs", "50", "--left", "400", "--seed", "2")
	var jobs, left int
	if code == 0 {
		fmt.Sscanf(strings.TrimPrefix(out, "gen: "+log+": "), "%d jobs, %d left", &jobs, &left)
	}
	if left < 400 || jobs < 50 {
		t.Fatalf("gen --jobs 50 --left 400: exit %d, %d jobs, %d left\n%s%s", code, jobs, left, out, errOut)
	}
	if out, errOut, code := runCLI(t, "ingest", "--log", log, "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "status", "--db", db)
	if want := fmt.Sprintf("history:         %d jobs that left the queue", left); code != 0 || !strings.Contains(out, want) {
		t.Errorf("status after ingest: exit %d, want %q\n%s%s", code, want, out, errOut)
	}
	if _, errOut, code := runCLI(t, "gen", "--out", log, "--left", "-1"); code != 2 || !strings.Contains(errOut, "--left") {
		t.Errorf("gen --left -1: exit %d: %s", code, errOut)
	}
}

func TestExplain(t *testing.T) {
	db := ingestFixture(t, "queue.log")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--constraint", `Owner == "alice" && JobStatus == 5`, "--af", "ClusterId"},
			[]string{"plan: index [(owner == \"alice\") && (jobstatus == 5): Owner \"alice\" × JobStatus 5; 1 jobs]\n",
				"candidates: 1\nevaluated: 1\nmatched: 1\ntime: "}},
		{[]string{"--constraint", `Owner == "alice"`, "--no-index", "--af", "ClusterId"},
			[]string{"plan: scan of all jobs (--no-index)\ncandidates: all in range (scan)\nevaluated: 7\n"}},
		{[]string{"--totals"}, []string{"plan: index counts", "matched: 7\n"}},
		{[]string{"--totals", "--no-index"}, []string{"plan: scan of all jobs (--no-index)", "matched: 7\n"}},
	}
	for _, tt := range tests {
		out, errOut, code := runCLI(t, append([]string{"q", "--db", db, "--explain"}, tt.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: --explain printed\n%s\nwant it to contain %q", tt.args, errOut, w)
			}
		}
		if strings.Contains(out, "plan:") {
			t.Errorf("%v: the plan went to standard output", tt.args)
		}
	}
}

func TestCheckReportsDamage(t *testing.T) {
	db := ingestFixture(t, "queue.log")
	out, _, code := runCLI(t, "check", "--db", db)
	if code != 0 || !strings.Contains(out, "7 jobs and 1 history entry, indexes and counts agree") {
		t.Fatalf("check of a fresh db: exit %d: %s", code, out)
	}
	// Drop alice's count and the history's index by owner behind qindex's
	// back.
	b, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("history")).DeleteBucket([]byte("by-owner")); err != nil {
			return err
		}
		st := tx.Bucket([]byte(string(tx.Bucket([]byte("meta")).Get([]byte("active")))))
		c := st.Bucket([]byte("counts")).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if strings.Contains(string(k), "alice") {
				return c.Delete()
			}
		}
		return errors.New("no count for alice")
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "check", "--db", db)
	if code != 1 || !strings.Contains(out, db+`: count of Owner "alice", JobStatus `) || !strings.Contains(out, db+": history: no by-owner bucket") || !strings.Contains(errOut, "differences") {
		t.Errorf("check of a damaged db: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, "check", "--db", filepath.Join(t.TempDir(), "none.db")); code != 1 || !strings.Contains(errOut, "none.db") {
		t.Errorf("check of a missing db: exit %d: %s", code, errOut)
	}
}
