package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/qindex/qindex/exporter"
	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/store"
	"github.com/urfave/cli/v2"
)

func serveCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "follow the log into the database, and answer queries, until stopped",
		Description: `Keeps the database equal to the schedd's committed queue: every --poll it
applies what the log gained, follows compactions (finishing the old file from
its rotated copy job_queue.log.<seq> when the schedd kept one) and reloads a
recreated or replaced log. While it runs, 'qindex q' and 'qindex status' ask
it over the socket FILE.sock beside the database. By default every local user
may read the database and use the socket, as with condor_q (the queue holds
no secrets); --access.mode and --access.group restrict both.

It serves Prometheus metrics of the queue at --web.telemetry-path on
--web.listen-address (an empty address serves none), computed by a background
collection every --collect-interval (0: at each scrape), and a landing page
at /.

SIGTERM or SIGINT ends it after committing the batch in progress. The next
start resumes from the last commit. A database found damaged, at start or
while serving, is rebuilt from the log beside it (queries are answered from
the damaged file meanwhile, right or failing), then moved to FILE.damaged.
A log that is not a valid log (empty, headerless) never replaces the queue.
Past QINDEX_MAX_MEMORY (default 4GiB) it moves its file aside and exits.

Example:
   qindex serve --log /var/lib/condor/spool/job_queue.log --db /var/lib/qindex/queue.db`,
		Flags: []cli.Flag{logFlag(), dbFlag(),
			&cli.DurationFlag{Name: "poll", Value: ingest.DefaultPoll, Usage: "look at the log every `DURATION`"},
			&cli.StringFlag{Name: "web.listen-address", Value: exporter.DefaultListenAddress,
				Usage: "serve metrics on `ADDRESS` (host:port; empty: no metrics)"},
			&cli.StringFlag{Name: "web.telemetry-path", Value: exporter.DefaultTelemetryPath, Usage: "serve metrics at `PATH`"},
			&cli.StringFlag{Name: "web.config.file", Usage: "exporter-toolkit's web configuration `FILE`: TLS and basic authentication (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md)"},
			&cli.BoolFlag{Name: "web.systemd-socket", Usage: "serve metrics on the listeners systemd passes (socket activation) instead of --web.listen-address"},
			&cli.DurationFlag{Name: "collect-interval", Value: exporter.DefaultInterval,
				Usage: "collect the queue metrics every `DURATION` (0: at each scrape)"},
			&cli.IntFlag{Name: "metrics.max-owners", Value: exporter.DefaultMaxOwners,
				Usage: "name at most `N` owners in htcondor_queue_owner_jobs (the rest are summed as _other)"},
			&cli.StringFlag{Name: "history.retention", Value: defaultRetention,
				Usage: "keep the jobs that left the queue for `DURATION` (30d, 12h, 1w; 0: for ever)"},
			&cli.StringFlag{Name: "history.retention.size", Value: defaultRetentionSize,
				Usage: "keep at most `SIZE` of history (512MiB, 2GiB; 0: no bound); the oldest go first"},
			&cli.StringFlag{Name: "access.mode", Value: "0644",
				Usage: "the database's permissions (`OCTAL`); its socket lets connect whoever may read it (0644: every local user, as condor_q)"},
			&cli.StringFlag{Name: "access.group", Usage: "give the database and its socket to `GROUP` (a name or a number), with --access.mode 0640 to limit queries to it"},
			logFlags()[0], logFlags()[1],
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("serve: unexpected argument %q", c.Args().First())
			}
			logPath, err := absPath(c, logFlag())
			if err != nil {
				return err
			}
			dbPath, err := required(c, dbFlag())
			if err != nil {
				return err
			}
			if c.Duration("poll") <= 0 {
				return usagef("serve: --poll must be positive, not %s", c.Duration("poll"))
			}
			if c.Duration("collect-interval") < 0 {
				return usagef("serve: --collect-interval must not be negative, not %s", c.Duration("collect-interval"))
			}
			if n := c.Int("metrics.max-owners"); n < 1 {
				return usagef("serve: --metrics.max-owners must be at least 1, not %d", n)
			}
			if p := c.String("web.telemetry-path"); !strings.HasPrefix(p, "/") {
				return usagef("serve: --web.telemetry-path must start with /, not %q", p)
			}
			retention, err := parseRetention(c.String("history.retention"), c.String("history.retention.size"))
			if err != nil {
				return err
			}
			acc, err := parseAccess(c.String("access.mode"), c.String("access.group"))
			if err != nil {
				return err
			}
			if f := c.String("web.config.file"); f != "" {
				if err := web.Validate(f); err != nil {
					return usagef("serve: --web.config.file %s: %v", f, err)
				}
			}
			logger, err := loggerFrom(c, e.stderr)
			if err != nil {
				return err
			}
			limitMemory(serveMemoryLimit, serveGCPercent)
			stop, err := watchdog(e, dbPath, func() {
				// A read looping on a damaged page cannot be stopped, nor
				// the file closed: move it aside, so that the next start
				// rebuilds it from the log.
				if err := os.Rename(dbPath, damagedPath(dbPath)); err == nil {
					logger.Error("moved the database aside; the next start rebuilds it from the log", "db", dbPath, "file", damagedPath(dbPath))
				}
				os.Remove(socketPath(dbPath))
			})
			if err != nil {
				return err
			}
			defer stop()
			return serve(c.Context, serveOptions{log: logPath, db: dbPath, poll: c.Duration("poll"), logger: logger, access: acc, exits: e.exits, retention: retention,
				listen: c.String("web.listen-address"), telemetryPath: c.String("web.telemetry-path"),
				webConfig: c.String("web.config.file"), systemdSocket: c.Bool("web.systemd-socket"),
				metrics: exporter.Options{Interval: c.Duration("collect-interval"), MaxOwners: c.Int("metrics.max-owners")}})
		},
	}
}

type serveOptions struct {
	log, db   string
	poll      time.Duration
	logger    *slog.Logger
	retention store.Retention // what the history keeps; zero: everything

	listen, telemetryPath string // no metrics when listen is "" (and no systemd socket)
	webConfig             string // exporter-toolkit's web configuration file, if any
	systemdSocket         bool   // listen on systemd's sockets instead of listen
	metrics               exporter.Options

	access access // who may read the database and use its socket
	exits  *exitHooks
}

// serve runs the daemon until ctx ends.
func serve(ctx context.Context, o serveOptions) error {
	var ln net.Listener
	if o.listen != "" && !o.systemdSocket {
		// First, so that a taken port stops the daemon before it starts.
		var err error
		if ln, err = net.Listen("tcp", o.listen); err != nil {
			return fmt.Errorf("serve: --web.listen-address: %w", err)
		}
		defer ln.Close()
	}
	db, upgrade, err := openForServe(o.db, o.access, o.logger)
	if err != nil {
		return err
	}
	if err := o.access.apply(o.db); err != nil {
		db.Close()
		return fmt.Errorf("serve: %w", err)
	}
	d := &server{o: o, started: time.Now(), damaged: make(chan error, 1), hup: make(chan struct{}, 1)}
	if err := markUnsynced(o.db, unsynced{PID: os.Getpid(), Boot: bootID(), Since: d.started}); err != nil {
		db.Close()
		return fmt.Errorf("serve: %w", err)
	}
	d.use(db)
	defer func() { d.db.Close() }()

	var wg sync.WaitGroup
	var exp *exporter.Exporter
	if ln != nil || o.systemdSocket {
		var stop func()
		exp, stop, err = serveMetrics(ln, d)
		if err != nil {
			return err
		}
		defer stop()
		d.metrics = "systemd socket" + o.telemetryPath
		if ln != nil {
			d.metrics = metricsURL(ln.Addr(), o.telemetryPath, o.webConfig)
		}
	}
	sock, err := listenSocket(socketPath(o.db), o.access, d.handle, o.logger)
	if err != nil {
		o.logger.Error("queries cannot reach the daemon; they will wait for the database lock and fail", "err", err)
	} else {
		o.exits.add(func() { os.Remove(sock.path) }) // a forced exit skips sock.serve's removal
		wg.Go(func() { sock.serve(ctx) })
	}
	o.logger.Info("serving", "log", o.log, "db", o.db, "poll", o.poll, "pid", os.Getpid(), "metrics", d.metrics)
	// SIGHUP: look at the log now (after a rotation, say), not at the next
	// poll or the end of a backoff, whether the follower or a rebuild
	// waits. It never stops the daemon.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				o.logger.Info("SIGHUP: looking at the log now", "log", o.log)
				d.mu.RLock()
				f := d.follower
				d.mu.RUnlock()
				f.Nudge()
				select {
				case d.hup <- struct{}{}:
				default:
				}
			}
		}
	})
	// The first catch-up (a load, or what the log gained while the daemon
	// was down) before the collection starts competing with it for CPU and
	// pages; the metrics of a state about to be replaced would mislead.
	// A file of an older schema is read, not written: it is rebuilt.
	if upgrade == nil {
		d.follower.Step(ctx)
	}
	if exp != nil {
		exp.Start()
	}
	wg.Go(func() { d.pruneHistory(ctx) })
	var cause error
	if upgrade != nil {
		cause = upgrade
	}
	for ; ; cause = nil {
		if cause == nil {
			if cause = d.follow(ctx); cause == nil {
				break
			}
		}
		if err := d.rebuild(ctx, cause, exp); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		d.pruneOnce() // the retention, recorded in the new file
	}
	wg.Wait()
	if err := clearUnsynced(d.db, o.db); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	o.logger.Info("stopped", "db", o.db)
	return nil
}

// server is what a running 'qindex serve' answers from: the database and
// the Follower that keeps it current, which a rebuild replaces when the
// file turns out damaged.
type server struct {
	o       serveOptions
	started time.Time
	metrics string // the metrics URL, "" when none are served

	// mu guards the fields below: requests hold it to read, a rebuild to
	// replace the database.
	mu         sync.RWMutex
	db         *store.DB
	follower   *ingest.Follower
	rebuilding string // why the database is being rebuilt; "" when it is not

	damaged chan error               // the first damage met in the current database
	hup     chan struct{}            // SIGHUP, for a rebuild waiting to look at the log again
	current atomic.Pointer[store.DB] // db, for reports that may come late from a replaced one
}

// use makes db the daemon's database.
func (d *server) use(db *store.DB) {
	d.db, d.follower = db, d.newFollower(db)
	d.current.Store(db)
}

// newFollower returns a Follower of the log into db that reports damage.
func (d *server) newFollower(db *store.DB) *ingest.Follower {
	return ingest.NewFollower(db, ingest.FollowOptions{Options: ingest.Options{Log: d.o.log, Logger: d.o.logger},
		Poll: d.o.poll, OnError: func(err error) { d.checkDB(db, err) }})
}

// check notes err, met in the current database, if it says the database is
// damaged: the follow loop then rebuilds it.
func (d *server) check(err error) { d.checkDB(d.current.Load(), err) }

// checkDB is check for an error met in db, which is ignored unless db is
// still the current database.
func (d *server) checkDB(db *store.DB, err error) {
	if errors.Is(err, store.ErrDamaged) && db == d.current.Load() {
		select {
		case d.damaged <- err:
		default:
		}
	}
}

// status returns the Follower's status (for the ingest metrics).
func (d *server) status() ingest.Status {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.follower.Status()
}

// handle answers a request from the socket, as the command would from the
// file.
func (d *server) handle(ctx context.Context, req request, stdout, stderr io.Writer) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var err error
	switch req.Command {
	case "q", "history", "check":
		if req.Command != "check" && req.Query == nil {
			return usagef("%s: empty request", req.Command)
		}
		d.mu.RUnlock()
		err = d.waitLoaded(ctx, stderr)
		d.mu.RLock()
		switch {
		case err != nil:
		case req.Command == "check":
			name := req.DB
			if name == "" {
				name = d.o.db
			}
			err = runCheck(d.db, name, stdout)
		case req.Command == "history":
			err = req.Query.run(ctx, historyTool, d.db, stdout, stderr)
		default:
			err = req.Query.run(ctx, qTool, d.db, stdout, stderr)
		}
	case "status":
		info := &daemonInfo{follower: d.follower, started: d.started, metrics: d.metrics, rebuilding: d.rebuilding}
		err = info.status(ctx, d.db, stdout)
	default:
		return usagef("unknown request %q", req.Command)
	}
	d.check(err)
	if err != nil && d.rebuilding != "" {
		err = fmt.Errorf("%w (the daemon is rebuilding the database from the log: %s)", err, d.rebuilding)
	}
	return err
}

// follow keeps the database caught up until ctx ends (nil) or a component
// finds it damaged (the damage).
func (d *server) follow(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.follower.Run(runCtx)
	}()
	select {
	case <-done:
		return nil
	case err := <-d.damaged:
		cancel()
		<-done
		return err
	}
}

// rebuild loads the log into a new file beside the current one, answering
// queries from the current file meanwhile, then moves that file aside and
// puts the new one in its place. The cause is the damage found in the
// file (its reads are checked: they give right answers or fail; it is
// kept as FILE.damaged), or a *store.SchemaError for a file of an older
// schema, opened read without its indexes (kept as FILE.schema-N).
func (d *server) rebuild(ctx context.Context, cause error, exp *exporter.Exporter) error {
	path, aside, tmp := d.o.db, damagedPath(d.o.db), d.o.db+".rebuild"
	since := time.Now().UTC().Format(time.RFC3339)
	why := fmt.Sprintf("the database was found damaged and is being rebuilt from the log, since %s, after: %v", since, cause)
	kept := "the damaged file is kept aside"
	if old := (*store.SchemaError)(nil); errors.As(cause, &old) {
		aside = schemaPath(path, old.Found)
		why = fmt.Sprintf("the database has schema %s and is being rebuilt from the log for schema %s, since %s", old.Found, store.SchemaVersion, since)
		kept = "the file of schema " + old.Found + " is kept aside"
		d.o.logger.Warn("the database has another schema version; rebuilding it from the log, answering from it meanwhile",
			"db", path, "schema", old.Found, "want", store.SchemaVersion)
	} else {
		d.o.logger.Error("the database is damaged; rebuilding it from the log, answering from the damaged file meanwhile",
			"db", path, "err", cause)
	}
	d.mu.Lock()
	d.rebuilding = why
	d.mu.Unlock()

	os.Remove(tmp)
	fresh, err := openUnsynced(tmp, d.o.access)
	if err != nil {
		return fmt.Errorf("serve: rebuild: %w", err)
	}
	if err := d.o.access.apply(tmp); err != nil {
		fresh.Close()
		return fmt.Errorf("serve: rebuild: %w", err)
	}
	f := d.newFollower(fresh)
	for {
		pause := f.Step(ctx)
		if st := f.Status(); ctx.Err() == nil && st.LastError == "" && st.Reloads > 0 {
			break
		}
		select {
		case <-ctx.Done():
			fresh.Close()
			os.Remove(tmp)
			return ctx.Err()
		case <-time.After(pause):
		case <-d.hup: // the log is looked at now, as by the follower
		}
	}
	fresh.Close()

	d.mu.Lock()
	defer d.mu.Unlock()
	if exp != nil {
		exp.Use(nil) // the last snapshot stays until the new file is in place
	}
	d.db.Close()
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("serve: move the database aside: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("serve: put the rebuilt database in place: %w", err)
	}
	db, err := openUnsynced(path, d.o.access)
	if err != nil {
		return fmt.Errorf("serve: open the rebuilt database: %w", err)
	}
	d.use(db)
	d.rebuilding = ""
	select { // damage reported by readers of the old file
	case <-d.damaged:
	default:
	}
	if exp != nil {
		exp.Use(db)
	}
	d.o.logger.Info("rebuilt the database from the log; "+kept, "db", path, "file", aside)
	return nil
}

// serveMetrics starts the exporter's HTTP server on ln and returns the
// exporter, for the caller to Start. stop ends both.
func serveMetrics(ln net.Listener, d *server) (exp *exporter.Exporter, stop func(), err error) {
	o := d.o
	m := o.metrics
	m.Logger, m.OnError = o.logger, d.checkDB
	exp = exporter.New(d.db, m)
	reg, err := exporter.NewRegistry(exp, exporter.NewIngestCollector(d.status))
	if err != nil {
		return nil, nil, err
	}
	h, err := exporter.NewHandler(exp, reg, exporter.HandlerOptions{Path: o.telemetryPath, Logger: o.logger,
		Ready: d.notReady, Version: version()})
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(o.logger.Handler(), slog.LevelWarn)}
	flags := &web.FlagConfig{WebListenAddresses: &[]string{o.listen}, WebSystemdSocket: &o.systemdSocket, WebConfigFile: &o.webConfig}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// exporter-toolkit serves TLS and basic authentication as the web
		// configuration file says, reading it again as it changes.
		var err error
		if ln != nil {
			err = web.Serve(ln, srv, flags, o.logger)
		} else {
			err = web.ListenAndServe(srv, flags, o.logger)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			o.logger.Error("the metrics server stopped", "err", err)
		}
	}()
	return exp, func() {
		exp.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

// metricsURL is where the metrics are served, for people to read: https
// when the web configuration file sets TLS up.
func metricsURL(addr net.Addr, path, webConfig string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String() + path
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http"
	if webConfig != "" && webConfigHasTLS(webConfig) {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + path
}

// webConfigHasTLS reports whether a web configuration file (valid: serve
// checked it) sets a certificate up.
func webConfigHasTLS(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), "tls_server_config")
}

// notReady says why the daemon is not ready ("" once it is): it has no
// queue yet, for /-/ready.
func (d *server) notReady() string {
	loaded, st, err := d.queueState()
	switch {
	case err != nil:
		return err.Error()
	case !loaded:
		if st.LastError != "" {
			return "no queue yet: " + st.LastError
		}
		return "loading the log " + st.Log
	}
	return ""
}

// openForServe opens the database for the daemon. A file damaged beyond
// opening is moved aside to FILE.damaged and replaced by a new one, which
// the first catch-up loads from the log. A file of an older schema whose
// indexes alone differ is opened read-only and returned as upgrade too:
// the daemon answers from it, read without its indexes, while it rebuilds
// it (server.rebuild). A file of any other schema version is kept as
// FILE.schema-N and replaced by a new one; queries wait for the first
// load. A file whose previous daemon did not stop before the machine
// restarted (its marker is from another boot: see unsynced.go) is
// replaced without a look, since its pages may come from different
// commits.
func openForServe(path string, acc access, logger *slog.Logger) (db *store.DB, upgrade *store.SchemaError, err error) {
	db, err = openUnsynced(path, acc)
	if errors.Is(err, store.ErrDamaged) {
		logger.Error("the database is damaged; rebuilding it from the log", "db", path, "err", err)
		db, err = replaceDamaged(path, acc, logger)
		return db, nil, err
	}
	last, found := lastUnsynced(path)
	torn := found && (last.Boot == "" || last.Boot != bootID())
	var old *store.SchemaError
	if errors.As(err, &old) {
		if old.Older && !torn {
			if db, err = store.Open(path, store.Options{ReadOnly: true, Older: true}); err == nil {
				return db, old, nil
			}
			logger.Warn("the database of an older schema cannot be read; rebuilding it from the log", "db", path, "err", err)
		}
		// Written by another qindex: kept aside, in case of a downgrade,
		// and rebuilt from the log; queries wait for the first load
		// meanwhile.
		aside := schemaPath(path, old.Found)
		logger.Warn("the database has another schema version; keeping it aside and rebuilding it from the log",
			"db", path, "schema", old.Found, "want", store.SchemaVersion, "file", aside)
		if err := os.Rename(path, aside); err != nil {
			return nil, nil, fmt.Errorf("serve: move the database of schema %s aside: %w", old.Found, err)
		}
		db, err = openUnsynced(path, acc)
		return db, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !found:
	case !torn:
		logger.Info("the previous daemon did not stop cleanly; resuming from its last commit", "db", path, "pid", last.PID)
	default:
		logger.Warn("the previous daemon did not stop before the machine restarted, and its last commits may not have reached the disk; rebuilding the database from the log",
			"db", path, "pid", last.PID)
		db.Close()
		if err := os.Remove(path); err != nil {
			return nil, nil, fmt.Errorf("serve: remove the database of an unclean stop: %w", err)
		}
		db, err = openUnsynced(path, acc)
		return db, nil, err
	}
	return db, nil, nil
}

// schemaPath is where a database at path of schema version v is kept
// when a rebuild replaces it, in case of a downgrade.
func schemaPath(path, v string) string { return fmt.Sprintf("%s.schema-%s", path, v) }

// damagedPath is where a damaged database at path is kept, for a look.
func damagedPath(path string) string { return path + ".damaged" }

// replaceDamaged moves the damaged file at path aside and creates a new
// one, which the first catch-up loads from the log.
func replaceDamaged(path string, acc access, logger *slog.Logger) (*store.DB, error) {
	aside := damagedPath(path)
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("move the damaged database aside: %w", err)
	}
	logger.Info("moved the damaged database aside", "file", aside)
	return openUnsynced(path, acc)
}

// firstLoadWait bounds how long a query waits for the daemon's first load
// of the log before it is told what the daemon is doing.
const firstLoadWait = 30 * time.Second

// waitLoaded returns once the database holds a queue. While the daemon's
// first load runs it waits, saying so on stderr (again every 5 s, with the
// time it has waited), for firstLoadWait at most; while the log cannot be
// read it says so at once.
func (d *server) waitLoaded(ctx context.Context, stderr io.Writer) error {
	start := time.Now()
	var said time.Time
	for {
		loaded, st, err := d.queueState()
		switch {
		case err != nil:
			return err
		case loaded:
			return nil
		case st.LastError != "" && st.Reloads == 0:
			return fmt.Errorf("the daemon has no queue yet: it cannot read the log %s: %s (it keeps trying)", st.Log, st.LastError)
		case time.Since(start) > firstLoadWait:
			return fmt.Errorf("the daemon is still loading the log %s (%s); try again in a moment", st.Log, logSize(st.Log))
		case said.IsZero():
			fmt.Fprintf(stderr, "qindex: the daemon is loading the log %s (%s); waiting for it, %s at most\n", st.Log, logSize(st.Log), firstLoadWait)
			said = time.Now()
		case time.Since(said) >= 5*time.Second:
			fmt.Fprintf(stderr, "qindex: still loading, %s so far\n", time.Since(start).Round(time.Second))
			said = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// queueState reports whether the database holds a queue, and how the
// follower stands.
func (d *server) queueState() (loaded bool, st ingest.Status, err error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	err = d.db.View(func(s *store.Snapshot) error { loaded = s.Loaded(); return nil })
	return loaded, d.follower.Status(), err
}

// logSize says how large the log is, for a person waiting for its load.
func logSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "its size unknown"
	}
	return fmt.Sprintf("%.1f MB", float64(fi.Size())/1e6)
}

// bootID identifies the machine's current boot ("" when unknown).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Retention defaults (documented in the README).
const (
	defaultRetention     = "30d"
	defaultRetentionSize = "2GiB"
	// pruneEvery is how often the daemon prunes the history.
	pruneEvery = 10 * time.Minute
)

// parseRetention reads --history.retention and --history.retention.size.
func parseRetention(age, size string) (store.Retention, error) {
	var r store.Retention
	if age != "0" {
		d, err := model.ParseDuration(age)
		if err != nil {
			return r, usagef("serve: --history.retention %q is not a duration (30d, 12h, 1w, or 0): %v", age, err)
		}
		r.Age = time.Duration(d)
	}
	n, err := parseSize(size)
	if err != nil {
		return r, usagef("serve: --history.retention.size %q: %v", size, err)
	}
	r.Bytes = n
	return r, nil
}

// parseSize reads a size in bytes with an optional unit: B, KB, MB, GB,
// TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("not a size (2GiB, 512MB, 0)")
	}
	return n * mult, nil
}

// pruneHistory records the retention in the database, for status, and
// prunes the history to it now and every pruneEvery, until ctx ends.
func (d *server) pruneHistory(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		d.pruneOnce()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneOnce records the retention and prunes the history to it, unless the
// file is one of an older schema (read-only) or a rebuild is about to
// replace it.
func (d *server) pruneOnce() {
	r := d.o.retention
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.rebuilding != "" || d.db.Schema() != store.SchemaVersion {
		return
	}
	err := d.db.SetRetention(r)
	n := 0
	if err == nil && (r.Age > 0 || r.Bytes > 0) {
		n, err = d.db.PruneHistory(time.Now(), r)
	}
	switch {
	case err != nil:
		d.o.logger.Error("pruning the history failed; it is tried again later", "db", d.o.db, "err", err)
		d.checkDB(d.db, err)
	case n > 0:
		d.o.logger.Info("pruned the history", "db", d.o.db, "entries", n)
	}
}
