package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/store"
	"github.com/urfave/cli/v2"
)

func ingestCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "ingest",
		Usage: "catch the database up with the log, then exit",
		Description: `Replays every committed record of the log that the database does not hold yet,
up to the last complete one, and prints a one-line summary. Run again with
nothing new, it replays nothing. A log that was compacted, rotated or
recreated since is reloaded whole into a new state that replaces the old one
atomically. Corrupt records are reported with file and line, and skipped.

Example:
   qindex ingest --log /var/lib/condor/spool/job_queue.log --db queue.db`,
		Flags: append([]cli.Flag{logFlag(), dbFlag()}, logFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("ingest: unexpected argument %q", c.Args().First())
			}
			logPath, err := absPath(c, logFlag())
			if err != nil {
				return err
			}
			dbPath, err := required(c, dbFlag())
			if err != nil {
				return err
			}
			// A file that is not a log is refused before a database is
			// created for it.
			if _, _, err := ingest.Inspect(logPath); err != nil {
				return fmt.Errorf("ingest: %w", err)
			}
			// Beside a daemon there is nothing to do: it keeps the file
			// current, and holds it.
			var st bytes.Buffer
			if ok, err := callDaemon(c.Context, dbPath, request{Command: "status"}, env{stdout: &st, stderr: io.Discard}); ok && err == nil {
				var r statusReport
				if json.Unmarshal(st.Bytes(), &r) == nil && r.Daemon != nil {
					fmt.Fprintf(e.stdout, "ingest: 'qindex serve' (pid %d) keeps %s current from %s; nothing to do\n", r.Daemon.PID, dbPath, r.Log)
					return nil
				}
			}
			limitMemory(ingestMemoryLimit, 0)
			_, statErr := os.Stat(dbPath)
			created := errors.Is(statErr, fs.ErrNotExist)
			logger, err := loggerFrom(c, e.stderr)
			if err != nil {
				return err
			}
			sum, err := ingestInto(c.Context, dbPath, logPath, logger)
			if err != nil {
				if created {
					// A first ingest that failed leaves no file: a
					// database without a queue would only mislead.
					os.Remove(dbPath)
				}
				return err
			}
			fmt.Fprintf(e.stdout, "ingest: %s\n", sum)
			return nil
		},
	}
}

// ingestInto catches the database at dbPath up with the log.
func ingestInto(ctx context.Context, dbPath, logPath string, logger *slog.Logger) (ingest.Summary, error) {
	db, err := store.Open(dbPath, store.Options{})
	if err != nil {
		return ingest.Summary{}, err
	}
	defer db.Close()
	sum, err := ingest.CatchUp(ctx, db, ingest.Options{Log: logPath, Logger: logger})
	if err != nil {
		return sum, fmt.Errorf("ingest %s into %s: %w", logPath, dbPath, err)
	}
	return sum, nil
}
