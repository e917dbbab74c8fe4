package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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
			dbFlag(),
			&cli.StringFlag{Name: "constraint", Usage: "only jobs for which the ClassAd `EXPR` is true"},
			&cli.StringFlag{Name: "af", Usage: "print the values of the comma-separated `EXPRS`, a line per job (condor_q -af)"},
			&cli.BoolFlag{Name: "long", Usage: "print every attribute as Name = value (condor_q -long)"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array of job objects (condor_q -json)"},
			&cli.BoolFlag{Name: "totals", Usage: "print only the totals line"},
			&cli.IntFlag{Name: "limit", Usage: "print at most `N` jobs (0: no limit)"},
			&cli.BoolFlag{Name: "explain", Usage: "print the query plan and its figures to standard error"},
			&cli.BoolFlag{Name: "no-index", Usage: "scan every job instead of using the indexes (Owner, JobStatus, ClusterId)"},
		},
		Action: func(c *cli.Context) error { return runQuery(c, e) },
	}
}

// queryRequest is a checked qindex q command line: all a query needs,
// whether it runs in this process or in the daemon that holds the db.
type queryRequest struct {
	Args       []string `json:"args"`
	Constraint string   `json:"constraint,omitempty"`
	Form       string   `json:"form"` // "table", "af", "long", "json" or "totals"
	AF         string   `json:"af,omitempty"`
	Limit      int      `json:"limit,omitempty"`
	Explain    bool     `json:"explain,omitempty"`
	NoIndex    bool     `json:"no_index,omitempty"`
	// Now is the caller's clock (Unix seconds), for CurrentTime.
	Now int64 `json:"now"`
	// Zone names the caller's time zone for dates; "" or "Local" means the
	// local time of the process that runs the query.
	Zone string `json:"zone,omitempty"`
}

func runQuery(c *cli.Context, e env) error {
	dbPath, err := required(c, dbFlag())
	if err != nil {
		return err
	}
	req := queryRequest{Args: c.Args().Slice(), Constraint: c.String("constraint"), Form: "table",
		AF: c.String("af"), Limit: c.Int("limit"), Explain: c.Bool("explain"), NoIndex: c.Bool("no-index"),
		Now: e.now().Unix(), Zone: e.location.String()}
	var forms []string
	for _, f := range []string{"af", "long", "json", "totals"} {
		if c.IsSet(f) {
			forms = append(forms, "--"+f)
			req.Form = f
		}
	}
	if len(forms) > 1 {
		return usagef("q: %s cannot be combined", strings.Join(forms, " and "))
	}
	if req.Limit < 0 {
		return usagef("q: --limit must be 0 or more, not %d", req.Limit)
	}
	if _, _, err := req.parse(); err != nil {
		return err
	}
	return withDB(c.Context, dbPath, request{Command: "q", Query: &req}, e, func(db *store.DB) error {
		return req.run(c.Context, db, e.stdout, e.stderr)
	})
}

// parse parses the request's selection and --af expressions; its errors
// are usage errors.
func (r queryRequest) parse() (index.Selection, []*index.Expr, error) {
	sel, err := index.ParseSelection(r.Args, r.Constraint)
	if err != nil {
		var ce *index.ConstraintError
		if errors.As(err, &ce) {
			return sel, nil, usagef("q: --%v", err)
		}
		return sel, nil, usagef("q: %v", err)
	}
	var exprs []*index.Expr
	if r.Form == "af" {
		if exprs, err = parseAF(r.AF); err != nil {
			return sel, nil, usagef("q: --af: %v", err)
		}
	}
	return sel, exprs, nil
}

// run answers the request from db, writing what qindex q prints.
func (r queryRequest) run(ctx context.Context, db *store.DB, stdout, stderr io.Writer) error {
	sel, exprs, err := r.parse()
	if err != nil {
		return err
	}
	loc := time.Local
	if r.Zone != "" && r.Zone != "Local" {
		if loc, err = time.LoadLocation(r.Zone); err != nil {
			loc = time.Local
		}
	}
	env := index.NewEnv(r.Now)
	out := bufio.NewWriterSize(stdout, 1<<16)
	var p index.Printer
	switch r.Form {
	case "af":
		p = &index.AFPrinter{W: out, Env: env, Exprs: exprs}
	case "long":
		p = &index.LongPrinter{W: out}
	case "json":
		p = &index.JSONPrinter{W: out, Env: env}
	case "totals":
		p = &index.TotalsPrinter{W: out, Env: env}
	default:
		p = &index.TablePrinter{W: out, Env: env, Location: loc}
	}
	return db.View(func(s *store.Snapshot) error {
		if !s.Loaded() {
			return fmt.Errorf("db %s holds no queue yet: run 'qindex ingest' first", db.Path())
		}
		var st index.Stats
		counted := false
		if tp, ok := p.(*index.TotalsPrinter); ok && !r.NoIndex && r.Limit == 0 {
			tp.Totals, st, counted, err = sel.CountTotals(s, env)
			if err != nil {
				return fmt.Errorf("query %s: %w", db.Path(), err)
			}
		}
		if !counted {
			st, err = sel.Run(ctx, s, env, index.RunOptions{Limit: r.Limit, NoIndex: r.NoIndex}, p.Job)
			if err != nil {
				return fmt.Errorf("query %s: %w", db.Path(), err)
			}
		}
		if err := p.End(); err != nil {
			return err
		}
		if r.Explain {
			fmt.Fprint(stderr, st)
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
