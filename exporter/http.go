package exporter

import (
	"compress/flate"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/exporter-toolkit/web"
)

// DefaultListenAddress is the exporter's default --web.listen-address.
// 9678 is used by none of the common exporters (node 9100, blackbox 9115,
// ...) nor by HTCondor itself (9618).
const DefaultListenAddress = ":9678"

// DefaultTelemetryPath is the exporter's default --web.telemetry-path.
const DefaultTelemetryPath = "/metrics"

// NewRegistry returns a registry of cs together with the Go runtime,
// process and build information collectors, as every exporter has them
// (qindex_build_info among them).
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs = append(cs,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		versioncollector.NewCollector("qindex"))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return reg, nil
}

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// Path is where the metrics are served (DefaultTelemetryPath).
	Path string
	// Logger receives the errors of scrapes (nil: none).
	Logger *slog.Logger
	// Ready reports why the exporter is not ready yet ("" once it is):
	// /-/ready answers 503 with it until then. Nil means always ready.
	Ready func() string
	// Version is shown on the landing page.
	Version string
}

// NewHandler serves, at o.Path, the latest snapshot of e's queue metrics
// followed by what reg gathers at the scrape; /-/healthy and /-/ready, as
// Prometheus' own servers do; exporter-toolkit's landing page at "/"; 404
// elsewhere. It negotiates the exposition format and gzip as promhttp
// does, and honours promhttp's name[] filter. Scrapes are counted in reg
// (promhttp_metric_handler_requests_total); errors are logged, counted
// (promhttp_metric_handler_errors_total) and answered with HTTP 500.
func NewHandler(e *Exporter, reg *prometheus.Registry, o HandlerOptions) (http.Handler, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	path := o.Path
	if path == "" {
		path = DefaultTelemetryPath
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
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if o.Ready != nil {
			if why := o.Ready(); why != "" {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "Not ready: %s\n", why)
				return
			}
		}
		fmt.Fprintln(w, "Ready")
	})
	if path != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "qindex",
			Description: "HTCondor job queue metrics, computed from the schedd's job_queue.log by qindex",
			Version:     o.Version,
			Links: []web.LandingLinks{
				{Address: path, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness", Description: "ready once the log is loaded"},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
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
	// collector alone reads five files in /proc) and its encodings: a
	// scrape that arrives while one is under way waits for it and serves
	// its result.
	gatherMu sync.Mutex
	gather   *gathering
}

// gathering is one call of reg.Gather, shared by the scrapes waiting for
// it, with its encodings.
type gathering struct {
	done     chan struct{}
	families []*dto.MetricFamily
	err      error
	encoded  partCache
}

// gathering returns the gathering under way, or a new one, once done.
func (h *metricsHandler) gathering() *gathering {
	h.gatherMu.Lock()
	if g := h.gather; g != nil {
		h.gatherMu.Unlock()
		<-g.done
		return g
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
	return g
}

// encode encodes families with a pooled compressor.
func (h *metricsHandler) encode(families []*dto.MetricFamily, format expfmt.Format, last bool) (*encodedPart, error) {
	fw := h.flate.Get().(*flate.Writer)
	defer h.flate.Put(fw)
	return encodePart(families, format, last, fw)
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := h.exp.current() // first, so that the gathered self-metrics describe it
	g := h.gathering()
	if g.err != nil {
		h.fail(w, "gathering", g.err)
		return
	}
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	head, tail := &encodedPart{}, (*encodedPart)(nil)
	var err error
	switch names := r.URL.Query()["name[]"]; {
	case len(names) > 0: // small and rare: no cache
		var queue []*dto.MetricFamily
		if snap != nil {
			queue = snap.families
		}
		if head, err = h.encode(append(filterFamilies(queue, names), filterFamilies(g.families, names)...), format, false); err == nil {
			tail, err = h.encode(nil, format, true)
		}
	default:
		if snap != nil {
			head, err = snap.encoded.part(format, func() (*encodedPart, error) {
				fw, err := flate.NewWriter(nil, flate.DefaultCompression) // once per collection: compress well
				if err != nil {
					return nil, err
				}
				return encodePart(snap.families, format, false, fw)
			})
		}
		if err == nil {
			tail, err = g.encoded.part(format, func() (*encodedPart, error) { return h.encode(g.families, format, true) })
		}
	}
	if err != nil {
		h.fail(w, "encoding", err)
		return
	}

	w.Header().Add("Vary", "Accept")
	w.Header().Add("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", string(format))
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		err = writeGzip(w, head, tail)
	} else if _, err = w.Write(head.plain); err == nil {
		_, err = w.Write(tail.plain)
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
