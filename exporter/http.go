package exporter

import (
	"bytes"
	"compress/flate"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// DefaultListenAddress is the exporter's default --web.listen-address.
// 9678 is used by none of the common exporters (node 9100, blackbox 9115,
// ...) nor by HTCondor itself (9618).
const DefaultListenAddress = ":9678"

// DefaultTelemetryPath is the exporter's default --web.telemetry-path.
const DefaultTelemetryPath = "/metrics"

// NewRegistry returns a registry of cs together with the Go runtime,
// process and build information collectors, as every exporter has them.
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs = append(cs,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return reg, nil
}

// NewHandler serves, at path, the latest snapshot of e's queue metrics
// followed by what reg gathers at the scrape; a landing page linking to
// them at "/"; 404 elsewhere. It negotiates the exposition format and
// gzip as promhttp does, and honours promhttp's name[] filter. Scrapes
// are counted in reg (promhttp_metric_handler_requests_total); errors are
// logged, counted (promhttp_metric_handler_errors_total) and answered
// with HTTP 500.
func NewHandler(e *Exporter, reg *prometheus.Registry, path string, logger *slog.Logger) (http.Handler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &metricsHandler{exp: e, reg: reg, logger: logger,
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "promhttp_metric_handler_errors_total",
			Help: "Total number of internal errors encountered by the promhttp metric handler.",
		}, []string{"cause"}),
	}
	h.flate.New = func() any {
		fw, _ := flate.NewWriter(nil, flate.BestSpeed)
		return fw
	}
	h.errors.WithLabelValues("gathering")
	h.errors.WithLabelValues("encoding")
	if err := reg.Register(h.errors); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(path, promhttp.InstrumentMetricHandler(reg, h))
	if path != "/" {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			landing.Execute(w, path)
		})
	}
	return mux, nil
}

// metricsHandler serves the metrics; see encode.go for how.
type metricsHandler struct {
	exp    *Exporter
	reg    *prometheus.Registry
	logger *slog.Logger
	errors *prometheus.CounterVec
	flate  sync.Pool // *flate.Writer for the scrapes' parts

	// Concurrent scrapes share one gathering of reg (the process
	// collector alone reads five files in /proc): a scrape that arrives
	// while one is under way waits for it and serves its result.
	gatherMu sync.Mutex
	gather   *gathering
}

// gathering is one call of reg.Gather, shared by the scrapes waiting for it.
type gathering struct {
	done     chan struct{}
	families []*dto.MetricFamily
	err      error
}

// gathered returns the families of the gathering under way, or of a new one.
func (h *metricsHandler) gathered() ([]*dto.MetricFamily, error) {
	h.gatherMu.Lock()
	if g := h.gather; g != nil {
		h.gatherMu.Unlock()
		<-g.done
		return g.families, g.err
	}
	g := &gathering{done: make(chan struct{})}
	h.gather = g
	h.gatherMu.Unlock()
	defer func() {
		h.gatherMu.Lock()
		h.gather = nil
		h.gatherMu.Unlock()
		close(g.done)
	}()
	g.families, g.err = h.reg.Gather()
	return g.families, g.err
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := h.exp.current() // first, so that the gathered self-metrics describe it
	gathered, err := h.gathered()
	if err != nil {
		h.fail(w, "gathering", err)
		return
	}
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	var queue []*dto.MetricFamily
	if snap != nil {
		queue = snap.families
	}
	if names := r.URL.Query()["name[]"]; len(names) > 0 {
		// A filtered scrape is small and rare: no cache.
		queue = append(filterFamilies(queue, names), filterFamilies(gathered, names)...)
		gathered, snap = nil, nil
	}
	var head *encodedPart
	if snap != nil {
		if head, err = snap.encoded.part(queue, format); err != nil {
			h.fail(w, "encoding", err)
			return
		}
	} else {
		var b bytes.Buffer
		if err := encodeFamilies(&b, format, queue, false); err != nil {
			h.fail(w, "encoding", err)
			return
		}
		head = &encodedPart{plain: b.Bytes()}
	}
	var tail bytes.Buffer
	if err := encodeFamilies(&tail, format, gathered, true); err != nil {
		h.fail(w, "encoding", err)
		return
	}

	w.Header().Add("Vary", "Accept")
	w.Header().Add("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", string(format))
	if head.deflated != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		fw := h.flate.Get().(*flate.Writer)
		defer h.flate.Put(fw)
		err = writeGzip(w, fw, head, tail.Bytes())
	} else {
		if _, err = w.Write(head.plain); err == nil {
			_, err = w.Write(tail.Bytes())
		}
	}
	if err != nil {
		// Most likely the scraper went away; nothing can be sent now.
		h.logger.Debug("sending metrics", "err", err)
	}
}

func (h *metricsHandler) fail(w http.ResponseWriter, cause string, err error) {
	h.errors.WithLabelValues(cause).Inc()
	h.logger.Error("serving metrics", "cause", cause, "err", err)
	http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
}

// filterFamilies returns the families named in names.
func filterFamilies(families []*dto.MetricFamily, names []string) []*dto.MetricFamily {
	var out []*dto.MetricFamily
	for _, mf := range families {
		if slices.Contains(names, mf.GetName()) {
			out = append(out, mf)
		}
	}
	return out
}

// acceptsGzip reports whether an Accept-Encoding header value accepts gzip
// (with a non-zero quality).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if c := strings.TrimSpace(coding); !strings.EqualFold(c, "gzip") && c != "*" {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(q, "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}

var landing = template.Must(template.New("landing").Parse(`<!DOCTYPE html>
<html>
<head><title>qindex exporter</title></head>
<body>
<h1>qindex exporter</h1>
<p>HTCondor job queue metrics, computed from the schedd's job_queue.log by qindex.</p>
<p><a href="{{.}}">Metrics</a></p>
</body>
</html>
`))

// slogPrintln adapts a slog.Logger to promhttp's Logger.
type slogPrintln struct{ l *slog.Logger }

func (p slogPrintln) Println(v ...any) {
	p.l.Error("serving metrics", "err", fmt.Sprint(v...))
}
