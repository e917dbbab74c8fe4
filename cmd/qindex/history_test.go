package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// historyLog is a queue in which three jobs of two owners leave: one
// completes, one is removed, one leaves inside a transaction still open.
const historyLog = `107 1 CreationTimestamp 1700000000
101 0.0 Job Machine
101 01.-1 Job Machine
103 01.-1 Owner "alice"
103 01.-1 QDate 1700000100
103 01.-1 Cmd "/bin/sim"
103 01.-1 Args "-n 5"
101 1.0 Job Machine
103 1.0 ProcId 0
103 1.0 JobStatus 2
103 1.0 ClaimId "<10.0.0.1:9618>#1#secret"
101 1.1 Job Machine
103 1.1 ProcId 1
103 1.1 JobStatus 1
101 02.-1 Job Machine
103 02.-1 Owner "bob"
103 02.-1 QDate 1700000200
103 02.-1 Cmd "/bin/other"
101 2.0 Job Machine
103 2.0 ProcId 0
103 2.0 JobStatus 1
105 
103 1.0 JobStatus 4
103 1.0 CompletionDate 1700003700
103 1.0 RemoteWallClockTime 3600.0
106 
105 
102 1.0
106 
105 
103 2.0 JobStatus 3
103 2.0 EnteredCurrentStatus 1700004000
106 
105 
102 2.0
106 
105 
102 1.1
`

// TestHistoryCommand checks qindex history's table, its other forms, its
// restrictions and --explain, from the file and through the daemon, and
// that a 102 in a transaction still open is not history yet.
func TestHistoryCommand(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	if err := os.WriteFile(log, []byte(historyLog), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runCLI(t, "ingest", "--log", log, "--db", db); code != 0 {
		t.Fatalf("ingest: %d %s%s", code, out, errOut)
	}
	const historyHeader = " ID     OWNER          SUBMITTED   RUN_TIME     ST COMPLETED   CMD            \n"
	table := historyHeader +
		"   2.0   bob            11/14 22:16   0+00:00:00 X      ???     /bin/other\n" +
		"   1.0   alice          11/14 22:15   0+01:00:00 C  11/14 23:15 /bin/sim -n 5\n"
	cases := []struct {
		args []string
		want string
	}{
		{nil, table},
		{[]string{"alice"}, historyHeader + "   1.0   alice          11/14 22:15   0+01:00:00 C  11/14 23:15 /bin/sim -n 5\n"},
		{[]string{"2"}, historyHeader + "   2.0   bob            11/14 22:16   0+00:00:00 X      ???     /bin/other\n"},
		{[]string{"-af", "ClusterId", "ProcId", "Owner", "JobStatus"}, "undefined 0 bob 3\nundefined 0 alice 4\n"},
		{[]string{"-limit", "1", "-af", "ProcId", "Owner"}, "0 bob\n"},
		{[]string{"-constraint", "JobStatus == 4", "-af", "Owner", "CompletionDate"}, "alice 1700003700\n"},
		{[]string{"-completedsince", "1700003800", "-af", "Owner"}, "bob\n"},
		{[]string{"-since", "2.0", "-af", "Owner"}, ""},
		{[]string{"-since", "1.0", "-af", "Owner"}, "bob\n"},
		{[]string{"-long", "-attributes", "Owner,JobStatus", "1.0"}, "JobStatus = 4\nOwner = \"alice\"\n\n"},
	}
	check := func(how string) {
		t.Helper()
		for _, c := range cases {
			out, errOut, code := runCLI(t, append([]string{"history", "--db", db}, c.args...)...)
			if code != 0 || out != c.want {
				t.Errorf("%s: history %q: exit %d\n%s\nwant\n%s%s", how, c.args, code, out, c.want, errOut)
			}
		}
		_, errOut, code := runCLI(t, "history", "--db", db, "--explain", "alice")
		if code != 0 || !strings.Contains(errOut, `plan: history index: Owner "alice"`) || !strings.Contains(errOut, "matched: 1") {
			t.Errorf("%s: --explain alice: exit %d, %s", how, code, errOut)
		}
		for _, bad := range [][]string{{"-bogus"}, {"-file", "x"}, {"-forwards"}, {"-limit"}, {"-since"}} {
			if _, errOut, code := runCLI(t, append([]string{"history", "--db", db}, bad...)...); code != 2 || !strings.Contains(errOut, "history: ") {
				t.Errorf("%s: history %q: exit %d, %q; want 2 and a message", how, bad, code, errOut)
			}
		}
	}
	check("from the file")
	d := startDaemon(t, log, db, 10*time.Millisecond)
	check("through the daemon")
	// The open transaction commits: job 1.1 leaves.
	appendFile(t, log, []byte("106 \n"))
	waitFor(t, "job 1.1 in the history", func() bool {
		out, _, _ := runCLI(t, "history", "--db", db, "1.1", "-af", "ProcId")
		return out == "1\n"
	})
	d.stop(t)
}
