package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
	"github.com/urfave/cli/v2"
)

func queryCommand(e env) *cli.Command {
	return &cli.Command{
		Name:      "q",
		Usage:     "list jobs like condor_q, from the database",
		ArgsUsage: "[OWNER | CLUSTER | CLUSTER.PROC ...]",
		Description: `Lists the jobs that match any of the arguments (owner names, cluster ids or
job ids; every job when there are none) and the --constraint, in
ClusterId.ProcId order. Each job's attributes are its cluster ad's overlaid by
its own. The default output is condor_q -nobatch's table and totals line.

Example:
   qindex q --db queue.db alice 1234 --constraint 'JobStatus == 5' --af ClusterId,ProcId,HoldReason`,
		Flags: []cli.Flag{
			dbFlag,
			&cli.StringFlag{Name: "constraint", Usage: "only jobs for which the ClassAd `EXPR` is true"},
			&cli.StringFlag{Name: "af", Usage: "print the values of the comma-separated `EXPRS`, a line per job (condor_q -af)"},
			&cli.BoolFlag{Name: "long", Usage: "print every attribute as Name = value (condor_q -long)"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array of job objects (condor_q -json)"},
			&cli.BoolFlag{Name: "totals", Usage: "print only the totals line"},
			&cli.IntFlag{Name: "limit", Usage: "print at most `N` jobs (0: no limit)"},
			&cli.BoolFlag{Name: "explain", Usage: "print the query plan and its figures to standard error"},
			&cli.BoolFlag{Name: "no-index", Usage: "scan every job instead of using the Owner and JobStatus indexes"},
		},
		Action: func(c *cli.Context) error { return runQuery(c, e) },
	}
}

func runQuery(c *cli.Context, e env) error {
	dbPath, err := required(c, dbFlag)
	if err != nil {
		return err
	}
	var forms []string
	for _, f := range []string{"af", "long", "json", "totals"} {
		if c.IsSet(f) {
			forms = append(forms, "--"+f)
		}
	}
	if len(forms) > 1 {
		return usagef("q: %s cannot be combined", strings.Join(forms, " and "))
	}
	limit := c.Int("limit")
	if limit < 0 {
		return usagef("q: --limit must be 0 or more, not %d", limit)
	}
	sel, err := index.ParseSelection(c.Args().Slice(), c.String("constraint"))
	if err != nil {
		var ce *index.ConstraintError
		if errors.As(err, &ce) {
			return usagef("q: --%v", err)
		}
		return usagef("q: %v", err)
	}
	env := index.NewEnv(e.now().Unix())
	out := bufio.NewWriterSize(e.stdout, 1<<16)
	var p index.Printer
	switch {
	case c.IsSet("af"):
		exprs, err := parseAF(c.String("af"))
		if err != nil {
			return usagef("q: --af: %v", err)
		}
		p = &index.AFPrinter{W: out, Env: env, Exprs: exprs}
	case c.Bool("long"):
		p = &index.LongPrinter{W: out}
	case c.Bool("json"):
		p = &index.JSONPrinter{W: out, Env: env}
	case c.Bool("totals"):
		p = &index.TotalsPrinter{W: out, Env: env}
	default:
		p = &index.TablePrinter{W: out, Env: env, Location: e.location}
	}

	db, err := store.Open(dbPath, store.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(s *store.Snapshot) error {
		if !s.Loaded() {
			return fmt.Errorf("db %s holds no queue yet: run 'qindex ingest' first", dbPath)
		}
		var st index.Stats
		counted := false
		if tp, ok := p.(*index.TotalsPrinter); ok && !c.Bool("no-index") && limit == 0 {
			tp.Totals, st, counted, err = sel.CountTotals(s, env)
			if err != nil {
				return fmt.Errorf("query %s: %w", dbPath, err)
			}
		}
		if !counted {
			st, err = sel.Run(s, env, index.RunOptions{Limit: limit, NoIndex: c.Bool("no-index")}, p.Job)
			if err != nil {
				return fmt.Errorf("query %s: %w", dbPath, err)
			}
		}
		if err := p.End(); err != nil {
			return err
		}
		if c.Bool("explain") {
			fmt.Fprint(e.stderr, st)
		}
		return nil
	})
}

// parseAF splits a comma-separated list of expressions at the commas that
// are outside parentheses, brackets, braces and strings, and parses each.
func parseAF(list string) ([]*index.Expr, error) {
	var parts []string
	depth, inString, start := 0, false, 0
	for i := 0; i < len(list); i++ {
		switch c := list[i]; {
		case inString && c == '\\' && i+1 < len(list) && list[i+1] == '"':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, list[start:i])
			start = i + 1
		}
	}
	parts = append(parts, list[start:])
	exprs := make([]*index.Expr, 0, len(parts))
	for _, p := range parts {
		x, err := index.ParseExpr(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, x)
	}
	return exprs, nil
}
