package ingest

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
)

// benchJobs is the size of the generated queue the benchmarks replay:
// QINDEX_BENCH_JOBS, default 125000 (a log of about 100 MB, 3M records).
func benchJobs() int {
	if n, err := strconv.Atoi(os.Getenv("QINDEX_BENCH_JOBS")); err == nil && n > 0 {
		return n
	}
	return 125000
}

// generateLog writes a generated log of about jobs jobs into dir; with
// compact, the compaction snapshot of that queue instead.
func generateLog(tb testing.TB, dir string, jobs int, compact bool) string {
	tb.Helper()
	path := filepath.Join(dir, "job_queue.log")
	g := loggen.New(loggen.Config{Seed: 1, TargetJobs: jobs + jobs/5})
	if err := g.WriteQueueFile(path, jobs, compact); err != nil {
		tb.Fatal(err)
	}
	return path
}

// rssAnonSampler records the peak RssAnon of the process while it runs.
type rssAnonSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak int64
}

func sampleRssAnon() *rssAnonSampler {
	s := &rssAnonSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			s.peak = max(s.peak, rssAnon())
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssAnonSampler) Peak() int64 {
	close(s.stop)
	s.done.Wait()
	return s.peak
}

// rssAnon returns the process's anonymous resident memory in bytes (Linux).
func rssAnon() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func benchmarkReplay(b *testing.B, compact bool) {
	dir := b.TempDir()
	log := generateLog(b, dir, benchJobs(), compact)
	// Measure the replay alone: return the generator's memory to the OS and
	// run under the soft heap limit the qindex command sets.
	debug.FreeOSMemory()
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(150 << 20))
	fi, _ := os.Stat(log)
	b.SetBytes(fi.Size())
	b.ResetTimer()
	var peak int64
	for i := range b.N {
		b.StopTimer()
		dbPath := filepath.Join(dir, "q"+strconv.Itoa(i)+".db")
		db, err := store.Open(dbPath, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s := sampleRssAnon()
		sum, err := CatchUp(context.Background(), db, Options{Log: log})
		peak = max(peak, s.Peak())
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(sum.Records), "records")
		b.ReportMetric(float64(sum.Jobs), "jobs")
		db.Close()
		os.Remove(dbPath)
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "MiB-RssAnon-peak")
}

// BenchmarkReplay replays a generated log of benchJobs() jobs into a fresh db.
func BenchmarkReplay(b *testing.B) { benchmarkReplay(b, false) }

// BenchmarkReplaySnapshot replays a compaction snapshot of such a queue.
func BenchmarkReplaySnapshot(b *testing.B) { benchmarkReplay(b, true) }
