package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/qindex/qindex/index/condorq"
	"github.com/qindex/qindex/store"
	"github.com/urfave/cli/v2"
)

func historyCommand(e env) *cli.Command {
	return &cli.Command{
		Name:            "history",
		Usage:           "list the jobs that left the queue, as condor_history does, from the database",
		ArgsUsage:       "[condor_history options] [OWNER | CLUSTER | CLUSTER.PROC ...]",
		SkipFlagParsing: true,
		Description: `Takes condor_history's command line and prints what condor_history would
print, newest first, from the history the database keeps: every job that left
the queue since qindex began following it, with its final ad. condor_history's
table by default; -af[:qualifiers], -format, -long, -json, -jsonl, -xml,
-attributes, -constraint, -limit (or -match), -since JOBID|TIME|EXPR,
-completedsince TIME, -scanlimit N. Owners and ids on the command line are
or'd together and read through the history's indexes; each -constraint is
and'ed. -since TIME and -completedsince TIME keep the jobs that left after that
Unix time (their CompletionDate, else the time their status last changed).

Besides condor_history's options:
   --db FILE      the database (or QINDEX_DB)
   --explain      print the query plan and its figures to stderr
   --no-index     scan the whole history instead of using its indexes

A job that vanished while qindex was not following the log (a compaction whose
rotated file was gone) is listed with the last ad qindex saw.

Example:
   qindex history --db queue.db alice -limit 20
   qindex history --db queue.db -completedsince 1763850000 -af ClusterId ProcId ExitCode`,
		Flags: []cli.Flag{dbFlag()},
		BashComplete: func(c *cli.Context) {
			for _, n := range append(condorq.HistoryOptionNames(), "--db", "--explain", "--no-index") {
				fmt.Fprintln(c.App.Writer, n)
			}
		},
		Action: func(c *cli.Context) error {
			return runHistory(c.Context, c.Args().Slice(), e, func() error {
				cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
				return nil
			})
		},
	}
}

func runHistory(ctx context.Context, args []string, e env, help func() error) error {
	dbPath, req, err := qindexArgs(args)
	if err != nil {
		return err
	}
	req.DB, req.Me, req.Now, req.Zone = dbPath, e.user, e.now().Unix(), e.location.String()
	h, err := req.parseHistory()
	if err != nil {
		switch {
		case errors.Is(err, condorq.ErrHelp):
			return help()
		case errors.Is(err, condorq.ErrVersion):
			fmt.Fprintf(e.stdout, "$CondorVersion: qindex %s $\n$CondorPlatform: %s-%s $\n", version(), runtime.GOARCH, runtime.GOOS)
			return nil
		}
		return err
	}
	if dbPath == "" {
		return usagef("history: no database: give --db FILE or set QINDEX_DB")
	}
	return withDB(ctx, dbPath, request{Command: "history", Query: &req}, e, func(db *store.DB) error {
		return req.answerHistory(ctx, db, h, e.stdout, e.stderr)
	})
}

// parseHistory parses the request's arguments as condor_history's; its
// errors are usage errors.
func (r queryRequest) parseHistory() (*condorq.HistoryQuery, error) {
	h, err := condorq.ParseHistory(r.Args)
	var ue *condorq.UsageError
	var unsupported *condorq.UnsupportedError
	switch {
	case errors.As(err, &ue):
		return nil, usagef("history: %s", strings.TrimPrefix(ue.Msg, "Error: "))
	case errors.As(err, &unsupported):
		return nil, usagef("history: %v", unsupported)
	}
	return h, err
}

// runHistory answers the request as qindex history, in the daemon.
func (r queryRequest) runHistory(ctx context.Context, db *store.DB, stdout, stderr io.Writer) error {
	h, err := r.parseHistory()
	if err != nil {
		return err
	}
	return r.answerHistory(ctx, db, h, stdout, stderr)
}

// answerHistory answers the request, parsed as h, from db's history.
func (r queryRequest) answerHistory(ctx context.Context, db *store.DB, h *condorq.HistoryQuery, stdout, stderr io.Writer) error {
	o := r.options(db)
	return db.View(func(s *store.Snapshot) error {
		if !s.Loaded() {
			return fmt.Errorf("db %s holds no queue yet: run 'qindex ingest' first", db.Path())
		}
		st, err := condorq.RunHistory(ctx, s, h, o, stdout)
		if err != nil {
			var ue *condorq.UsageError
			if errors.As(err, &ue) {
				return usagef("history: %s", ue.Msg)
			}
			return fmt.Errorf("history %s: %w", db.Path(), err)
		}
		if r.Explain {
			fmt.Fprint(stderr, st)
		}
		return nil
	})
}
