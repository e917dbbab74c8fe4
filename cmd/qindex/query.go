package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/index/condorq"
	"github.com/qindex/qindex/store"
	"github.com/urfave/cli/v2"
)

// Environment variables that set a site's condor_q defaults, as the
// CONDOR_Q_ONLY_MY_JOBS and CONDOR_Q_DASH_BATCH_IS_DEFAULT knobs do.
const (
	envOnlyMyJobs     = "QINDEX_ONLY_MY_JOBS"
	envBatchIsDefault = "QINDEX_BATCH_IS_DEFAULT"
)

// defaultDB is the database a condor_q link reads when QINDEX_DB is not
// set: where the README's systemd unit has serve write it.
const defaultDB = "/var/lib/qindex/queue.db"

func queryCommand(e env) *cli.Command {
	return &cli.Command{
		Name:            "q",
		Usage:           "list jobs as condor_q does, from the database",
		ArgsUsage:       "[condor_q options] [OWNER | CLUSTER | CLUSTER.PROC ...]",
		SkipFlagParsing: true,
		Description: `Takes condor_q's command line and prints what condor_q would print, from the
database: the batch view of your own jobs by default, -nobatch, -dag, -run,
-idle, -hold, -hold-codes, -io, -totals, -af[:qualifiers], -format, -long,
-json, -xml, -attributes, -constraint, -limit, -allusers, -cputime,
-currentrun, -cumulative-time, -wide, with condor_q's abbreviations (-nob,
-l, -tot, ...). Owners and ids on the command line are or'd together; each
-constraint is and'ed. Options that need the pool's other daemons (-analyze,
-better-analyze, -global, -name, -pool, -submitter, ...) exit 2 saying why.

Besides condor_q's options:
   --db FILE                the database (or QINDEX_DB)
   --only-my-jobs=BOOL      without owners or ids, list only your own jobs
                            (default true; or ` + envOnlyMyJobs + `)
   --batch-is-default=BOOL  the batch view unless another is asked for
                            (default true; or ` + envBatchIsDefault + `)
   --explain                print the query plan and its figures to stderr
   --no-index               scan every job instead of using the indexes
   --af A,B                 (qindex's older spelling of -af A B)

Run through a link named condor_q, qindex behaves as 'qindex q', reading the
database named by QINDEX_DB, else ` + defaultDB + `.

Example:
   qindex q --db queue.db -allusers -hold
   qindex q --db queue.db alice 1234 -constraint 'JobStatus == 5' -af ClusterId ProcId HoldReason`,
		Flags: []cli.Flag{dbFlag()},
		// What may follow 'qindex q', for deploy/completion's scripts.
		BashComplete: func(c *cli.Context) {
			for _, n := range append(condorq.OptionNames(), "--db", "--explain", "--no-index", "--only-my-jobs", "--batch-is-default") {
				fmt.Fprintln(c.App.Writer, n)
			}
		},
		Action: func(c *cli.Context) error {
			return runTool(c.Context, qTool, c.Args().Slice(), e, func() error {
				cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
				return nil
			})
		},
	}
}

// queryRequest is a qindex q command line with what it depends on: all a
// query needs, whether it runs in this process or in the daemon that holds
// the db, which parses it again.
type queryRequest struct {
	// Args are condor_q's arguments, without qindex's own options.
	Args     []string         `json:"args"`
	DB       string           `json:"db"` // the database as the caller named it, for the banner
	Defaults condorq.Defaults `json:"defaults"`
	Me       string           `json:"me,omitempty"`
	Explain  bool             `json:"explain,omitempty"`
	NoIndex  bool             `json:"no_index,omitempty"`
	Now      int64            `json:"now"`  // the caller's clock (Unix seconds)
	Zone     string           `json:"zone"` // the caller's time zone; "" or "Local": the answering process's
}

// qindexArgs splits qindex's own options (--db, --explain, --no-index,
// --only-my-jobs, --batch-is-default) from condor_q's arguments.
func qindexArgs(args []string) (dbPath string, req queryRequest, err error) {
	req.Defaults = condorq.CondorDefaults
	for _, v := range []struct {
		env string
		to  *bool
	}{{envOnlyMyJobs, &req.Defaults.OnlyMyJobs}, {envBatchIsDefault, &req.Defaults.BatchIsDefault}} {
		if s := os.Getenv(v.env); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return "", req, usagef("q: %s=%q is not true or false", v.env, s)
			}
			*v.to = b
		}
	}
	dbPath = os.Getenv("QINDEX_DB")
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "--db":
			if !hasValue {
				if i+1 == len(args) {
					return "", req, usagef("q: --db needs a FILE")
				}
				i++
				value = args[i]
			}
			dbPath = value
		case "--explain", "--no-index":
			if hasValue {
				return "", req, usagef("q: %s takes no value", name)
			}
			if name == "--explain" {
				req.Explain = true
			} else {
				req.NoIndex = true
			}
		case "--only-my-jobs", "--batch-is-default":
			b := true
			if hasValue {
				if b, err = strconv.ParseBool(value); err != nil {
					return "", req, usagef("q: %s=%q is not true or false", name, value)
				}
			}
			if name == "--only-my-jobs" {
				req.Defaults.OnlyMyJobs = b
			} else {
				req.Defaults.BatchIsDefault = b
			}
		default:
			req.Args = append(req.Args, a)
		}
	}
	return dbPath, req, nil
}

// condorQArgs turns the command line of qindex run as condor_q (through a
// link of that name) into qindex q's: the database is QINDEX_DB's, else
// defaultDB.
func condorQArgs(args []string) []string {
	out := []string{"qindex", "q"}
	if os.Getenv("QINDEX_DB") == "" {
		out = append(out, "--db", defaultDB)
	}
	return append(out, args[1:]...)
}

// currentUser is the name "only my jobs" lists: the OS user running qindex.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// condorTool is a command that takes a condor tool's command line and
// prints what that tool would: q (condor_q) or history (condor_history).
type condorTool struct {
	name string // the command, as requests name it
	what string // what its failures are, in an error message
	// prepare parses the request's arguments into what answers it.
	prepare func(r queryRequest) (toolRun, error)
}

// toolRun answers a parsed request from a snapshot, with its figures.
type toolRun func(ctx context.Context, s *store.Snapshot, o condorq.Options, stdout, stderr io.Writer) (index.Stats, error)

var (
	qTool = condorTool{name: "q", what: "query", prepare: func(r queryRequest) (toolRun, error) {
		q, err := condorq.Parse(r.Args, r.Defaults)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, s *store.Snapshot, o condorq.Options, stdout, stderr io.Writer) (index.Stats, error) {
			return condorq.Run(ctx, s, q, o, stdout, stderr)
		}, nil
	}}
	historyTool = condorTool{name: "history", what: "history", prepare: func(r queryRequest) (toolRun, error) {
		h, err := condorq.ParseHistory(r.Args)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, s *store.Snapshot, o condorq.Options, stdout, _ io.Writer) (index.Stats, error) {
			return condorq.RunHistory(ctx, s, h, o, stdout)
		}, nil
	}}
)

// runTool runs t with the command line args, through the daemon serving
// the database when one runs, else from the file.
func runTool(ctx context.Context, t condorTool, args []string, e env, help func() error) error {
	dbPath, req, err := qindexArgs(args)
	if err != nil {
		return err
	}
	req.DB, req.Me, req.Now, req.Zone = dbPath, e.user, e.now().Unix(), e.location.String()
	run, err := req.prepare(t)
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
		return usagef("%s: no database: give --db FILE or set QINDEX_DB", t.name)
	}
	return withDB(ctx, dbPath, request{Command: t.name, Query: &req}, e, func(db *store.DB) error {
		return req.answer(ctx, t, db, run, e.stdout, e.stderr)
	})
}

// prepare parses the request's arguments for t; its errors are usage
// errors.
func (r queryRequest) prepare(t condorTool) (toolRun, error) {
	run, err := t.prepare(r)
	var ue *condorq.UsageError
	var unsupported *condorq.UnsupportedError
	switch {
	case errors.As(err, &ue):
		return nil, usagef("%s: %s", t.name, strings.TrimPrefix(ue.Msg, "Error: "))
	case errors.As(err, &unsupported):
		return nil, usagef("%s: %v", t.name, unsupported)
	}
	return run, err
}

// run answers the request to t from db, writing what the command prints:
// in the daemon, which parses what the client sent.
func (r queryRequest) run(ctx context.Context, t condorTool, db *store.DB, stdout, stderr io.Writer) error {
	run, err := r.prepare(t)
	if err != nil {
		return err
	}
	return r.answer(ctx, t, db, run, stdout, stderr)
}

// answer answers the request to t, prepared as run, from db.
func (r queryRequest) answer(ctx context.Context, t condorTool, db *store.DB, run toolRun, stdout, stderr io.Writer) error {
	o := r.options(db)
	return db.View(func(s *store.Snapshot) error {
		if !s.Loaded() {
			return fmt.Errorf("db %s holds no queue yet: run 'qindex ingest' first", db.Path())
		}
		st, err := run(ctx, s, o, stdout, stderr)
		if err != nil {
			var ue *condorq.UsageError
			if errors.As(err, &ue) {
				return usagef("%s: %s", t.name, ue.Msg)
			}
			return fmt.Errorf("%s %s: %w", t.what, db.Path(), err)
		}
		if r.Explain {
			fmt.Fprint(stderr, st)
		}
		return nil
	})
}

// options returns what a query from db needs to know of its caller.
func (r queryRequest) options(db *store.DB) condorq.Options {
	loc := time.Local
	if r.Zone != "" && r.Zone != "Local" {
		if l, err := time.LoadLocation(r.Zone); err == nil {
			loc = l
		}
	}
	name := r.DB
	if name == "" {
		name = db.Path()
	}
	return condorq.Options{Me: r.Me, Now: r.Now, Location: loc, DB: name, NoIndex: r.NoIndex}
}
