package exporter

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
)

// benchJobs is the size of the generated queue the benchmarks collect:
// QINDEX_BENCH_JOBS, default 125000.
func benchJobs() int {
	if n, err := strconv.Atoi(os.Getenv("QINDEX_BENCH_JOBS")); err == nil && n > 0 {
		return n
	}
	return 125000
}

// benchDB loads a generated queue of jobs jobs (200 owners) into a new
// database in dir.
func benchDB(b *testing.B, dir string, jobs int) *store.DB {
	b.Helper()
	log := filepath.Join(dir, "job_queue.log")
	g := loggen.New(loggen.Config{Seed: 1, TargetJobs: jobs + jobs/5})
	if err := g.WriteQueueFile(log, jobs, true); err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "queue.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := ingest.CatchUp(context.Background(), db, ingest.Options{Log: log}); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkCollect measures one collection over the generated queue
// (target: 250 ms or less at 125k jobs) and the heap it allocates, an upper
// bound of the extra heap it needs (target: under 50 MB). QINDEX_BENCH_DB
// names an existing database to collect from instead.
func BenchmarkCollect(b *testing.B) {
	var db *store.DB
	if path := os.Getenv("QINDEX_BENCH_DB"); path != "" {
		var err error
		if db, err = store.Open(path, store.Options{ReadOnly: true}); err != nil {
			b.Fatal(err)
		}
		defer db.Close()
	} else {
		db = benchDB(b, b.TempDir(), benchJobs())
	}
	e := New(db, Options{})
	ctx := context.Background()
	if err := e.Refresh(ctx); err != nil { // warm the page cache
		b.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		if err := e.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/1e6, "MB-alloc/op")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/collection")
}

// BenchmarkConcurrentScrapes measures 100 scrapes at once over HTTP of the
// snapshot of the generated queue (target: p99 under 20 ms).
func BenchmarkConcurrentScrapes(b *testing.B) {
	db := benchDB(b, b.TempDir(), benchJobs())
	e := New(db, Options{Interval: time.Hour})
	e.Start()
	defer e.Stop()
	srv := server(b, e)
	for e.snap.Load() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	const concurrent = 100
	var all []time.Duration
	b.ResetTimer()
	for b.Loop() {
		lat := make([]time.Duration, concurrent)
		var wg sync.WaitGroup
		for i := range concurrent {
			wg.Go(func() {
				start := time.Now()
				req, _ := http.NewRequest("GET", srv.URL+DefaultTelemetryPath, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(start)
			})
		}
		wg.Wait()
		all = append(all, lat...)
	}
	b.StopTimer()
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)*50/100].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
