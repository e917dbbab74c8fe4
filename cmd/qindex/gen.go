package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/qindex/qindex/ingest"
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
transaction to --out. With --compact, the file is instead the compaction
snapshot of that final queue, as the schedd writes it at a rotation.

Example:
   qindex gen --out /tmp/job_queue.log --jobs 125000`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "the log `FILE` to write", Required: true},
			&cli.IntFlag{Name: "jobs", Usage: "stop when the queue holds `N` jobs", Value: 10000},
			&cli.IntFlag{Name: "owners", Usage: "`N` distinct owners", Value: 200},
			&cli.Uint64Flag{Name: "seed", Usage: "random `SEED`", Value: 1},
			&cli.BoolFlag{Name: "compact", Usage: "write the final queue as a compaction snapshot"},
		},
		Action: func(c *cli.Context) error {
			jobs := c.Int("jobs")
			if jobs < 1 {
				return usagef("gen: --jobs must be at least 1")
			}
			start := time.Now()
			g := loggen.New(loggen.Config{Seed: c.Uint64("seed"), Owners: c.Int("owners"), TargetJobs: jobs + jobs/5})
			f, err := os.OpenFile(c.String("out"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			w := bufio.NewWriterSize(f, 1<<20)
			if err := g.WriteQueue(w, jobs, c.Bool("compact")); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "gen: %s: %d jobs, %d bytes, %d records written by the model, %.1f s\n",
				c.String("out"), g.Jobs(), fi.Size(), g.Records(), time.Since(start).Seconds())
			return f.Close()
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
   qindex q --db ./demo/qindex.db --totals`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "the `DIR` to hold the log and the database", Value: "demo"},
			&cli.IntFlag{Name: "jobs", Usage: "about `N` jobs in the queue", Value: 5000},
			&cli.DurationFlag{Name: "interval", Usage: "time between changes", Value: 2 * time.Second},
			&cli.DurationFlag{Name: "duration", Usage: "stop after this long (0: run until interrupted)"},
		},
		Action: func(c *cli.Context) error { return runDemo(c, e) },
	}
}

func runDemo(c *cli.Context, e env) error {
	dir := c.String("dir")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	logPath, dbPath := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "qindex.db")
	os.Remove(dbPath)
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
	logger := newLogger(e.stderr)
	catchUp := func() (ingest.Summary, error) {
		db, err := store.Open(dbPath, store.Options{Timeout: 10 * time.Second})
		if err != nil {
			return ingest.Summary{}, err
		}
		defer db.Close()
		return ingest.CatchUp(context.WithoutCancel(ctx), db, ingest.Options{Log: logPath, Logger: logger})
	}
	sum, err := catchUp()
	if err != nil {
		return err
	}
	self, _ := os.Executable()
	fmt.Fprintf(e.stdout, `qindex demo: a model schedd is writing %s
and the database %s follows it (ingested %d jobs from %d records).

Query it from another terminal while this runs (Ctrl-C stops it):
   %[5]s q --db %[2]s --totals
   %[5]s q --db %[2]s --limit 10
   %[5]s q --db %[2]s user001 --constraint 'JobStatus == 5' --af ClusterId,ProcId,Owner,HoldReason
   %[5]s q --db %[2]s --json --limit 1

`, logPath, dbPath, sum.Jobs, sum.Records, self)
	ticker := time.NewTicker(c.Duration("interval"))
	defer ticker.Stop()
	for round := 1; ; round++ {
		select {
		case <-ctx.Done():
			fmt.Fprintln(e.stdout, "qindex demo: stopped")
			return nil
		case <-ticker.C:
		}
		if err := demoStep(g, logPath, round); err != nil {
			return err
		}
		sum, err := catchUp()
		if err != nil {
			return err
		}
		what := "appended"
		if sum.Reloaded {
			what = "compacted and reloaded"
		}
		fmt.Fprintf(e.stdout, "%s  log %s: %d records applied, %d jobs in the queue\n",
			e.now().Format("15:04:05"), what, sum.Records, sum.Jobs)
	}
}

// demoStep appends activity to the log, and every tenth round compacts it
// as the schedd does: a snapshot written beside it and renamed over it.
func demoStep(g *loggen.Generator, logPath string, round int) error {
	if round%10 == 0 {
		tmp := logPath + ".tmp"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if err := g.Compact(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(tmp, logPath)
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return g.Run(f, 50+round%7*20)
}
