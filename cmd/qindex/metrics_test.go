package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/qindex/qindex/exporter"
	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/ingest/loggen"
)

// scrapeMetrics returns the families served at url, by name.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return families
}

// value returns the value of the series of family name whose labels
// include labels (name, value pairs); ok is false if there is none.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// TestDaemonServesMetrics runs the daemon with its exporter on a live log:
// the metrics must follow the queue and the daemon's progress.
func TestDaemonServesMetrics(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	g := loggen.New(loggen.Config{Seed: 11, TargetJobs: 1500, Owners: 20})
	var b bytes.Buffer
	g.WriteQueue(&b, 1000, false)
	os.WriteFile(log, b.Bytes(), 0o600)
	startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond,
		listen: "127.0.0.1:0", telemetryPath: "/metrics",
		metrics: exporter.Options{Interval: 0, MaxOwners: 5}}) // a collection per scrape
	waitFor(t, "the first load", func() bool { return caughtUp(t, status(t, db), log) })

	for round := range 3 {
		st := status(t, db)
		if st.Daemon == nil || !strings.HasPrefix(st.Daemon.Metrics, "http://127.0.0.1:") {
			t.Fatalf("status gives no metrics URL: %+v", st.Daemon)
		}
		// The daemon publishes its position just after each commit, and
		// its record counts after each poll, which status may have read
		// before: wait for the scrape to show them.
		var m map[string]*dto.MetricFamily
		waitFor(t, "the metrics to show the applied position", func() bool {
			m = scrapeMetrics(t, st.Daemon.Metrics)
			off, _ := value(m, "qindex_ingest_applied_offset_bytes")
			recs, _ := value(m, "qindex_ingest_records_total")
			return off == float64(st.Offset) && recs == float64(st.Records)
		})
		for _, name := range index.StatusNames[1:] {
			if v, ok := value(m, "htcondor_queue_jobs", "status", name); !ok || v != float64(st.JobsByStatus[name]) {
				t.Errorf("round %d: htcondor_queue_jobs{status=%q} = %v (present %v), status says %d", round, name, v, ok, st.JobsByStatus[name])
			}
		}
		if n := len(m["htcondor_queue_owner_jobs"].GetMetric()); n != 6*10 {
			t.Errorf("round %d: %d owner series, want 5 owners and _other by 10 statuses", round, n)
		}
		fi, _ := os.Stat(log)
		for name, want := range map[string]float64{
			"qindex_ingest_log_size_bytes":                 float64(fi.Size()),
			"qindex_ingest_applied_offset_bytes":           float64(st.Offset),
			"qindex_ingest_lag_bytes":                      0,
			"qindex_ingest_records_total":                  float64(st.Records), // one generation, replayed by this daemon
			"qindex_ingest_transactions_total":             float64(st.Transactions),
			"qindex_ingest_corrupt_records_total":          0,
			"qindex_ingest_reloads_total":                  1,
			"qindex_ingest_errors_total":                   0,
			"qindex_collector_failures_total":              0,
			"qindex_ingest_last_applied_timestamp_seconds": float64(st.LastApplied.UnixNano()) / 1e9,
		} {
			if v, ok := value(m, name); !ok || v != want {
				t.Errorf("round %d: %s = %v (present %v), want %v", round, name, v, ok, want)
			}
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "qindex_collector_last_duration_seconds"} {
			if _, ok := value(m, name); !ok {
				t.Errorf("no %s", name)
			}
		}
		// The schedd goes on; the daemon catches up.
		f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		g.Run(f, 300)
		f.Close()
		waitFor(t, "the daemon to catch up", func() bool { return caughtUp(t, status(t, db), log) })
	}
}

func TestServeFlags(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	os.WriteFile(log, nil, 0o600)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		flags []string
		code  int
		want  string
	}{
		{[]string{"--collect-interval", "-1s"}, 2, "--collect-interval must not be negative"},
		{[]string{"--metrics.max-owners", "0"}, 2, "--metrics.max-owners must be at least 1"},
		{[]string{"--web.telemetry-path", "metrics"}, 2, `--web.telemetry-path must start with /, not "metrics"`},
		{[]string{"--web.listen-address", taken.Addr().String()}, 1, "--web.listen-address: listen tcp " + taken.Addr().String()},
		{[]string{"--web.listen-address", "nonsense"}, 1, "--web.listen-address: listen tcp: address nonsense"},
	} {
		_, stderr, code := runCLI(t, append([]string{"serve", "--log", log, "--db", db}, c.flags...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want exit %d and %q", c.flags, code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a serve that failed on its flags created the database")
	}
}
