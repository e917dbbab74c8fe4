package exporter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"identity", false},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"br, *", true},
		{"x-gzip", false},
	} {
		if got := acceptsGzip(c.header); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHandler(t *testing.T) {
	q := newQueue(t, 200, 5)
	e := New(q.db, Options{Interval: time.Hour})
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := server(t, e)

	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, `<a href="/metrics">`) {
		t.Errorf("landing page: %s %q", resp.Status, body)
	}
	if resp, _ := get(t, srv.URL+"/nothing"); resp.StatusCode != 404 {
		t.Errorf("/nothing: %s, want 404", resp.Status)
	}

	// Without gzip: plain text, the queue part then the gathered part.
	resp, body = get(t, srv.URL+"/metrics")
	if resp.Header.Get("Content-Encoding") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("plain scrape: headers %v", resp.Header)
	}
	for _, want := range []string{`htcondor_queue_jobs{status="idle"} `, "# TYPE htcondor_queue_idle_job_wait_seconds histogram",
		"qindex_collector_collections_total 1", "go_goroutines "} {
		if !strings.Contains(body, want) {
			t.Errorf("plain scrape lacks %q", want)
		}
	}
	if resp.Header.Values("Vary") == nil {
		t.Error("no Vary header")
	}

	// name[] filters both parts.
	_, body = get(t, srv.URL+"/metrics?name[]=htcondor_queue_clusters&name[]=go_goroutines")
	var names []string
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, "#") {
			names = append(names, strings.Fields(line)[0])
		}
	}
	if strings.Join(names, " ") != "htcondor_queue_clusters go_goroutines" {
		t.Errorf("name[] filter: got %q", names)
	}
	// With OpenMetrics, one # EOF even when filtered.
	_, body = get(t, srv.URL+"/metrics?name[]=htcondor_queue_clusters", "Accept", "application/openmetrics-text;version=1.0.0")
	if strings.Count(body, "# EOF") != 1 || !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("filtered OpenMetrics: %q", body)
	}
}

// failing is a collector whose metrics cannot be gathered.
type failing struct{}

func (failing) Describe(ch chan<- *prometheus.Desc) {}
func (failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(prometheus.NewDesc("broken", "A metric that fails.", nil, nil), errors.New("broken on purpose"))
}

func TestHandlerGatherError(t *testing.T) {
	q := newQueue(t, 100, 2)
	e := New(q.db, Options{Interval: time.Hour})
	reg, err := NewRegistry(e, failing{})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	h, err := NewHandler(e, reg, HandlerOptions{Path: "/m", Logger: newTestLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := get(t, srv.URL+"/m")
	if resp.StatusCode != 500 || !strings.Contains(body, "broken on purpose") {
		t.Errorf("a failed gathering: %s %q", resp.Status, body)
	}
	if !strings.Contains(logs.String(), "broken on purpose") {
		t.Errorf("not logged: %q", logs.String())
	}
	families, err := reg.Gather()
	found := false
	for _, mf := range families {
		if mf.GetName() == "promhttp_metric_handler_errors_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "gathering" && m.GetCounter().GetValue() == 1 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("the error was not counted (gather: %v)", err)
	}
}
