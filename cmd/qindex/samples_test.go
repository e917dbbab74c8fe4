package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sample returns the path of a real job_queue.log from ../shared/samples,
// skipping the test when the samples are not beside the project.
func sample(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "samples", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("sample %s not available: %v", name, err)
	}
	return path
}

func TestRealJobSubmissionSample(t *testing.T) {
	log := sample(t, "real_job_submission.log")
	db := filepath.Join(t.TempDir(), "q.db")
	out, errOut, code := runCLI(t, "ingest", "--log", log, "--db", db)
	if code != 0 || !strings.Contains(out, " 1 jobs, ") || !strings.Contains(out, " 0 corrupt") {
		t.Fatalf("ingest: exit %d %q %s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "q", "--db", db, "--af", "ClusterId,ProcId,Owner,JobStatus,Cmd")
	if code != 0 || out != "1 0 bbockelm 5 sleep\n" {
		t.Errorf("q: exit %d %q %s; want exactly job 1.0 of bbockelm, held, running sleep", code, out, errOut)
	}
	out, _, _ = runCLI(t, "q", "--db", db, "--long")
	for _, want := range []string{`Iwd = "/var/folders/`, `HoldReason = "Spooling input data files"`, `SUBMIT_Cmd = "/bin/sleep"`, `Owner = "bbockelm"`, "TransferOutputRemaps = Undefined"} {
		if !strings.Contains(out, want) {
			t.Errorf("--long lacks %q", want)
		}
	}
}

func TestHTCondor88Sample(t *testing.T) {
	log := sample(t, "htcondor_8_8_python_tests_job_queue.log")
	db := filepath.Join(t.TempDir(), "q.db")
	out, errOut, code := runCLI(t, "ingest", "--log", log, "--db", db)
	if code != 0 || !strings.Contains(out, " 1 jobs, ") || !strings.Contains(out, " 0 corrupt") {
		t.Fatalf("ingest: exit %d %q %s", code, out, errOut)
	}
	// The ads carry no ClusterId or ProcId: the job is known by its key,
	// and QDate comes from its cluster ad (written after the job).
	out, _, code = runCLI(t, "q", "--db", db, "--af", "ClusterId,QDate,NumJobMatches,CumulativeSlotTime,BufferSize")
	if code != 0 || out != "undefined 1397662902 3 54.0 524288\n" {
		t.Errorf("q: %q; want job 23605.0 chained to its cluster ad", out)
	}
	out, _, _ = runCLI(t, "q", "--db", db, "-nobatch")
	if !strings.Contains(out, "23605.0 ") || !strings.Contains(out, "Total for query: 0 jobs; 0 completed") {
		// The job has no JobStatus: the schedd's totals count it nowhere.
		t.Errorf("table:\n%s", out)
	}
}
