package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qindex/qindex/exporter"
)

// deployFile is the path of a file of deploy/.
func deployFile(name string) string { return filepath.Join("..", "..", "deploy", name) }

// realScrape runs a daemon with metrics over the fixture queue and returns
// one scrape's text.
func realScrape(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	copyFixture(t, "queue.log", log)
	d := startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond,
		listen: "127.0.0.1:0", telemetryPath: "/metrics", metrics: exporter.Options{Interval: 50 * time.Millisecond}})
	t.Cleanup(func() { d.stop(t) })
	waitFor(t, "the first load", func() bool { return loaded(t, status(t, db), log) })
	url := status(t, db).Daemon.Metrics
	waitFor(t, "a collection", func() bool {
		v, ok := value(scrapeMetrics(t, url), "qindex_collector_last_collection_success")
		return ok && v == 1
	})
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metricNames returns the metric names a PromQL expression names: the
// identifiers of qindex's families, and up.
func metricNames(expr string) []string {
	var names []string
	for _, id := range regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`).FindAllString(expr, -1) {
		if strings.HasPrefix(id, "htcondor_") || strings.HasPrefix(id, "qindex_") || id == "up" {
			names = append(names, id)
		}
	}
	return names
}

// checkNames fails for every name in exprs that the scrape does not expose.
func checkNames(t *testing.T, what string, exprs []string, scrape string) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no queries found", what)
	}
	for _, x := range exprs {
		for _, n := range metricNames(x) {
			if n == "up" { // Prometheus' own, per target
				continue
			}
			if !strings.Contains(scrape, "\n"+n+"{") && !strings.Contains(scrape, "\n"+n+" ") {
				t.Errorf("%s: %q names %s, which a scrape does not expose", what, x, n)
			}
		}
	}
}

// TestDeployQueriesNameRealMetrics: the dashboard is valid JSON, and every
// query of the dashboard and of the alert rules names only metrics a real
// scrape exposes.
func TestDeployQueriesNameRealMetrics(t *testing.T) {
	scrape := realScrape(t)
	b, err := os.ReadFile(deployFile("grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(dash)
	checkNames(t, "dashboard", exprs, scrape)

	rules, err := os.ReadFile(deployFile("alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	exprs = nil
	for line := range strings.SplitSeq(string(rules), "\n") {
		if x, ok := strings.CutPrefix(strings.TrimSpace(line), "expr: "); ok {
			exprs = append(exprs, x)
		}
	}
	checkNames(t, "alert rules", exprs, scrape)
}

// TestPromtool: the alert rules check and pass their unit tests, and a
// scrape passes 'promtool check metrics'. CI installs promtool and sets
// QINDEX_REQUIRE_PROMTOOL; elsewhere the test is skipped without it.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("QINDEX_REQUIRE_PROMTOOL") != "" {
			t.Fatal("promtool is required (QINDEX_REQUIRE_PROMTOOL) and not on PATH")
		}
		t.Skip("promtool is not on PATH (apt-get install prometheus); CI runs this")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = deployFile("")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(realScrape(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestManPageIsCurrent: deploy/qindex.1 is what 'qindex man' prints now
// ('make deploy/qindex.1' makes it again).
func TestManPageIsCurrent(t *testing.T) {
	out, errOut, code := runCLI(t, "man")
	if code != 0 {
		t.Fatal(errOut)
	}
	page, err := os.ReadFile(deployFile("qindex.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(page, []byte(out)) {
		t.Error("deploy/qindex.1 is not what 'qindex man' prints: run 'make deploy/qindex.1'")
	}
	for _, want := range []string{".TH qindex 1", "serve", "--access.mode", "--web.config.file"} {
		if !strings.Contains(out, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
}

// TestUnitFlagsAreServes: every flag the systemd unit gives serve is one
// serve takes.
func TestUnitFlagsAreServes(t *testing.T) {
	unit, err := os.ReadFile(deployFile("qindex.service"))
	if err != nil {
		t.Fatal(err)
	}
	exec := regexp.MustCompile(`(?s)ExecStart=(.*?)\n[A-Z#\n]`).FindSubmatch(unit)
	if exec == nil {
		t.Fatal("no ExecStart")
	}
	line := strings.ReplaceAll(string(exec[1]), "\\\n", " ")
	fields := strings.Fields(line)
	if len(fields) < 2 || fields[1] != "serve" {
		t.Fatalf("ExecStart runs %q", line)
	}
	var names []string
	for _, f := range serveCommand(env{}).Flags {
		names = append(names, f.Names()...)
	}
	for _, f := range fields[2:] {
		if n, ok := strings.CutPrefix(f, "--"); ok && !slices.Contains(names, n) {
			t.Errorf("the unit gives serve --%s, which it does not take", n)
		}
	}
}
