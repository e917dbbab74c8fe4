package main

// Tests of issue 17's hostile inputs, each reproduced as reported: the
// daemon must stay up, answer, and hold the truth afterwards.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qindex/qindex/exporter"
)

// TestInvalidUTF8OwnerInMetrics: one invalid UTF-8 byte in an Owner used to
// panic the collector (MustNewConstMetric) and take the daemon down, again
// on every restart.
func TestInvalidUTF8OwnerInMetrics(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	long := strings.Repeat("x", 300)
	text := "107 1 CreationTimestamp 1700000000\n101 01.-1 Job Machine\n103 01.-1 Owner \"bad\xff\xfeowner\"\n" +
		"101 1.0 Job Machine\n103 1.0 ProcId 0\n103 1.0 JobStatus 1\n" +
		"101 1.1 Job Machine\n103 1.1 ProcId 1\n103 1.1 JobStatus 2\n103 1.1 Owner \"bad\xfeowner\"\n" +
		"101 2.0 Job Machine\n103 2.0 Owner \"" + long + "\xe2\x82\xac\"\n103 2.0 JobStatus 1\n"
	if err := os.WriteFile(log, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for run := range 2 { // and again after a restart
		d := startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond,
			listen: "127.0.0.1:0", telemetryPath: "/metrics",
			metrics: exporter.Options{Interval: 10 * time.Millisecond}})
		waitFor(t, "the load", func() bool { return caughtUp(t, status(t, db), log) })
		url := status(t, db).Daemon.Metrics
		waitFor(t, "a collection", func() bool {
			_, ok := value(scrapeMetrics(t, url), "qindex_collector_last_success_timestamp_seconds")
			return ok
		})
		time.Sleep(50 * time.Millisecond) // a few more collections
		m := scrapeMetrics(t, url)
		if v, _ := value(m, "htcondor_queue_jobs", "status", "idle"); v != 2 {
			t.Errorf("run %d: %v idle jobs, want 2", run, v)
		}
		// The two spellings of the bad name differ only in invalid bytes:
		// one label, U+FFFD for each run of them.
		if v, _ := value(m, "htcondor_queue_owner_jobs", "owner", "bad\uFFFDowner", "status", "idle"); v != 1 {
			t.Errorf("run %d: owner bad\\uFFFDowner has %v idle jobs, want 1", run, v)
		}
		if v, _ := value(m, "htcondor_queue_owner_jobs", "owner", "bad\uFFFDowner", "status", "running"); v != 1 {
			t.Errorf("run %d: owner bad\\uFFFDowner has %v running jobs, want 1", run, v)
		}
		// A long name is cut to 128 bytes, at a character boundary.
		if v, _ := value(m, "htcondor_queue_owner_jobs", "owner", long[:128], "status", "idle"); v != 1 {
			t.Errorf("run %d: the long owner's label is not its first 128 bytes", run)
		}
		if f, _ := value(m, "qindex_collector_failures_total"); f != 0 {
			t.Errorf("run %d: %v failed collections", run, f)
		}
		if code := d.stop(t); code != 0 {
			t.Fatalf("run %d: the daemon exited %d:\n%s", run, code, d.stderr.String())
		}
	}
}
