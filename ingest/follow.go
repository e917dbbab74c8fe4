package ingest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/qindex/qindex/store"
)

// FollowOptions configure a Follower.
type FollowOptions struct {
	Options
	// Poll is the pause between the end of one catch-up and the next look
	// at the log (default 1 s).
	Poll time.Duration
	// ErrorRepeat is how often an error that persists is logged again
	// (default 5 minutes); a new or changed error is logged at once.
	ErrorRepeat time.Duration
	// MaxBackoff bounds the pause after failures (default 30 s): a
	// catch-up that fails the same way again waits twice as long as the
	// last time, and at least thrice as long as it took, so that a failing
	// load (a full disk) uses at most a quarter of the time.
	MaxBackoff time.Duration
	// OnError, if set, is called with the error of each failed catch-up
	// (the daemon rebuilds a database found damaged).
	OnError func(error)
}

// DefaultPoll is the Follower's default poll interval.
const DefaultPoll = time.Second

// Status is what a Follower knows of the log and of its own progress.
type Status struct {
	// Log is the path followed.
	Log string `json:"log"`
	// Position is where the database stands, as of the last commit.
	Position store.Position `json:"position"`
	// LogSize and LogGeneration describe the file at Log at the last look
	// (LogSize is -1 when it could not be read).
	LogSize       int64            `json:"log_size"`
	LogGeneration store.Generation `json:"log_generation"`
	// CaughtUp is when a catch-up last read the log to its end.
	CaughtUp time.Time `json:"caught_up"`
	// Records, Transactions and Corrupt count what this Follower consumed,
	// applied and skipped; Reloads counts the loads of a whole file.
	Records      int64 `json:"records"`
	Transactions int64 `json:"transactions"`
	Corrupt      int64 `json:"corrupt"`
	Reloads      int64 `json:"reloads"`
	// Errors counts the catch-ups that failed (an unreadable log, a failed
	// commit); LastError is the latest one's message, "" once one succeeds.
	Errors        int64     `json:"errors"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
	// NotALog is set while the file at Log is not a valid generation of
	// a log (ErrNotALog: empty, or headerless): the database keeps the
	// last good queue.
	NotALog bool `json:"not_a_log,omitempty"`
	// NextTry is when the Follower looks at the log again after failures
	// (zero when it is not backing off).
	NextTry time.Time `json:"next_try,omitzero"`
}

// LagBytes returns how many bytes of the log the database has not consumed:
// the rest of the file in the same generation, the whole file in a new one.
func (s Status) LagBytes() int64 {
	if s.LogSize < 0 {
		return 0
	}
	if s.LogGeneration != s.Position.Generation {
		return s.LogSize
	}
	return max(0, s.LogSize-s.Position.Offset)
}

// LagSeconds returns, when the database is behind the log, the time since
// it was last caught up; 0 when it is not behind.
func (s Status) LagSeconds(now time.Time) float64 {
	if s.LagBytes() == 0 || s.CaughtUp.IsZero() {
		return 0
	}
	return max(0, now.Sub(s.CaughtUp).Seconds())
}

// Follower keeps a database caught up with a live log: it catches up, waits
// a poll interval, and again, until its context ends. Errors are logged,
// counted and retried at the next poll; the database keeps what it has.
type Follower struct {
	db *store.DB
	o  FollowOptions

	mu     sync.Mutex
	status Status

	lastLogged     string
	lastLoggedTime time.Time
	failures       int // consecutive failed catch-ups with the same error

	nudge chan struct{} // a look at the log now, not at the next poll
}

// NewFollower returns a Follower of the log o.Log into db.
func NewFollower(db *store.DB, o FollowOptions) *Follower {
	o.Options = o.Options.withDefaults()
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.ErrorRepeat <= 0 {
		o.ErrorRepeat = 5 * time.Minute
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	f := &Follower{db: db, o: o, status: Status{Log: o.Log, LogSize: -1}, nudge: make(chan struct{}, 1)}
	if t, err := db.Target(); err == nil {
		f.status.Position = t.Position
	}
	user := o.OnCommit
	f.o.OnCommit = func(p store.Position) {
		f.mu.Lock()
		f.status.Position = p
		f.mu.Unlock()
		if user != nil {
			user(p)
		}
	}
	return f
}

// Status returns a copy of the Follower's status.
func (f *Follower) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// Run follows the log until ctx ends, then returns nil once the batch in
// progress is committed (a load in progress is abandoned, to be started
// over by the next run). After failures it backs off (FollowOptions.MaxBackoff).
func (f *Follower) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-f.nudge:
			t.Stop()
		}
		t.Reset(f.Step(ctx))
	}
}

// Nudge makes Run look at the log now rather than at its next poll, and
// ends a backoff.
func (f *Follower) Nudge() {
	select {
	case f.nudge <- struct{}{}:
	default:
	}
}

// Step catches up once, records the outcome in the status, and returns
// the pause before the next look at the log: the poll interval, or a
// longer one after failures.
func (f *Follower) Step(ctx context.Context) time.Duration {
	begin := time.Now()
	sum, err := CatchUp(ctx, f.db, f.o.Options)
	now := time.Now()
	size, gen, _ := Inspect(f.o.Log) // an error is CatchUp's too
	cancelled := ctx.Err() != nil && errors.Is(err, ctx.Err())
	failed := err != nil && !cancelled
	notALog := errors.Is(err, ErrNotALog)

	pause := f.o.Poll
	var msg string
	if failed {
		msg = err.Error()
		if msg != f.lastLogged {
			f.failures = 0
		}
		f.failures++
		pause = min(f.o.MaxBackoff, max(f.o.Poll<<min(f.failures-1, 20), 3*now.Sub(begin)))
	} else {
		f.failures = 0
	}

	f.mu.Lock()
	s := &f.status
	s.LogSize, s.LogGeneration = size, gen
	s.Records += sum.Records
	s.Transactions += sum.Transactions
	s.Corrupt += sum.Corrupt
	if sum.Reloaded && err == nil {
		s.Reloads++
	}
	s.NotALog = notALog
	s.NextTry = time.Time{}
	switch {
	case err == nil:
		s.CaughtUp = now
		s.LastError = ""
	case failed:
		s.Errors++
		s.LastError, s.LastErrorTime = msg, now
		if f.failures > 1 {
			s.NextTry = now.Add(pause)
		}
	}
	f.mu.Unlock()

	if failed && f.o.OnError != nil {
		f.o.OnError(err)
	}
	switch {
	case err == nil && f.lastLogged != "":
		f.o.Logger.Info("the log is readable again", "log", f.o.Log)
		f.lastLogged = ""
	case failed && (msg != f.lastLogged || now.Sub(f.lastLoggedTime) >= f.o.ErrorRepeat):
		if notALog {
			f.o.Logger.Warn("the log is not a valid job queue log; keeping the last good queue until it is", "log", f.o.Log, "err", err)
		} else {
			f.o.Logger.Error("catching up failed; retrying", "log", f.o.Log, "err", err, "failures", f.failures, "next_try", pause)
		}
		f.lastLogged, f.lastLoggedTime = msg, now
	}
	return pause
}
