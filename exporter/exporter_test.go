package exporter

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
)

// queue is a generated queue replayed into a database.
type queue struct {
	g   *loggen.Generator
	log string
	db  *store.DB
}

// newQueue generates a log of about jobs jobs (owners owners) and loads it.
func newQueue(t testing.TB, jobs, owners int) *queue {
	t.Helper()
	dir := t.TempDir()
	q := &queue{g: loggen.New(loggen.Config{Seed: 7, Owners: owners, TargetJobs: jobs + jobs/5}),
		log: filepath.Join(dir, "job_queue.log")}
	var b bytes.Buffer
	if err := q.g.WriteQueue(&b, jobs, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(q.log, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "queue.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q.db = db
	q.catchUp(t)
	return q
}

func (q *queue) catchUp(t testing.TB) {
	t.Helper()
	if _, err := ingest.CatchUp(context.Background(), q.db, ingest.Options{Log: q.log}); err != nil {
		t.Fatal(err)
	}
}

// run appends n more steps of the model to the log and applies them.
func (q *queue) run(t testing.TB, n int) {
	t.Helper()
	f, err := os.OpenFile(q.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := q.g.Run(f, n); err != nil {
		t.Fatal(err)
	}
	q.catchUp(t)
}

// series is a scrape flattened: "name{label="value",...}" to value, labels
// sorted, histograms as their _bucket, _sum and _count series.
type series map[string]float64

func seriesName(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

func flatten(families []*dto.MetricFamily) series {
	out := series{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName(), lp.GetValue())
			}
			name := mf.GetName()
			switch {
			case m.Gauge != nil:
				out[seriesName(name, labels...)] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[seriesName(name, labels...)] = m.GetCounter().GetValue()
			case m.Untyped != nil:
				out[seriesName(name, labels...)] = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					out[seriesName(name+"_bucket", append(slices.Clone(labels), "le", formatLe(b.GetUpperBound()))...)] = float64(b.GetCumulativeCount())
				}
				out[seriesName(name+"_bucket", append(slices.Clone(labels), "le", "+Inf")...)] = float64(h.GetSampleCount())
				out[seriesName(name+"_sum", labels...)] = h.GetSampleSum()
				out[seriesName(name+"_count", labels...)] = float64(h.GetSampleCount())
			case m.Summary != nil:
				out[seriesName(name+"_count", labels...)] = float64(m.GetSummary().GetSampleCount())
			}
		}
	}
	return out
}

func formatLe(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// with returns the series whose names start with prefix.
func (s series) with(prefix string) series {
	out := series{}
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// truth computes, from the model alone, the queue metrics a collection at
// now must report, with at most maxOwners owners named.
func truth(g *loggen.Generator, now int64, maxOwners int) series {
	statuses := []string{"", "idle", "running", "removed", "completed", "held",
		"transferring_output", "suspended", "failed", "blocked", "preparing"}
	num := func(attrs map[string]string, name string) (float64, bool) {
		v, ok := attrs[strings.ToLower(name)]
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	out := series{}
	for _, st := range statuses[1:] {
		for _, m := range []string{"jobs", "requested_cpus", "requested_memory_bytes", "requested_disk_bytes", "requested_gpus"} {
			out[seriesName("htcondor_queue_"+m, "status", st)] = 0
		}
	}
	owners := map[string]map[string]float64{}
	clusters := map[int64]bool{}
	oldest := math.Inf(1)
	var idleWaits, runTimes []float64
	for _, k := range g.JobKeys() {
		attrs, _ := g.Job(k)
		clusters[k.Cluster] = true
		code, _ := num(attrs, "JobStatus")
		st := statuses[int(code)]
		out[seriesName("htcondor_queue_jobs", "status", st)]++
		owner := strings.Trim(attrs["owner"], `"`)
		if owners[owner] == nil {
			owners[owner] = map[string]float64{}
		}
		owners[owner][st]++
		v, _ := num(attrs, "RequestCpus")
		out[seriesName("htcondor_queue_requested_cpus", "status", st)] += v
		v, _ = num(attrs, "RequestMemory")
		out[seriesName("htcondor_queue_requested_memory_bytes", "status", st)] += v * 1024 * 1024
		v, _ = num(attrs, "RequestDisk")
		out[seriesName("htcondor_queue_requested_disk_bytes", "status", st)] += v * 1024
		v, _ = num(attrs, "RequestGPUs")
		out[seriesName("htcondor_queue_requested_gpus", "status", st)] += v
		u, _ := num(attrs, "JobUniverse")
		out[seriesName("htcondor_queue_universe_jobs", "universe", map[float64]string{5: "vanilla", 7: "scheduler", 12: "local"}[u])]++
		switch st {
		case "held":
			out[seriesName("htcondor_queue_held_jobs", "reason_code", attrs["holdreasoncode"])]++
		case "idle":
			q, _ := num(attrs, "QDate")
			oldest = min(oldest, q)
			since, _ := num(attrs, "EnteredCurrentStatus")
			idleWaits = append(idleWaits, float64(now)-since)
		case "running":
			since, _ := num(attrs, "JobCurrentStartDate")
			runTimes = append(runTimes, float64(now)-since)
		}
	}
	out["htcondor_queue_clusters"] = float64(len(clusters))
	if !math.IsInf(oldest, 1) {
		out["htcondor_queue_oldest_idle_job_submit_timestamp_seconds"] = oldest
	}
	histogramTruth(out, "htcondor_queue_idle_job_wait_seconds", waitBuckets, idleWaits)
	histogramTruth(out, "htcondor_queue_running_job_run_seconds", waitBuckets, runTimes)
	for o, label := range ownerLabels(owners, maxOwners) {
		for _, st := range statuses[1:] {
			out[seriesName("htcondor_queue_owner_jobs", "owner", label, "status", st)] += owners[o][st]
		}
	}
	for _, st := range statuses[1:] {
		out[seriesName("htcondor_queue_owner_jobs", "owner", OtherOwner, "status", st)] += 0
	}
	historyTruth(out, g, maxOwners)
	return out
}

// historyTruth adds to out the history's series: the jobs the model
// destroyed, by how and by owner (folded, the largest maxOwners by name),
// and the completed ones' wall time and queue wait.
func historyTruth(out series, g *loggen.Generator, maxOwners int) {
	for _, how := range leftHows {
		out[seriesName("htcondor_history_jobs_total", "how", how)] = 0
	}
	owners := map[string]map[string]float64{}
	var wall, wait []float64
	for _, attrs := range g.LeftJobs() {
		how := map[string]string{"3": store.LeftRemoved, "4": store.LeftCompleted}[attrs["jobstatus"]]
		if how == "" {
			how = store.LeftOther
		}
		out[seriesName("htcondor_history_jobs_total", "how", how)]++
		owner := strings.ToLower(strings.Trim(attrs["owner"], `"`))
		if owners[owner] == nil {
			owners[owner] = map[string]float64{}
		}
		owners[owner][how]++
		if how != store.LeftCompleted {
			continue
		}
		if v, err := strconv.ParseFloat(attrs["remotewallclocktime"], 64); err == nil {
			wall = append(wall, v)
		}
		s, serr := strconv.ParseInt(attrs["jobstartdate"], 10, 64)
		q, qerr := strconv.ParseInt(attrs["qdate"], 10, 64)
		if serr == nil && qerr == nil && s >= q && q > 0 {
			wait = append(wait, float64(s-q))
		}
	}
	for o, label := range ownerLabels(owners, maxOwners) {
		for how, n := range owners[o] {
			out[seriesName("htcondor_history_owner_jobs_total", "owner", label, "how", how)] += n
		}
	}
	histogramTruth(out, "htcondor_history_completed_job_wall_seconds", store.DurationBounds, wall)
	histogramTruth(out, "htcondor_history_completed_job_queue_wait_seconds", store.DurationBounds, wait)
}

// ownerLabels maps each owner of counts (owner -> label value -> count) to
// the owner label its series carry: its own name for the maxOwners with
// the largest totals, ties by name, OtherOwner for the rest.
func ownerLabels(counts map[string]map[string]float64, maxOwners int) map[string]string {
	total := func(o string) (n float64) {
		for _, v := range counts[o] {
			n += v
		}
		return n
	}
	names := slices.Collect(maps.Keys(counts))
	slices.SortFunc(names, func(a, b string) int {
		if ta, tb := total(a), total(b); ta != tb {
			return int(tb - ta)
		}
		return strings.Compare(a, b)
	})
	labels := make(map[string]string, len(names))
	for i, o := range names {
		labels[o] = o
		if i >= maxOwners {
			labels[o] = OtherOwner
		}
	}
	return labels
}

// histogramTruth adds to out the series of histogram name over bounds
// observing obs.
func histogramTruth(out map[string]float64, name string, bounds, obs []float64) {
	sum := 0.0
	for _, o := range obs {
		sum += o
	}
	for _, le := range bounds {
		n := 0
		for _, o := range obs {
			if o <= le {
				n++
			}
		}
		out[seriesName(name+"_bucket", "le", formatLe(le))] = float64(n)
	}
	out[seriesName(name+"_bucket", "le", "+Inf")] = float64(len(obs))
	out[name+"_sum"] = sum
	out[name+"_count"] = float64(len(obs))
}

// server serves e's metrics, and cs', over HTTP, as serve does.
func server(t testing.TB, e *Exporter, cs ...prometheus.Collector) *httptest.Server {
	t.Helper()
	reg, err := NewRegistry(append([]prometheus.Collector{e}, cs...)...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(e, reg, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// scrape gets url with the Accept header accept (none if empty), checks
// the answer, and returns the families it holds.
func scrape(t testing.TB, url, accept string) []*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if enc := resp.Header.Get("Content-Encoding"); enc == "gzip" {
		// One gzip member, whose checksum and length cover both parts.
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		if rest, _ := io.ReadAll(zr); len(rest) != 0 {
			t.Fatalf("gzip body: %d bytes after the member", len(rest))
		}
	}
	format := expfmt.Format(resp.Header.Get("Content-Type"))
	if format.FormatType() == expfmt.TypeOpenMetrics {
		if n := bytes.Count(body, []byte("# EOF\n")); n != 1 || !bytes.HasSuffix(body, []byte("# EOF\n")) {
			t.Fatalf("OpenMetrics body: %d # EOF lines, ends with %q", n, body[max(0, len(body)-20):])
		}
		body = bytes.TrimSuffix(body, []byte("# EOF\n"))
		format = expfmt.NewFormat(expfmt.TypeTextPlain) // close enough to parse our families
		body = openMetricsToText(body)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	var out []*dto.MetricFamily
	seen := map[string]bool{}
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode the %s body: %v", format, err)
		}
		if seen[mf.GetName()] {
			t.Fatalf("family %s twice", mf.GetName())
		}
		seen[mf.GetName()] = true
		out = append(out, mf)
	}
	return out
}

// openMetricsToText turns what this exporter's OpenMetrics bodies hold
// into the Prometheus text format: counters lose their _total in TYPE and
// HELP lines, and unit lines go.
func openMetricsToText(b []byte) []byte {
	var out bytes.Buffer
	for line := range strings.Lines(string(b)) {
		switch {
		case strings.HasPrefix(line, "# UNIT "):
			continue
		case strings.HasPrefix(line, "# TYPE ") && strings.HasSuffix(line, " counter\n"):
			name := strings.Fields(line)[2]
			line = "# TYPE " + name + "_total counter\n"
		case strings.HasPrefix(line, "# TYPE ") && strings.HasSuffix(line, " unknown\n"):
			line = strings.Replace(line, " unknown\n", " untyped\n", 1)
		case strings.HasPrefix(line, "# HELP "):
			continue
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

func TestScrapeMatchesTruth(t *testing.T) {
	q := newQueue(t, 3000, 30)
	now := time.Unix(q.g.Now()+3600, 0)
	e := New(q.db, Options{Interval: time.Hour, MaxOwners: 10, Now: func() time.Time { return now }})
	srv := server(t, e)
	if got := flatten(scrape(t, srv.URL+"/metrics", "")).with("htcondor_"); len(got) != 0 {
		t.Fatalf("before the first collection: %d queue series", len(got))
	}
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := truth(q.g, now.Unix(), 10)
	for _, accept := range []string{
		"", // Prometheus text
		"application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6",
	} {
		t.Run(strings.Split(accept, ";")[0], func(t *testing.T) {
			families := scrape(t, srv.URL+"/metrics", accept)
			got := flatten(families).with("htcondor_")
			compareSeries(t, got, want)
			// The collector's and the daemon's other metrics are there too.
			all := flatten(families)
			for _, name := range []string{"qindex_collector_collections_total", "qindex_collector_last_collection_success",
				"qindex_collector_last_success_timestamp_seconds", "qindex_collector_failures_total",
				"qindex_collector_last_duration_seconds", "go_goroutines", "process_cpu_seconds_total",
				`promhttp_metric_handler_requests_total{code="200"}`} {
				if _, ok := all[name]; !ok {
					t.Errorf("no %s", name)
				}
			}
			if all["qindex_collector_last_success_timestamp_seconds"] != float64(now.Unix()) {
				t.Errorf("last success %v, want %d", all["qindex_collector_last_success_timestamp_seconds"], now.Unix())
			}
		})
	}
}

func compareSeries(t *testing.T, got, want series) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing %s (want %v)", k, want[k])
		case math.Abs(g-want[k]) > 1e-9*math.Abs(want[k]):
			t.Errorf("%s = %v, want %v", k, g, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %v", k, got[k])
		}
	}
}

func TestPromlint(t *testing.T) {
	q := newQueue(t, 500, 10)
	e := New(q.db, Options{Interval: time.Hour})
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := ingest.Status{Log: q.log, LogSize: 100, CaughtUp: time.Now(), Records: 5}
	srv := server(t, e, NewIngestCollector(func() ingest.Status { return st }))
	families := scrape(t, srv.URL+"/metrics", "")
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// Every queue metric's HELP says it comes from the collection.
	for _, mf := range families {
		if strings.HasPrefix(mf.GetName(), "htcondor_queue_") && !strings.Contains(mf.GetHelp(), "--collect-interval") {
			t.Errorf("%s: HELP %q does not say it is refreshed by the collector", mf.GetName(), mf.GetHelp())
		}
	}
	if !slices.ContainsFunc(families, func(mf *dto.MetricFamily) bool { return mf.GetName() == "qindex_ingest_records_total" }) {
		t.Error("no ingest metrics")
	}
}

func TestOwnerCap(t *testing.T) {
	q := newQueue(t, 2000, 40)
	for _, max := range []int{1, 5, 39, 40, 100} {
		t.Run(strconv.Itoa(max), func(t *testing.T) {
			now := time.Unix(q.g.Now(), 0)
			e := New(q.db, Options{MaxOwners: max, Now: func() time.Time { return now }})
			srv := server(t, e)
			got := flatten(scrape(t, srv.URL+"/metrics", ""))
			owners := map[string]bool{}
			sums := series{}
			for k, v := range got.with("htcondor_queue_owner_jobs{") {
				owner := strings.Split(strings.Split(k, `owner="`)[1], `"`)[0]
				owners[owner] = true
				status := strings.Split(strings.Split(k, `status="`)[1], `"`)[0]
				sums[seriesName("htcondor_queue_jobs", "status", status)] += v
			}
			distinct := map[string]bool{}
			for _, k := range q.g.JobKeys() {
				attrs, _ := q.g.Job(k)
				distinct[attrs["owner"]] = true
			}
			named := min(max, len(distinct))
			if len(owners) != named+1 || !owners[OtherOwner] {
				t.Errorf("%d owners (%v), want %d and %s", len(owners), slices.Sorted(maps.Keys(owners)), named, OtherOwner)
			}
			// Nothing is lost: the owners' series add up to the queue's.
			compareSeries(t, sums, got.with("htcondor_queue_jobs{"))
			compareSeries(t, got.with("htcondor_queue_owner_jobs{"), truth(q.g, now.Unix(), max).with("htcondor_queue_owner_jobs{"))
		})
	}
}

func TestFailedCollectionKeepsTheSnapshot(t *testing.T) {
	q := newQueue(t, 300, 5)
	var buf syncBuffer
	e := New(q.db, Options{Interval: time.Hour, Logger: newTestLogger(&buf)})
	srv := server(t, e)
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := flatten(scrape(t, srv.URL+"/metrics", ""))
	q.db.Close() // every later collection fails
	if err := e.Refresh(context.Background()); err == nil {
		t.Fatal("a collection from a closed database succeeded")
	}
	after := flatten(scrape(t, srv.URL+"/metrics", ""))
	compareSeries(t, after.with("htcondor_"), before.with("htcondor_"))
	for name, want := range map[string]float64{
		"qindex_collector_collections_total":              2,
		"qindex_collector_failures_total":                 1,
		"qindex_collector_last_collection_success":        0,
		"qindex_collector_last_success_timestamp_seconds": before["qindex_collector_last_success_timestamp_seconds"],
	} {
		if after[name] != want {
			t.Errorf("%s = %v, want %v", name, after[name], want)
		}
	}
	if !strings.Contains(buf.String(), "metrics collection failed") {
		t.Errorf("the failure was not logged: %q", buf.String())
	}
}

func TestNoQueueYet(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "queue.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := New(db, Options{})
	srv := server(t, e)
	got := flatten(scrape(t, srv.URL+"/metrics", "")) // collects: on-scrape mode
	if q := got.with("htcondor_"); len(q) != 0 {
		t.Errorf("queue metrics before any load: %v", q)
	}
	if got["qindex_collector_failures_total"] != 0 || got["qindex_collector_collections_total"] != 0 {
		t.Errorf("an unloaded database counted as a collection: %v", got.with("qindex_collector_"))
	}
}

func TestOnScrapeCollection(t *testing.T) {
	q := newQueue(t, 500, 5)
	e := New(q.db, Options{Interval: 0, Now: func() time.Time { return time.Unix(q.g.Now(), 0) }})
	e.Start() // nothing to start
	defer e.Stop()
	srv := server(t, e)
	for round := range 3 {
		got := flatten(scrape(t, srv.URL+"/metrics", ""))
		compareSeries(t, got.with("htcondor_queue_jobs{"), truth(q.g, q.g.Now(), 100).with("htcondor_queue_jobs{"))
		if got["qindex_collector_collections_total"] != float64(round+1) {
			t.Errorf("round %d: %v collections", round, got["qindex_collector_collections_total"])
		}
		q.run(t, 200)
	}
}

func TestBackgroundCollection(t *testing.T) {
	q := newQueue(t, 300, 5)
	e := New(q.db, Options{Interval: 5 * time.Millisecond})
	e.Start()
	e.Start() // ignored
	deadline := time.Now().Add(10 * time.Second)
	for e.collections.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the background collection did not run")
		}
		time.Sleep(time.Millisecond)
	}
	q.run(t, 100)
	want := truth(q.g, q.g.Now(), 100).with("htcondor_queue_jobs{")
	srv := server(t, e)
	for !maps.Equal(flatten(scrape(t, srv.URL+"/metrics", "")).with("htcondor_queue_jobs{"), want) {
		if time.Now().After(deadline) {
			t.Fatal("the background collection did not pick up the change")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.Stop()
	e.Stop()
	n := e.collections.Load()
	time.Sleep(30 * time.Millisecond)
	if e.collections.Load() != n {
		t.Error("collections went on after Stop")
	}
	New(q.db, Options{}).Stop() // never started
}

// TestScrapesDuringReload reloads the queue again and again (the schedd
// compacting its log) while scrapes collect and serve: every scrape must
// see the whole queue, never part of a new state or a mix.
func TestScrapesDuringReload(t *testing.T) {
	jobs := 8000
	if testing.Short() {
		jobs = 3000
	}
	q := newQueue(t, jobs, 50)
	now := time.Unix(q.g.Now(), 0)
	want := truth(q.g, now.Unix(), 20)
	for _, interval := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprintf("interval=%s", interval), func(t *testing.T) {
			e := New(q.db, Options{Interval: interval, MaxOwners: 20, Now: func() time.Time { return now }})
			e.Start()
			defer e.Stop()
			srv := server(t, e)
			ctx, cancel := context.WithCancel(context.Background())
			var reloads atomic.Int64
			var wg sync.WaitGroup
			wg.Go(func() {
				defer cancel()
				for i := range 3 {
					var b bytes.Buffer
					if err := q.g.Compact(&b); err != nil {
						t.Error(err)
						return
					}
					tmp := fmt.Sprintf("%s.tmp%d", q.log, i)
					if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
						t.Error(err)
						return
					}
					if err := os.Rename(tmp, q.log); err != nil {
						t.Error(err)
						return
					}
					// Small group commits: a load visible before its end would show.
					sum, err := ingest.CatchUp(ctx, q.db, ingest.Options{Log: q.log, Limits: store.Limits{Records: 5000}})
					if err != nil {
						t.Error(err)
						return
					}
					if !sum.Reloaded {
						t.Error("the compacted log was not reloaded")
					}
					reloads.Add(1)
				}
			})
			scrapes := 0
			for ctx.Err() == nil {
				got := flatten(scrape(t, srv.URL+"/metrics", "")).with("htcondor_")
				if len(got) == 0 {
					continue // no collection yet
				}
				scrapes++
				if !maps.Equal(got, want) {
					compareSeries(t, got, want)
					t.Fatalf("scrape %d, after %d reloads, saw a partial queue", scrapes, reloads.Load())
				}
			}
			wg.Wait()
			t.Logf("%d scrapes during %d reloads", scrapes, reloads.Load())
			if scrapes < 4 {
				t.Errorf("only %d scrapes during the reloads", scrapes)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
