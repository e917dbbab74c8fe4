package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/store"
	"github.com/urfave/cli/v2"
)

func statusCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show how far the database has got in the log",
		Description: `Prints the log the database follows, its generation, the offset applied and
the log's size, the lag in bytes and seconds, the jobs by status, when the last
transaction was applied, the error counts, and the daemon's pid and uptime when
'qindex serve' runs on the database (it then answers for it).

Example:
   qindex status --db queue.db --json`,
		Flags: []cli.Flag{dbFlag(), &cli.BoolFlag{Name: "json", Usage: "print the status as a JSON object"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("status: unexpected argument %q", c.Args().First())
			}
			dbPath, err := required(c, dbFlag())
			if err != nil {
				return err
			}
			var st statusReport
			var fromDaemon bytes.Buffer
			err = withDB(c.Context, dbPath, request{Command: "status"}, env{stdout: &fromDaemon, stderr: e.stderr}, func(db *store.DB) error {
				st, err = buildStatus(db, nil, e.now())
				return err
			})
			if err != nil {
				return err
			}
			if fromDaemon.Len() > 0 {
				if err := json.Unmarshal(fromDaemon.Bytes(), &st); err != nil {
					return fmt.Errorf("status from the daemon: %w", err)
				}
			}
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			st.write(e.stdout)
			return nil
		},
	}
}

// statusReport is what qindex status prints.
type statusReport struct {
	DB  string `json:"db"`
	Log string `json:"log"`
	// Generation is the log file the database stands in.
	Generation store.Generation `json:"generation"`
	// LogGeneration is the file at the log path now (absent if unreadable).
	LogGeneration *store.Generation `json:"log_generation,omitempty"`
	Offset        int64             `json:"applied_offset"`
	LogSize       int64             `json:"log_size"` // -1 when unreadable
	LogError      string            `json:"log_error,omitempty"`
	// LogInvalid is set when the file at the log path is not a valid log
	// (empty, or headerless): the database keeps its last good queue.
	LogInvalid   bool             `json:"log_invalid,omitempty"`
	LagBytes     int64            `json:"lag_bytes"`
	LagSeconds   float64          `json:"lag_seconds"`
	Jobs         int64            `json:"jobs"`
	JobsByStatus map[string]int64 `json:"jobs_by_status"`
	LastApplied  time.Time        `json:"last_applied,omitzero"`
	// Records, Transactions and Corrupt count since the state was loaded.
	Records      int64 `json:"records"`
	Transactions int64 `json:"transactions"`
	Corrupt      int64 `json:"corrupt_records"`
	// History describes the jobs that left the queue.
	History historyReport `json:"history"`
	// Daemon is set when 'qindex serve' answered.
	Daemon *daemonReport `json:"daemon,omitempty"`
}

// historyReport is the history's part of the status.
type historyReport struct {
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
	// Oldest and Newest are when the oldest and the newest entry left.
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
	// RetentionSeconds and RetentionBytes are serve's bounds, as it last
	// set them (0: none); absent if no daemon ever set them.
	RetentionSeconds *float64 `json:"retention_seconds,omitempty"`
	RetentionBytes   *int64   `json:"retention_bytes,omitempty"`
}

// daemonReport is the running daemon's part of the status.
type daemonReport struct {
	PID           int       `json:"pid"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	CaughtUp      time.Time `json:"caught_up,omitzero"` // when it last read the log to its end
	Reloads       int64     `json:"reloads"`
	Errors        int64     `json:"errors"`
	LastError     string    `json:"last_error,omitempty"`
	NextTry       time.Time `json:"next_try,omitzero"` // when it looks at the log again, while backing off after failures
	// Rebuilding says why the daemon is rebuilding the database from the
	// log (it was found damaged, or has an older schema), while it does;
	// it answers from the old file meanwhile.
	Rebuilding string `json:"rebuilding,omitempty"`
	Metrics    string `json:"metrics,omitempty"` // the URL of its Prometheus metrics
}

// daemonInfo is what the daemon adds to buildStatus.
type daemonInfo struct {
	follower   *ingest.Follower
	started    time.Time
	metrics    string // the metrics URL, "" when none are served
	rebuilding string // why the database is being rebuilt, "" when it is not
}

// buildStatus reports on db. With d (in the daemon) the log's figures are
// the follower's; without, the log is looked at now, and the lag in
// seconds is the time since the last transaction was applied.
func buildStatus(db *store.DB, d *daemonInfo, now time.Time) (statusReport, error) {
	st := statusReport{DB: db.Path(), JobsByStatus: map[string]int64{}}
	for _, n := range index.StatusNames[1:] {
		st.JobsByStatus[n] = 0
	}
	var pos store.Position
	err := db.View(func(s *store.Snapshot) error {
		var err error
		if pos, err = s.Position(); err != nil {
			return err
		}
		st.Jobs = s.JobCount()
		h, err := s.HistoryStats()
		if err != nil {
			return err
		}
		st.History = historyReport{Entries: h.Entries, Bytes: h.Bytes}
		if h.Entries > 0 {
			st.History.Oldest, st.History.Newest = time.Unix(h.Oldest, 0).UTC(), time.Unix(h.Newest, 0).UTC()
		}
		if r := h.Retention; r != nil {
			secs := r.Age.Seconds()
			st.History.RetentionSeconds, st.History.RetentionBytes = &secs, &r.Bytes
		}
		for c := range statusCounts(s) {
			name := "other"
			if c.Status.Class == store.ClassLiteral {
				name = index.StatusName(c.Status.N)
			}
			st.JobsByStatus[name] += c.Jobs
		}
		return s.Err()
	})
	if err != nil {
		return st, fmt.Errorf("status of %s: %w", db.Path(), err)
	}
	st.Log, st.Generation, st.Offset = pos.Log, pos.Generation, pos.Offset
	st.LastApplied = pos.Applied
	st.Records, st.Transactions, st.Corrupt = pos.Records, pos.Transactions, pos.Corrupt

	var fs ingest.Status
	if d != nil {
		fs = d.follower.Status()
		fs.Position = pos // the db's, consistent with the counts above
		st.Log = fs.Log
		st.Daemon = &daemonReport{PID: os.Getpid(), Started: d.started, UptimeSeconds: now.Sub(d.started).Seconds(),
			CaughtUp: fs.CaughtUp, Reloads: fs.Reloads, Errors: fs.Errors, LastError: fs.LastError, NextTry: fs.NextTry, Rebuilding: d.rebuilding, Metrics: d.metrics}
	} else {
		fs = ingest.Status{Log: pos.Log, Position: pos, LogSize: -1, CaughtUp: pos.Applied}
	}
	if fs.Log != "" { // the file as it is now, for a lag that is current
		fs.LogSize, fs.LogGeneration, err = ingest.Inspect(fs.Log)
		if err != nil {
			st.LogError, st.LogInvalid = err.Error(), errors.Is(err, ingest.ErrNotALog)
		}
	}
	st.LogSize = fs.LogSize
	if fs.LogSize >= 0 {
		g := fs.LogGeneration
		st.LogGeneration = &g
	}
	st.LagBytes, st.LagSeconds = fs.LagBytes(), fs.LagSeconds(now)
	return st, nil
}

// statusCounts yields the job counts per JobStatus: the indexes' counts
// or, in a file of an older schema read without its indexes (while the
// daemon rebuilds it), a count of its jobs.
func statusCounts(s *store.Snapshot) iter.Seq[store.StatusCount] {
	if s.Indexed() {
		return s.StatusCounts()
	}
	return func(yield func(store.StatusCount) bool) {
		counts := make(map[store.IndexedStatus]int64)
		for j := range s.Jobs(store.AllJobs[0], store.AllJobs[1]) {
			counts[store.StatusValue(j.Lookup("JobStatus"))]++
		}
		for st, n := range counts {
			if !yield(store.StatusCount{Status: st, Jobs: n}) {
				return
			}
		}
	}
}

// write prints st for people.
func (st statusReport) write(w io.Writer) {
	p := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%-16s "+format+"\n", append([]any{name + ":"}, args...)...)
	}
	p("db", "%s", st.DB)
	p("log", "%s", st.Log)
	p("generation", "seq %d, created %s, inode %d", st.Generation.Seq, unixTime(st.Generation.Created), st.Generation.Inode)
	switch {
	case st.LogInvalid:
		p("log file", "not a valid log, the database keeps its last good queue: %s", st.LogError)
	case st.LogError != "":
		p("log file", "unreadable: %s", st.LogError)
	case st.LogGeneration != nil && *st.LogGeneration != st.Generation:
		g := st.LogGeneration
		p("log file", "%d bytes, a new generation: seq %d, created %s, inode %d", st.LogSize, g.Seq, unixTime(g.Created), g.Inode)
	default:
		p("log file", "%d bytes", st.LogSize)
	}
	p("applied", "offset %d, %d records, %d transactions", st.Offset, st.Records, st.Transactions)
	p("lag", "%d bytes, %.1f seconds", st.LagBytes, st.LagSeconds)
	p("last applied", "%s", timeOrNever(st.LastApplied))
	var parts []string
	for _, n := range index.StatusNames[1:] {
		parts = append(parts, fmt.Sprintf("%d %s", st.JobsByStatus[n], n))
	}
	if n := st.JobsByStatus["other"]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d other", n))
	}
	p("jobs", "%d: %s", st.Jobs, strings.Join(parts, ", "))
	p("corrupt records", "%d", st.Corrupt)
	h := st.History
	history := fmt.Sprintf("%d jobs that left the queue, %d bytes", h.Entries, h.Bytes)
	if h.Entries > 0 {
		history += fmt.Sprintf(", from %s to %s", h.Oldest.Format(time.RFC3339), h.Newest.Format(time.RFC3339))
	}
	p("history", "%s", history)
	if h.RetentionSeconds != nil {
		keep := []string{}
		if *h.RetentionSeconds > 0 {
			keep = append(keep, model.Duration(time.Duration(*h.RetentionSeconds*float64(time.Second))).String())
		}
		if *h.RetentionBytes > 0 {
			keep = append(keep, fmt.Sprintf("%d bytes", *h.RetentionBytes))
		}
		if len(keep) == 0 {
			keep = append(keep, "everything")
		}
		p("retention", "%s", strings.Join(keep, " and at most "))
	}
	if d := st.Daemon; d != nil {
		p("daemon", "pid %d, up %s (since %s), %d reloads, %d errors", d.PID,
			time.Duration(d.UptimeSeconds*float64(time.Second)).Round(time.Second), d.Started.Format(time.RFC3339), d.Reloads, d.Errors)
		if d.LastError != "" {
			p("last error", "%s", d.LastError)
		}
		if d.Rebuilding != "" {
			p("rebuilding", "%s", d.Rebuilding)
		}
		if !d.NextTry.IsZero() {
			p("next try", "%s (backing off after repeated failures)", d.NextTry.UTC().Format(time.RFC3339))
		}
		if d.Metrics != "" {
			p("metrics", "%s", d.Metrics)
		}
	} else {
		p("daemon", "not running")
	}
}

func unixTime(sec int64) string {
	if sec == 0 {
		return "unknown"
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

func timeOrNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// statusHandler is the daemon's answer to a status request.
func (d *daemonInfo) status(ctx context.Context, db *store.DB, stdout io.Writer) error {
	st, err := buildStatus(db, d, time.Now())
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(st)
}
