package main

import (
	"fmt"

	"github.com/qindex/qindex/index/condorq"
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
			return runTool(c.Context, historyTool, c.Args().Slice(), e, func() error {
				cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
				return nil
			})
		},
	}
}
