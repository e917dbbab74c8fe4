// Command qindex replays an HTCondor schedd's job_queue.log into a bbolt
// database and answers condor_q-style queries from it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	promversion "github.com/prometheus/common/version"
	"github.com/urfave/cli/v2"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	exits := &exitHooks{}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first SIGINT or SIGTERM cancels ctx: the daemon commits
		// and stops, a query stops reading. A second one, or a query
		// still blocked (on a terminal that does not read, say) after a
		// moment, ends the process at once.
		sig := <-sigs
		cancel()
		grace := interruptGrace
		if longStop(os.Args) {
			grace = daemonStopGrace
		}
		select {
		case sig = <-sigs:
		case <-time.After(grace):
		}
		fmt.Fprintf(os.Stderr, "qindex: %v: stopped\n", sig)
		exits.run()
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
	promversion.Version = version() // for qindex_build_info
	args := os.Args
	if filepath.Base(args[0]) == "condor_q" {
		args = condorQArgs(args)
	}
	code := run(ctx, args, env{stdout: os.Stdout, stderr: os.Stderr, now: time.Now, location: time.Local, user: currentUser(), exits: exits})
	os.Exit(code)
}

// How long after SIGINT or SIGTERM a command that has not stopped by
// itself is ended: a query or status at once, almost; the daemon, an
// ingest and the demo once they had time to commit what they applied.
const (
	interruptGrace  = time.Second
	daemonStopGrace = time.Minute
)

// longStop reports whether the command line args runs a command that
// commits on its way out (serve, ingest, demo).
func longStop(args []string) bool {
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			return a == "serve" || a == "ingest" || a == "demo"
		}
	}
	return false
}

// env is what a run of the command sees of the world; tests replace it.
type env struct {
	stdout, stderr io.Writer
	now            func() time.Time
	location       *time.Location
	user           string // the OS user, whose jobs "only my jobs" lists
	exits          *exitHooks
}

// exitHooks are what must be undone even when the process ends at once
// (os.Exit runs no deferred calls): the daemon's socket. A nil *exitHooks
// takes and runs nothing.
type exitHooks struct {
	mu  sync.Mutex
	fns []func()
}

// add registers fn to run at a forced exit.
func (h *exitHooks) add(fn func()) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns = append(h.fns, fn)
}

// run runs what add registered.
func (h *exitHooks) run() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fn := range h.fns {
		fn()
	}
}

// version is qindex's version, as the build recorded it.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run runs the command line args and returns the exit status: 0 on
// success, 2 for a bad command line, 1 for any other failure.
func run(ctx context.Context, args []string, e env) int {
	app := newApp(e)
	err := app.RunContext(ctx, flagsFirst(app, args))
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "qindex: %v\n", err)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(e.stderr, "qindex: interrupted\n")
		return 1
	}
	fmt.Fprintf(e.stderr, "qindex: %v\n", err)
	return 1
}

func newApp(e env) *cli.App {
	onUsage := func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	app := &cli.App{
		Name:    "qindex",
		Version: version(),
		Usage:   "index an HTCondor job_queue.log and query it like condor_q",
		Description: `qindex replays a schedd's job_queue.log into a bbolt database and answers
condor_q-style queries from that file, without asking the schedd.

Example:
   qindex ingest --log /var/lib/condor/spool/job_queue.log --db /var/lib/qindex/queue.db
   qindex q --db /var/lib/qindex/queue.db alice -af ClusterId ProcId JobStatus`,
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		OnUsageError:    onUsage,
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		Commands:        []*cli.Command{ingestCommand(e), serveCommand(e), queryCommand(e), historyCommand(e), statusCommand(e), checkCommand(e), genCommand(e), demoCommand(e), manCommand(e)},
		// 'qindex --generate-bash-completion' lists what may follow, for
		// deploy/completion's scripts.
		EnableBashCompletion: true,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("unknown command %q (see 'qindex --help')", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = onUsage
		switch c.Name {
		case "q", "history", "status", "check", "ingest": // serve watches itself, and moves its file aside
			action := c.Action
			c.Action = func(c *cli.Context) error {
				db := c.String("db")
				if c.Command.SkipFlagParsing {
					db, _, _ = qindexArgs(c.Args().Slice())
				}
				stop, err := watchdog(e, db, nil)
				if err != nil {
					return err
				}
				defer stop()
				return action(c)
			}
		}
	}
	return app
}

// flagsFirst moves a command's flags before its positional arguments, so
// that "qindex q alice --af Owner" works as condor_q users expect: the CLI
// package stops reading flags at the first positional argument. A "--"
// ends the flags, as usual.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var cmd *cli.Command
	i := 1
	for ; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			cmd = app.Command(args[i])
			break
		}
	}
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	flags := []string{}
	var positional []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j:]...)
			break
		}
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || name == "" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		if n, _, hasValue := strings.Cut(name, "="); !hasValue && takesValue[n] && j+1 < len(rest) {
			j++
			flags = append(flags, rest[j])
		}
	}
	out := append([]string{}, args[:i+1]...)
	out = append(out, flags...)
	if len(positional) > 0 && positional[0] != "--" {
		out = append(out, "--")
	}
	return append(out, positional...)
}

// dbFlag and logFlag return new flags for each command: the CLI package
// records parsing state in them.
func dbFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "db", Usage: "the qindex database `FILE`", EnvVars: []string{"QINDEX_DB"}}
}

func logFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "log", Usage: "the schedd's job_queue.log `FILE`", EnvVars: []string{"QINDEX_LOG"}}
}

// required returns the value of a string flag that must be set.
func required(c *cli.Context, f *cli.StringFlag) (string, error) {
	v := c.String(f.Name)
	if v == "" {
		env := ""
		if len(f.EnvVars) > 0 {
			env = " (or set " + f.EnvVars[0] + ")"
		}
		return "", usagef("%s: --%s is required%s", c.Command.Name, f.Name, env)
	}
	return v, nil
}

// absPath returns the value of a required path flag made absolute: the
// database records the log's path, which must not depend on the directory
// a later command runs in.
func absPath(c *cli.Context, f *cli.StringFlag) (string, error) {
	v, err := required(c, f)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return "", fmt.Errorf("%s: --%s %s: %w", c.Command.Name, f.Name, v, err)
	}
	return abs, nil
}

// The Go runtime's memory settings for commands that replay a log, unless
// GOMEMLIMIT or GOGC say otherwise. Replay allocates and drops a group's
// worth of memory per commit; the soft limit makes the collector return it
// before the heap doubles, keeping a load at a million jobs under 150 MB of
// RssAnon.
//
// serve collects half as often as Go's default (GOGC 100) under a lower
// limit: at a million jobs, with the log growing at 5 MB/s, its lag went
// from 2.0-2.4 s to 1.4-1.6 s, for a load's peak RssAnon of 135 MiB instead
// of 127-130 (docs/BENCHMARKS.md). ingest keeps the defaults: the limit
// alone holds it to its figures.
const (
	ingestMemoryLimit = 150 << 20
	serveMemoryLimit  = 140 << 20
	serveGCPercent    = 200
)

// limitMemory sets the soft memory limit, and the collector's target
// percentage unless gcPercent is 0, where the environment does not.
func limitMemory(limit int64, gcPercent int) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	if gcPercent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// manCommand prints qindex's man page, made from the commands' own help
// (deploy/qindex.1 is its output; 'make deploy/qindex.1' makes it again).
func manCommand(e env) *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page, in roff",
		Hidden: true,
		Action: func(c *cli.Context) error {
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = io.WriteString(e.stdout, page)
			return err
		},
	}
}

// logFlags are --log.level and --log.format, as exporters spell them, for
// the commands that log (serve, ingest, demo).
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log.level", Value: "info", Usage: "log messages of at least `LEVEL`: debug, info, warn or error"},
		&cli.StringFlag{Name: "log.format", Value: "logfmt", Usage: "log lines as `FORMAT`: logfmt or json"},
	}
}

// loggerFrom returns the logger --log.level and --log.format ask for,
// writing to w.
func loggerFrom(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log.level"))); err != nil {
		return nil, usagef("%s: --log.level %q is not debug, info, warn or error", c.Command.Name, c.String("log.level"))
	}
	o := &slog.HandlerOptions{Level: level}
	switch c.String("log.format") {
	case "logfmt":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, usagef("%s: --log.format %q is not logfmt or json", c.Command.Name, c.String("log.format"))
}
