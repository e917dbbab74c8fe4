// Command qindex-bench measures the qindex command itself on a generated
// queue and prints the figures docs/BENCHMARKS.md records: full replay rate
// and peak anonymous memory, a catch-up with nothing new, queries, the
// daemon and the exporter; with --scale, how they grow with the queue; with
// --history, the history's ingest and queries.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("qindex", "bin/qindex", "the qindex `binary` to measure")
	dir := flag.String("dir", "bench", "`DIR` for the generated log and databases (reused)")
	jobs := flag.Int("jobs", 125000, "jobs in the generated queue")
	runs := flag.Int("runs", 3, "runs of each measurement (the median is shown)")
	scrapers := flag.Int("scrapers", 10, "concurrent scrapes of the exporter")
	exporterLog := flag.String("exporter-log", "", "measure only the exporter, serving this `LOG` (with --exporter-db)")
	exporterDB := flag.String("exporter-db", "", "the `DB` for --exporter-log, loaded already or not")
	scale := flag.Bool("scale", false, "measure how ingest and reads grow: queues of --jobs/8, --jobs/2 and --jobs jobs")
	history := flag.Int("history", 0, "measure the history instead: `N` jobs leave around a queue of N/10, then history queries")
	flag.Parse()
	var err error
	switch {
	case *history > 0:
		err = historyFigures(*bin, *dir, *history, *runs)
	case *scale:
		err = scaleFigures(*bin, *dir, *jobs, *runs)
	case *exporterLog != "":
		err = exporterFigures(*bin, *exporterLog, *exporterDB, *runs, *scrapers)
	default:
		err = run(*bin, *dir, *jobs, *runs, *scrapers)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "qindex-bench:", err)
		os.Exit(1)
	}
}

// run measures everything on a generated queue of jobs; the exporter's
// figures make scrapers scrapes at once.
func run(bin, dir string, jobs, runs, scrapers int) error {
	if os.Getenv("QINDEX_BENCH_QUERIES_ONLY") != "" {
		return queryFigures(bin, filepath.Join(dir, "bench.db"), runs)
	}
	if os.Getenv("QINDEX_BENCH_DAEMON_ONLY") != "" {
		log := filepath.Join(dir, fmt.Sprintf("job_queue-%d.log", jobs))
		return daemonFigures(bin, dir, log, filepath.Join(dir, fmt.Sprintf("snapshot-%d.log", jobs)), runs, scrapers)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	log := filepath.Join(dir, fmt.Sprintf("job_queue-%d.log", jobs))
	snap := filepath.Join(dir, fmt.Sprintf("snapshot-%d.log", jobs))
	for _, f := range []struct {
		path string
		args []string
	}{{log, nil}, {snap, []string{"--compact"}}} {
		if err := generate(bin, f.path, append([]string{"--jobs", strconv.Itoa(jobs)}, f.args...)...); err != nil {
			return err
		}
	}
	db := filepath.Join(dir, "bench.db")
	fmt.Printf("qindex-bench: %s, %d jobs, median of %d runs\n\n", bin, jobs, runs)
	fmt.Printf("%-46s %12s %14s\n", "measurement", "result", "peak RssAnon")

	for _, f := range []struct{ name, log string }{{"full replay of the generated log", log}, {"full replay of its compaction snapshot", snap}} {
		fi, err := os.Stat(f.log)
		if err != nil {
			return err
		}
		d, peak, err := freshIngest(bin, f.log, db, runs)
		if err != nil {
			return err
		}
		fmt.Printf("%-46s %9.1f MB/s %11.1f MiB   (%.1f MB in %.2f s)\n", f.name, float64(fi.Size())/d.Seconds()/1e6,
			float64(peak)/(1<<20), float64(fi.Size())/1e6, d.Seconds())
	}
	os.Remove(db)
	if _, _, err := measure(bin, "ingest", "--log", log, "--db", db); err != nil {
		return err
	}
	timeOf := func(args ...string) (time.Duration, int64, error) {
		var times []time.Duration
		var peak int64
		for range max(runs, 5) {
			d, p, err := measure(bin, args...)
			if err != nil {
				return 0, 0, err
			}
			times, peak = append(times, d), max(peak, p)
		}
		return median(times), peak, nil
	}
	for _, m := range []struct {
		name string
		args []string
	}{
		{"ingest with nothing new", []string{"ingest", "--log", log, "--db", db}},
		{"q -allusers --af ClusterId,ProcId,Owner,JobStatus", []string{"q", "--db", db, "-allusers", "--af", "ClusterId,ProcId,Owner,JobStatus"}},
		{"q -allusers --totals (from the counts)", []string{"q", "--db", db, "-allusers", "--totals"}},
		{"q -allusers (the batch view)", []string{"q", "--db", db, "-allusers"}},
		{"q -allusers -nobatch", []string{"q", "--db", db, "-allusers", "-nobatch"}},
		{"q user001 (the batch view)", []string{"q", "--db", db, "user001"}},
		{"check", []string{"check", "--db", db}},
	} {
		d, peak, err := timeOf(m.args...)
		if err != nil {
			return err
		}
		fmt.Printf("%-46s %9.1f ms %13.1f MiB\n", m.name, ms(d), float64(peak)/(1<<20))
	}

	if err := queryFigures(bin, db, runs); err != nil {
		return err
	}
	if err := spellingFigures(bin, db, runs); err != nil {
		return err
	}
	return daemonFigures(bin, dir, log, snap, runs, scrapers)
}

// generate writes the log at path with qindex gen and args, unless it is
// there already, and flushes it to disk: otherwise the kernel writes the
// new log back while the first ingests run (its dirty pages expire after
// 30 s) and they pay for the generator's writes (at 1M jobs, 9.5 s
// instead of 8).
func generate(bin, path string, args ...string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if _, _, err := measure(bin, append([]string{"gen", "--out", path}, args...)...); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("flush %s: %w", path, err)
	}
	return nil
}

// freshIngest ingests log into a new db runs times, and returns the median
// wall time and the peak RssAnon.
func freshIngest(bin, log, db string, runs int) (time.Duration, int64, error) {
	var times []time.Duration
	var peak int64
	for range runs {
		os.Remove(db)
		d, p, err := measure(bin, "ingest", "--log", log, "--db", db)
		if err != nil {
			return 0, 0, err
		}
		times, peak = append(times, d), max(peak, p)
	}
	return median(times), peak, nil
}

// timeQuery runs a qindex query with --explain and returns its wall time
// and the query time it explains.
func timeQuery(bin string, args ...string) (wall, query time.Duration, err error) {
	wall, fields, err := explained(bin, args...)
	if err != nil {
		return 0, 0, err
	}
	v, ok := fields["time"]
	if !ok {
		return 0, 0, fmt.Errorf("%s %s: no time in --explain", bin, strings.Join(args, " "))
	}
	query, err = time.ParseDuration(v)
	return wall, query, err
}

// explained runs a qindex query with --explain and returns its wall time
// and the fields of its explanation ("plan", "matched", "time", ...).
func explained(bin string, args ...string) (time.Duration, map[string]string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, stderr.String())
	}
	fields := make(map[string]string)
	for _, line := range strings.Split(stderr.String(), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			fields[k] = v
		}
	}
	return wall, fields, nil
}

// queryFigures measures issue 3's targets: each constraint answered
// through the indexes and with --no-index, and a scan's rate.
func queryFigures(bin, db string, runs int) error {
	// Each constraint with the indexes and with --no-index, printing the
	// matching jobs' ids as a user would. The two runs alternate, so that a
	// drift in the machine's speed slows both alike, and are timed without
	// the memory sampler. Each process's --explain gives the query's own
	// time, without the process's start, mapping and exit.
	fmt.Printf("\n%-44s %22s %22s %16s\n", "q --constraint ... --af ClusterId,ProcId", "indexed: wall (query)", "--no-index: wall (query)", "speedup: wall (query)")
	for _, c := range []string{
		`Owner == "user001"`, // the largest owner: 2% of the jobs
		`Owner == "user100"`, // a middling one: 0.2%
		`JobStatus == 5`,
		`Owner == "user001" && JobStatus == 1`,
		`Owner == "user001" || Owner == "user002"`,
		`RequestMemory > 4096 && JobStatus == 1`,
	} {
		args := []string{"q", "--db", db, "-allusers", "--constraint", c, "--af", "ClusterId,ProcId", "--explain"}
		var wi, qi, ws, qs []time.Duration
		for range max(runs, 9) {
			w, q, err := timeQuery(bin, args...)
			if err != nil {
				return err
			}
			wi, qi = append(wi, w), append(qi, q)
			if w, q, err = timeQuery(bin, append(args, "--no-index")...); err != nil {
				return err
			}
			ws, qs = append(ws, w), append(qs, q)
		}
		fmt.Printf("%-44s %9.1f (%6.1f) ms %9.1f (%6.1f) ms %7.1fx (%5.1fx)\n", c, ms(median(wi)), ms(median(qi)),
			ms(median(ws)), ms(median(qs)), median(ws).Seconds()/median(wi).Seconds(), median(qs).Seconds()/median(qi).Seconds())
	}
	var queued int
	out, err := exec.Command(bin, "q", "--db", db, "-allusers", "--totals").Output()
	if err != nil {
		return err
	}
	if _, after, ok := strings.Cut(string(out), "Total for query: "); ok {
		fmt.Sscanf(after, "%d jobs", &queued)
	}
	var walls, queries []time.Duration
	for range max(runs, 5) {
		w, q, err := timeQuery(bin, "q", "--db", db, "-allusers", "--no-index", "--totals", "--explain", "--constraint", "RequestMemory > 4096 && JobStatus == 1")
		if err != nil {
			return err
		}
		walls, queries = append(walls, w), append(queries, q)
	}
	w, q := median(walls), median(queries)
	fmt.Printf("\nscan of 'RequestMemory > 4096 && JobStatus == 1' --totals --no-index: %d jobs in %.1f ms, %.0fk jobs/s (process start included; the scan alone: %.1f ms, %.0fk jobs/s)\n",
		queued, ms(w), float64(queued)/w.Seconds()/1000, ms(q), float64(queued)/q.Seconds()/1000)
	return nil
}

// spellingFigures times queries spelt as condor_q spells them against the
// same queries in qindex's -- spelling: the same plan, so the same time.
func spellingFigures(bin, db string, runs int) error {
	fmt.Printf("\n%-58s %22s %22s %s\n", "condor_q spelling | qindex spelling", "condor_q: wall (query)", "qindex: wall (query)", "same plan")
	for _, p := range [][2][]string{
		{{"-allusers", "-constraint", "JobStatus == 5", "-af", "ClusterId", "ProcId"}, {"-allusers", "--constraint", "JobStatus == 5", "--af", "ClusterId,ProcId"}},
		{{"-allusers", "-hold", "-af", "ClusterId", "ProcId"}, {"-allusers", "--constraint", "JobStatus == 5", "--af", "ClusterId,ProcId"}},
		{{"user001", "-af", "ClusterId", "ProcId"}, {"user001", "--af", "ClusterId,ProcId"}},
		{{"-allusers", "-tot"}, {"-allusers", "--totals"}},
	} {
		var w [2][]time.Duration
		var q [2][]time.Duration
		var plans [2]string
		for range max(runs, 9) {
			for i, args := range p {
				full := append([]string{"q", "--db", db, "--explain"}, args...)
				wall, query, err := timeQuery(bin, full...)
				if err != nil {
					return err
				}
				w[i], q[i] = append(w[i], wall), append(q[i], query)
				plans[i] = planOf(bin, full)
			}
		}
		fmt.Printf("%-58s %9.1f (%6.1f) ms %9.1f (%6.1f) ms %v\n", strings.Join(p[0], " ")+" | "+strings.Join(p[1], " "),
			ms(median(w[0])), ms(median(q[0])), ms(median(w[1])), ms(median(q[1])), plans[0] == plans[1])
	}
	return nil
}

// planOf returns the plan --explain reports for a qindex q command line.
func planOf(bin string, args []string) string {
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.Run()
	for _, line := range strings.Split(stderr.String(), "\n") {
		if p, ok := strings.CutPrefix(line, "plan: "); ok {
			return p
		}
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measure runs bin with args, and returns its wall time and the peak of its
// RssAnon, sampled every millisecond from /proc. The sampler reads one
// open file into one buffer: reading and splitting the file anew at each
// sample took enough of a core to slow a 1M-job ingest by 6–20% on two.
func measure(bin string, args ...string) (time.Duration, int64, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	status, _ := os.Open(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)) // nil if it has exited: rssAnon says 0
	defer status.Close()
	buf := make([]byte, 4096)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			d := time.Since(start)
			if err != nil {
				return 0, 0, fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, stderr.String())
			}
			return d, peak, nil
		case <-tick.C:
			peak = max(peak, rssAnon(status, buf))
		}
	}
}

// rssAnon reads the RssAnon line of a /proc/PID/status file into buf and
// returns it in bytes (0 if it cannot).
func rssAnon(status *os.File, buf []byte) int64 {
	if status == nil {
		return 0
	}
	n, _ := status.ReadAt(buf, 0)
	b := buf[:n]
	i := bytes.Index(b, []byte("RssAnon:"))
	if i < 0 {
		return 0
	}
	b = b[i+len("RssAnon:"):]
	if j := bytes.IndexByte(b, '\n'); j >= 0 {
		b = b[:j]
	}
	kb, _ := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(b), []byte("kB")))), 10, 64)
	return kb << 10
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}
