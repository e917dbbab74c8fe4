package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/qindex/qindex/store"
)

// Defaults for Options.
const (
	DefaultInterval  = 30 * time.Second
	DefaultMaxOwners = 100
)

// Options configure an Exporter.
type Options struct {
	// Interval is the time between the starts of two collections. Zero
	// collects on each scrape instead (concurrent scrapes share one).
	Interval time.Duration
	// MaxOwners is how many owners htcondor_queue_owner_jobs names, the
	// ones with the most jobs; the rest are summed under OtherOwner.
	// Zero means DefaultMaxOwners.
	MaxOwners int
	// Logger receives failed collections; nil discards them.
	Logger *slog.Logger
	// Now returns the current time (default time.Now); tests fix it.
	Now func() time.Time
	// OnError, if set, is called with the database and the error of each
	// failed collection (the daemon rebuilds a database found damaged).
	OnError func(*store.DB, error)
}

// Exporter collects the queue's metrics in the background and keeps the
// latest complete snapshot of them for NewHandler to serve. It is also the
// prometheus.Collector of its own collections' metrics. Create it with New,
// start its background collection with Start and end it with Stop.
type Exporter struct {
	db atomic.Pointer[store.DB] // nil while the daemon replaces it
	o  Options

	snap atomic.Pointer[snapshot] // the latest complete collection
	// collecting serialises collections; scrapes waiting for one in
	// on-scrape mode share its result.
	collecting sync.Mutex

	collections, failures atomic.Uint64
	lastDuration          atomic.Uint64 // float64 bits, seconds
	lastOK                atomic.Bool

	startOnce, stopOnce sync.Once
	cancel              context.CancelFunc
	done                chan struct{}
}

// snapshot is one published collection: the metric families it produced,
// built once and shared, with their encodings, by every scrape until the
// next one replaces it.
type snapshot struct {
	done     time.Time // when the collection ended
	families []*dto.MetricFamily
	encoded  partCache
}

// New returns an Exporter of the queue in db.
func New(db *store.DB, o Options) *Exporter {
	if o.MaxOwners <= 0 {
		o.MaxOwners = DefaultMaxOwners
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &Exporter{o: o, done: make(chan struct{})}
	e.db.Store(db)
	return e
}

// Use makes later collections read db instead; nil suspends them (as
// ErrNotLoaded), keeping the last snapshot, while a database is replaced.
func (e *Exporter) Use(db *store.DB) { e.db.Store(db) }

// Start begins the background collection: one at once, then one every
// Interval until Stop. With a zero Interval it does nothing; scrapes
// collect. Calls after the first are ignored.
func (e *Exporter) Start() {
	e.startOnce.Do(func() {
		if e.o.Interval <= 0 {
			close(e.done)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		e.cancel = cancel
		go e.loop(ctx)
	})
}

// Stop ends the background collection, abandoning one in progress, and
// returns when it has ended. It is safe to call more than once, and
// without Start.
func (e *Exporter) Stop() {
	e.startOnce.Do(func() { close(e.done) }) // never started: nothing to wait for
	e.stopOnce.Do(func() {
		if e.cancel != nil {
			e.cancel()
		}
	})
	<-e.done
}

func (e *Exporter) loop(ctx context.Context) {
	defer close(e.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		next := e.o.Interval
		if err := e.Refresh(ctx); errors.Is(err, ErrNotLoaded) {
			next = min(next, notLoadedRetry) // metrics soon after the first load
		}
		t.Reset(max(0, next-time.Since(start)))
	}
}

// notLoadedRetry is how soon the collection looks again at a database that
// has no queue yet.
const notLoadedRetry = time.Second

// Refresh collects now and, if the collection succeeds, publishes its
// snapshot. A failure leaves the previous snapshot in place; it is
// logged, counted in qindex_collector_failures_total and returned. A
// database with no queue yet (ErrNotLoaded), or a collection abandoned
// because ctx ended, publishes nothing and counts nothing.
func (e *Exporter) Refresh(ctx context.Context) error {
	e.collecting.Lock()
	defer e.collecting.Unlock()
	return e.refreshLocked(ctx)
}

func (e *Exporter) refreshLocked(ctx context.Context) error {
	start := time.Now()
	now := e.o.Now()
	db := e.db.Load()
	if db == nil {
		return ErrNotLoaded
	}
	var families []*dto.MetricFamily
	// Guarded: a panic here, whatever the data, fails this collection
	// only; the daemon and the previous snapshot stay.
	err := store.Guard(func() error {
		var st *queueStats
		err := db.View(func(s *store.Snapshot) error {
			var err error
			st, err = collectStats(ctx, s, now, e.o.MaxOwners)
			return err
		})
		if err == nil {
			families, err = queueFamilies(st)
		}
		return err
	})
	switch {
	case errors.Is(err, ErrNotLoaded):
		e.o.Logger.Debug("no queue to collect metrics from yet", "db", db.Path())
		return err
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return fmt.Errorf("metrics collection abandoned: %w", err) // stopped: not a failure
	}
	e.collections.Add(1)
	e.lastDuration.Store(math.Float64bits(time.Since(start).Seconds()))
	if err != nil {
		e.failures.Add(1)
		e.lastOK.Store(false)
		e.o.Logger.Error("metrics collection failed; scrapes keep the previous snapshot", "db", db.Path(), "err", err)
		if e.o.OnError != nil {
			e.o.OnError(db, err)
		}
		return err
	}
	e.snap.Store(&snapshot{done: e.o.Now(), families: families})
	e.lastOK.Store(true)
	return nil
}

// current returns the snapshot a scrape serves. In on-scrape mode it
// first collects, unless a collection that ended while this scrape waited
// for its turn already did.
func (e *Exporter) current() *snapshot {
	if e.o.Interval > 0 {
		return e.snap.Load()
	}
	seen := e.collections.Load()
	e.collecting.Lock()
	defer e.collecting.Unlock()
	if e.collections.Load() == seen {
		e.refreshLocked(context.Background()) // failures are logged and counted
	}
	return e.snap.Load()
}

// Describe sends the descriptors of the collector's own metrics.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range selfDescs {
		ch <- d
	}
}

// Collect sends the collector's own metrics.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	if snap := e.snap.Load(); snap != nil {
		ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, float64(snap.done.UnixNano())/1e9)
	}
	ch <- prometheus.MustNewConstMetric(descDuration, prometheus.GaugeValue, math.Float64frombits(e.lastDuration.Load()))
	ch <- prometheus.MustNewConstMetric(descCollections, prometheus.CounterValue, float64(e.collections.Load()))
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(e.failures.Load()))
	ok := 0.0
	if e.lastOK.Load() {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descLastOK, prometheus.GaugeValue, ok)
}
