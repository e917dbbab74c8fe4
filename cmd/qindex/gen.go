package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/qindex/qindex/exporter"
	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
	"github.com/urfave/cli/v2"
)

func genCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "gen",
		Usage: "write a realistic generated job_queue.log (for demos and benchmarks)",
		Description: `Runs a model schedd (submits, starts, holds, releases, completes, removes and
destroys jobs, edits owners) until its queue holds --jobs jobs, writing every
transaction to --out. With --left, it also keeps running, the queue staying
near --jobs, until that many jobs have left it: a log whose ingest fills the
history. With --compact, the file is instead the compaction snapshot of that
final queue, as the schedd writes it at a rotation.

Examples:
   qindex gen --out /tmp/job_queue.log --jobs 125000
   qindex gen --out /tmp/churn.log --jobs 100000 --left 1000000`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "the log `FILE` to write", Required: true},
			&cli.IntFlag{Name: "jobs", Usage: "stop when the queue holds `N` jobs", Value: 10000},
			&cli.IntFlag{Name: "left", Usage: "run until `N` jobs have left the queue too"},
			&cli.IntFlag{Name: "owners", Usage: "`N` distinct owners", Value: 200},
			&cli.Uint64Flag{Name: "seed", Usage: "random `SEED`", Value: 1},
			&cli.BoolFlag{Name: "compact", Usage: "write the final queue as a compaction snapshot"},
		},
		Action: func(c *cli.Context) error {
			jobs := c.Int("jobs")
			if jobs < 1 {
				return usagef("gen: --jobs must be at least 1")
			}
			if c.Int("left") < 0 {
				return usagef("gen: --left must not be negative")
			}
			start := time.Now()
			g := loggen.New(loggen.Config{Seed: c.Uint64("seed"), Owners: c.Int("owners"), TargetJobs: jobs + jobs/5,
				Left: c.Int("left"), ForgetLeft: true})
			if err := g.WriteQueueFile(c.String("out"), jobs, c.Bool("compact")); err != nil {
				return err
			}
			fi, err := os.Stat(c.String("out"))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "gen: %s: %d jobs, %d left, %d bytes, %d records written by the model, %.1f s\n",
				c.String("out"), g.Jobs(), g.Left(), fi.Size(), g.Records(), time.Since(start).Seconds())
			return nil
		},
	}
}

func demoCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a model schedd that keeps changing a log, and keep a database up to date with it",
		Description: `Writes a generated job_queue.log into --dir, ingests it into --dir/qindex.db, and
then keeps the queue changing: every --interval the model schedd appends new
transactions (now and then it compacts the log), and the database catches up.
Query it from another terminal while it runs.

Example:
   qindex demo --dir ./demo
   qindex q --db ./demo/qindex.db -allusers -totals`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "the `DIR` to hold the log and the database", Value: "demo"},
			&cli.IntFlag{Name: "jobs", Usage: "about `N` jobs in the queue", Value: 5000},
			&cli.DurationFlag{Name: "interval", Usage: "time between changes", Value: 2 * time.Second},
			&cli.DurationFlag{Name: "duration", Usage: "stop after this long (0: run until interrupted)"},
			&cli.StringFlag{Name: "web.listen-address", Value: "localhost" + exporter.DefaultListenAddress,
				Usage: "serve metrics on `ADDRESS` (empty: no metrics)"},
			&cli.DurationFlag{Name: "collect-interval", Value: 5 * time.Second, Usage: "collect the queue metrics every `DURATION`"},
			logFlags()[0], logFlags()[1],
		},
		Action: func(c *cli.Context) error { return runDemo(c, e) },
	}
}

func runDemo(c *cli.Context, e env) error {
	logger, err := loggerFrom(c, e.stderr)
	if err != nil {
		return err
	}
	dir := c.String("dir")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Absolute, as the database records the log's path: status and queries
	// from any directory find it.
	dir, err = filepath.Abs(dir)
	if err != nil {
		return err
	}
	logPath, dbPath := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "qindex.db")
	os.Remove(dbPath)
	if old, _ := filepath.Glob(logPath + ".*"); len(old) > 0 { // rotations of an earlier demo
		for _, f := range old {
			os.Remove(f)
		}
	}
	g := loggen.New(loggen.Config{Seed: uint64(e.now().UnixNano()), Owners: 20, TargetJobs: c.Int("jobs"), Start: e.now().Unix() - 2*86400})
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := g.Begin(f); err != nil {
		return err
	}
	for g.Jobs() < c.Int("jobs")*3/4 {
		g.Run(f, 500)
	}
	f.Close()

	ctx := c.Context
	if d := c.Duration("duration"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	// The daemon, as on a schedd: it follows the log and answers queries.
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, serveOptions{log: logPath, db: dbPath, poll: 500 * time.Millisecond, logger: logger,
			listen: c.String("web.listen-address"), telemetryPath: exporter.DefaultTelemetryPath,
			metrics: exporter.Options{Interval: c.Duration("collect-interval")}})
	}()
	daemonStatus := func() (statusReport, error) {
		var st statusReport
		var out bytes.Buffer
		err := withDB(ctx, dbPath, request{Command: "status"}, env{stdout: &out, stderr: e.stderr}, func(db *store.DB) error {
			return fmt.Errorf("the daemon is not running")
		})
		if err == nil {
			err = json.Unmarshal(out.Bytes(), &st)
		}
		return st, err
	}
	var metrics string
	for ready := false; !ready; {
		select {
		case err := <-served:
			return err
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := os.Stat(socketPath(dbPath)); err != nil {
			continue // the daemon is starting
		}
		st, err := daemonStatus()
		if err != nil {
			return err
		}
		ready = st.Daemon != nil && !st.Daemon.CaughtUp.IsZero()
		if ready {
			metrics = st.Daemon.Metrics
		}
	}
	self, _ := os.Executable()
	fmt.Fprintf(e.stdout, `qindex demo: a model schedd is writing %s
and 'qindex serve' keeps the database %s equal to it.

Query it from another terminal while this runs (Ctrl-C stops it):
   %[3]s status --db %[2]s
   %[3]s q --db %[2]s -allusers -totals
   %[3]s q --db %[2]s -allusers
   %[3]s q --db %[2]s user001 -nobatch -limit 10
   %[3]s q --db %[2]s user001 -hold
   %[3]s q --db %[2]s user001 -constraint 'JobStatus == 5' -af ClusterId ProcId Owner HoldReason
   %[3]s q --db %[2]s -allusers -json -limit 1
`, logPath, dbPath, self)
	if metrics != "" {
		fmt.Fprintf(e.stdout, "\nIts Prometheus metrics, refreshed every %s:\n   curl -s %s | grep ^htcondor_queue_jobs\n", c.Duration("collect-interval"), metrics)
	}
	fmt.Fprintln(e.stdout)
	ticker := time.NewTicker(c.Duration("interval"))
	defer ticker.Stop()
	for round := 1; ; round++ {
		select {
		case <-ctx.Done():
			err := <-served
			fmt.Fprintln(e.stdout, "qindex demo: stopped")
			return err
		case err := <-served:
			return err
		case <-ticker.C:
		}
		what, err := demoStep(g, logPath, round)
		if err != nil {
			return err
		}
		st, err := daemonStatus()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s  the model schedd %s; the daemon holds %d jobs, %d bytes behind\n",
			e.now().Format("15:04:05"), what, st.Jobs, st.LagBytes)
	}
}

// demoStep appends activity to the log, and every tenth round compacts it
// as the schedd does: the old file kept as job_queue.log.<seq>, a snapshot
// written beside it and renamed over it.
func demoStep(g *loggen.Generator, logPath string, round int) (string, error) {
	if round%10 == 0 {
		seq := int64(round / 10)
		os.Remove(fmt.Sprintf("%s.%d", logPath, seq-1))
		if err := os.Link(logPath, fmt.Sprintf("%s.%d", logPath, seq)); err != nil {
			return "", err
		}
		tmp := logPath + ".tmp"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		if err := g.Compact(f); err != nil {
			f.Close()
			return "", err
		}
		if err := f.Close(); err != nil {
			return "", err
		}
		return "compacted the log", os.Rename(tmp, logPath)
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return "appended transactions", g.Run(f, 50+round%7*20)
}
