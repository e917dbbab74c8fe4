package index

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
)

// BenchmarkQuery measures each of issue 3's constraints answered through
// the indexes and by a scan (RunOptions.NoIndex), printing the matching
// jobs' ids as qindex q --af ClusterId,ProcId does, on a generated queue of
// QINDEX_BENCH_JOBS jobs (default 125000) and 200 owners. Each iteration
// runs both, one after the other, so that a machine whose speed drifts
// slows both alike; the figures are index-ms, scan-ms and their ratio.
//
// "warm" runs in one open database, as the daemon answers a query; "cold"
// opens the file again before each run, so that every page a query reads
// is faulted into a fresh mapping, as in a qindex q process of its own.
// The file's pages are in the page cache as the load wrote them. "reread"
// is cold on a copy whose pages were evicted and read back in order, as
// after a reboot: on kernels that cache such a file in large folios, each
// fault costs less (docs/BENCHMARKS.md). It is skipped where the page
// cache cannot be dropped.
func BenchmarkQuery(b *testing.B) {
	path := benchQueue(b)
	reread, err := rereadCopy(path)
	if err != nil {
		b.Logf("no reread variant: %v", err)
		reread = ""
	}
	largest, median := benchOwners(b, path)
	for _, c := range []struct{ name, constraint string }{
		{"owner=largest", fmt.Sprintf("Owner == %q", largest)},
		{"owner=median", fmt.Sprintf("Owner == %q", median)},
		{"status=held", "JobStatus == 5"},
		{"owner=largest&&status=idle", fmt.Sprintf("Owner == %q && JobStatus == 1", largest)},
	} {
		sel, err := parseSelection(nil, c.constraint)
		if err != nil {
			b.Fatal(err)
		}
		af, err := parseAFList("ClusterId", "ProcId")
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range []struct {
			name string
			path string
			cold bool
		}{{"warm", path, false}, {"cold", path, true}, {"reread", reread, true}} {
			if v.path == "" {
				continue
			}
			cold, path := v.cold, v.path
			b.Run(c.name+"/"+v.name, func(b *testing.B) {
				db := openBench(b, path)
				var indexed, scanned time.Duration
				for b.Loop() {
					for _, noIndex := range []bool{false, true} {
						if cold {
							db.Close()
							db = openBench(b, path)
						}
						start := time.Now()
						st := runAF(b, db, sel, af, noIndex)
						if noIndex {
							scanned += time.Since(start)
						} else {
							indexed += time.Since(start)
							b.ReportMetric(float64(st.Candidates), "candidates")
						}
					}
				}
				db.Close()
				n := float64(b.N)
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(indexed.Seconds()*1e3/n, "index-ms")
				b.ReportMetric(scanned.Seconds()*1e3/n, "scan-ms")
				b.ReportMetric(scanned.Seconds()/indexed.Seconds(), "speedup")
			})
		}
	}
}

// rereadCopy copies the database at path beside it, evicts the copy's pages
// from the page cache and reads them back in order, and returns the copy's
// path.
func rereadCopy(path string) (string, error) {
	cp := path + ".reread"
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.Create(cp)
	if err != nil {
		return "", err
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		return "", err
	}
	if err := dst.Sync(); err != nil {
		return "", err
	}
	if err := dropCache(dst); err != nil {
		return "", fmt.Errorf("evict %s from the page cache: %w", cp, err)
	}
	if _, err := dst.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if _, err := io.Copy(io.Discard, dst); err != nil {
		return "", err
	}
	return cp, nil
}

// runAF answers sel in db, printing each match's af values to nowhere, and
// checks that the plan is the one asked for.
func runAF(b *testing.B, db *store.DB, sel Selection, af []*Expr, noIndex bool) Stats {
	b.Helper()
	env := NewEnv(time.Now().Unix())
	w := bufio.NewWriterSize(io.Discard, 1<<16)
	print := func(job store.Job) error {
		env.Bind(job, af...)
		for _, x := range af {
			w.WriteString(env.Eval(x).String())
			w.WriteByte(' ')
		}
		return w.WriteByte('\n')
	}
	var st Stats
	err := db.View(func(s *store.Snapshot) error {
		var err error
		st, err = sel.Run(context.Background(), s, env, RunOptions{NoIndex: noIndex}, print)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if (st.Candidates < 0) != noIndex || st.Matched == 0 {
		b.Fatalf("noIndex %v: unexpected run %+v", noIndex, st)
	}
	return st
}

func parseAFList(exprs ...string) ([]*Expr, error) {
	var xs []*Expr
	for _, e := range exprs {
		x, err := ParseExpr(e)
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	return xs, nil
}

// benchQueue loads the generated queue of 200 owners, once per benchmark
// run, into a database under b's temporary directory and returns its path.
func benchQueue(b *testing.B) string {
	b.Helper()
	return benchQueueOf(b, 200)
}

// benchQueueOf is benchQueue with the given number of owners.
func benchQueueOf(b *testing.B, owners int) string {
	b.Helper()
	jobs := 125000
	if n, err := strconv.Atoi(os.Getenv("QINDEX_BENCH_JOBS")); err == nil && n > 0 {
		jobs = n
	}
	dir := b.TempDir()
	log := filepath.Join(dir, "job_queue.log")
	g := loggen.New(loggen.Config{Seed: 1, TargetJobs: jobs + jobs/5, Owners: owners})
	if err := g.WriteQueueFile(log, jobs, true); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "queue.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := ingest.CatchUp(context.Background(), db, ingest.Options{Log: log}); err != nil {
		b.Fatal(err)
	}
	return path
}

func openBench(b *testing.B, path string) *store.DB {
	b.Helper()
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// benchOwners returns the owners of the most jobs and of the median number
// of jobs, from the counts the indexes keep.
func benchOwners(b *testing.B, path string) (largest, median string) {
	b.Helper()
	db := openBench(b, path)
	defer db.Close()
	jobs := map[string]int64{}
	db.View(func(s *store.Snapshot) error {
		for c := range s.Counts() {
			if c.Owner.Class == store.ClassLiteral {
				jobs[c.Owner.Name] += c.Jobs
			}
		}
		return s.Err()
	})
	owners := make([]string, 0, len(jobs))
	for o := range jobs {
		owners = append(owners, o)
	}
	if len(owners) == 0 {
		b.Fatal("no owners in the generated queue")
	}
	slices.SortFunc(owners, func(x, y string) int { return cmp.Or(cmp.Compare(jobs[y], jobs[x]), cmp.Compare(x, y)) })
	b.Logf("owners: %s has %d jobs, %s (median) %d", owners[0], jobs[owners[0]], owners[len(owners)/2], jobs[owners[len(owners)/2]])
	return owners[0], owners[len(owners)/2]
}

// BenchmarkPlan measures planning alone, which reads the index counts, on
// queues of 200 and of 20,000 owners: its cost must not grow with the
// number of owners, which a large pool's schedd may have by the thousand.
func BenchmarkPlan(b *testing.B) {
	for _, owners := range []int{200, 20000} {
		path := benchQueueOf(b, owners)
		largest, _ := benchOwners(b, path)
		db := openBench(b, path)
		for _, c := range []struct{ name, constraint string }{
			{"owner", fmt.Sprintf("Owner == %q", largest)},
			{"status=held", "JobStatus == 5"},
			{"owner&&status=idle", fmt.Sprintf("Owner == %q && JobStatus == 1", largest)},
			{"status!=running", "JobStatus != 2"},
		} {
			sel, err := parseSelection(nil, c.constraint)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("owners=%d/%s", owners, c.name), func(b *testing.B) {
				err := db.View(func(s *store.Snapshot) error {
					for b.Loop() {
						if _, err := sel.plan(s, false); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			})
		}
		b.Run(fmt.Sprintf("owners=%d/totals", owners), func(b *testing.B) {
			env := NewEnv(time.Now().Unix())
			err := db.View(func(s *store.Snapshot) error {
				for b.Loop() {
					if _, _, _, err := (Selection{}).CountTotals(s, env); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
		db.Close()
	}
}

// BenchmarkScan measures issue 3's scan target: RequestMemory > 4096 &&
// JobStatus == 1 over every job (--no-index), counted as --totals counts,
// in jobs scanned per second.
func BenchmarkScan(b *testing.B) {
	db := openBench(b, benchQueue(b))
	defer db.Close()
	sel, err := parseSelection(nil, "RequestMemory > 4096 && JobStatus == 1")
	if err != nil {
		b.Fatal(err)
	}
	var jobs int
	start := time.Now()
	for b.Loop() {
		err := db.View(func(s *store.Snapshot) error {
			st, err := sel.Run(context.Background(), s, NewEnv(time.Now().Unix()), RunOptions{NoIndex: true}, func(store.Job) error { return nil })
			jobs += st.Evaluated
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(jobs)/time.Since(start).Seconds(), "jobs/s")
}
