package main

import (
	"fmt"
	"io"
	"time"

	"github.com/qindex/qindex/store"
	"github.com/urfave/cli/v2"
)

func checkCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "verify the file's pages, every ad, and the indexes and counts against the job and history data",
		Description: `Checks the file's pages (bbolt's consistency check) and every stored ad's
checksum, then recomputes, from the stored ads, how every job is filed by Owner and
JobStatus, the per-(Owner, JobStatus) counts and the job count, and from the
history's entries, its indexes by owner and by job, its size and its counts
of jobs that left, and compares them with what the database holds.
Prints each difference and exits 1 if
there is any; prints a one-line summary and exits 0 otherwise. Memory stays
small whatever the size of the queue. Beside 'qindex serve', the daemon runs
it on a consistent snapshot of its file.

Example:
   qindex check --db queue.db`,
		Flags: []cli.Flag{dbFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("check: unexpected argument %q", c.Args().First())
			}
			dbPath, err := required(c, dbFlag())
			if err != nil {
				return err
			}
			return withDB(c.Context, dbPath, request{Command: "check", DB: dbPath}, e, func(db *store.DB) error {
				return runCheck(db, dbPath, e.stdout)
			})
		},
	}
}

// runCheck checks db, named dbPath in what it prints to stdout, as qindex
// check does, in this process or in the daemon that holds the file.
func runCheck(db *store.DB, dbPath string, stdout io.Writer) error {
	start := time.Now()
	report := func(p string) { fmt.Fprintf(stdout, "%s: %s\n", dbPath, p) }
	damaged, err := db.CheckPages(report)
	if err != nil {
		return fmt.Errorf("check %s: %w", dbPath, err)
	}
	if damaged > 0 {
		return fmt.Errorf("check %s: %w: %d problems in its pages", dbPath, store.ErrDamaged, damaged)
	}
	return db.View(func(s *store.Snapshot) error {
		if !s.Loaded() {
			return fmt.Errorf("db %s holds no queue yet: run 'qindex ingest' first", dbPath)
		}
		n, err := s.Check(report)
		if err != nil {
			return fmt.Errorf("check %s: %w", dbPath, err)
		}
		if n > 0 {
			return fmt.Errorf("check %s: %d differences between the indexes and the data", dbPath, n)
		}
		h, err := s.HistoryStats()
		if err != nil {
			return fmt.Errorf("check %s: %w", dbPath, err)
		}
		entries := "entries"
		if h.Entries == 1 {
			entries = "entry"
		}
		fmt.Fprintf(stdout, "check: %s: %d jobs and %d history %s, indexes and counts agree with the data (%.3f seconds)\n",
			dbPath, s.JobCount(), h.Entries, entries, time.Since(start).Seconds())
		return nil
	})
}
