package exporter

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/store"
)

// oddQueue is a queue of the cases a collection must get right: values
// from the cluster ad, expressions, missing and unknown attributes.
const oddQueue = `107 1 CreationTimestamp 1700000000
105 
101 0.0 Job Machine
103 0.0 NextClusterNum 4
106 
105 
101 01.-1 Job Machine
103 01.-1 Owner "alice"
103 01.-1 QDate 1000
103 01.-1 JobUniverse 5
103 01.-1 RequestCpus 1
103 01.-1 RequestMemory ifThenElse(MemoryUsage =!= undefined, MemoryUsage, 1024)
103 01.-1 RequestDisk 2048
101 1.0 Job Machine
103 1.0 JobStatus 1
103 1.0 EnteredCurrentStatus 1500
101 1.1 Job Machine
103 1.1 JobStatus 2
103 1.1 MemoryUsage 3000
103 1.1 JobCurrentStartDate 1800
101 1.2 Job Machine
103 1.2 JobStatus 5
103 1.2 HoldReasonCode 16
106 
105 
101 02.-1 Job Machine
103 02.-1 QDate 900
103 02.-1 JobUniverse 99
103 02.-1 RequestCpus 0.5
101 2.0 Job Machine
103 2.0 JobStatus 1
101 2.1 Job Machine
103 2.1 JobStatus 5
101 2.2 Job Machine
103 2.2 JobStatus 42
101 2.3 Job Machine
103 2.3 JobStatus 2
103 2.3 Owner "bob"
103 2.3 ShadowBday 1900
106 
105 
101 03.-1 Job Machine
103 03.-1 Owner "carol"
103 03.-1 RequestGPUs 2
101 3.0 Job Machine
103 3.0 JobStatus (1 + 1)
106 
`

func loadLog(t *testing.T, text string) *store.DB {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "job_queue.log")
	if err := os.WriteFile(log, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "queue.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := ingest.CatchUp(context.Background(), db, ingest.Options{Log: log}); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestCollectStats(t *testing.T) {
	db := loadLog(t, oddQueue)
	var st *queueStats
	err := db.View(func(s *store.Snapshot) error {
		var err error
		st, err = collectStats(context.Background(), s, time.Unix(2000, 0), 2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	const mib, kib = 1 << 20, 1 << 10
	checks := []struct {
		name      string
		got, want any
	}{
		// JobStatus 42 is "other" (slot 0); (1 + 1) is evaluated.
		{"jobs", st.jobs, byStatus{0: 1, 1: 2, 2: 3, 5: 2}},
		{"clusters", st.clusters, 3.0},
		// A job without Owner is _undefined; ties go by name; bob and
		// carol are beyond the 2 named.
		{"owners", st.owners, []ownerJobs{
			{name: NoOwner, jobs: byStatus{0: 1, 1: 1, 5: 1}, total: 3},
			{name: "alice", jobs: byStatus{1: 1, 2: 1, 5: 1}, total: 3},
			{name: OtherOwner, jobs: byStatus{2: 2}, total: 2},
		}},
		{"cpus", st.cpus, byStatus{0: 0.5, 1: 1.5, 2: 1.5, 5: 1.5}},
		// The cluster's expression, with the job's MemoryUsage or without.
		{"memory", st.memory, byStatus{1: 1024 * mib, 2: 3000 * mib, 5: 1024 * mib}},
		{"disk", st.disk, byStatus{1: 2048 * kib, 2: 2048 * kib, 5: 2048 * kib}},
		{"gpus", st.gpus, byStatus{2: 2}},
		{"held", st.held, map[string]float64{"16": 1, "undefined": 1}},
		{"universes", st.universes, map[string]float64{"vanilla": 3, "99": 4, "undefined": 1}},
		{"oldest idle", st.oldestIdle, 900.0},
		// 2000-1500 (EnteredCurrentStatus), 2000-900 (QDate, none).
		{"idle wait", st.idleWait, histogram{bounds: waitBuckets, count: 2, sum: 1600, buckets: buckets(500, 1100)}},
		// 2000-1800 (JobCurrentStartDate), 2000-1900 (ShadowBday); 3.0 has neither.
		{"run time", st.runningSince, histogram{bounds: waitBuckets, count: 2, sum: 300, buckets: buckets(200, 100)}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

// buckets returns the non-cumulative waitBuckets counts of obs.
func buckets(obs ...float64) []uint64 {
	h := newHistogram()
	for _, o := range obs {
		h.observe(o)
	}
	return h.buckets
}

func TestHistogram(t *testing.T) {
	h := newHistogram()
	for _, v := range []float64{0, 60, 61, 2592000, 2592001, math.Inf(1)} {
		h.observe(v)
	}
	cum := h.cumulative()
	for le, want := range map[float64]uint64{60: 2, 300: 3, 1209600: 3, 2592000: 4} {
		if cum[le] != want {
			t.Errorf("le=%v: %d, want %d", le, cum[le], want)
		}
	}
	if h.count != 6 {
		t.Errorf("count %d, want 6 (above the last bound only in +Inf)", h.count)
	}
}

func TestCollectStatsStops(t *testing.T) {
	q := newQueue(t, checkEvery*2, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := q.db.View(func(s *store.Snapshot) error {
		_, err := collectStats(ctx, s, time.Now(), 10)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled collection returned %v", err)
	}
}

func TestAbandonedCollectionIsNotAFailure(t *testing.T) {
	q := newQueue(t, checkEvery*2, 10)
	e := New(q.db, Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh with a cancelled context: %v", err)
	}
	if e.collections.Load() != 0 || e.failures.Load() != 0 || e.snap.Load() != nil {
		t.Errorf("an abandoned collection counted: %d collections, %d failures", e.collections.Load(), e.failures.Load())
	}
}
