package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/qindex/qindex/store"
)

// Options configure CatchUp.
type Options struct {
	// Log is the path of job_queue.log.
	Log string
	// Limits bound each group commit when tailing, and the sort runs and
	// transactions of a load; zero fields take store.DefaultLimits.
	Limits store.Limits
	// Logger receives reports of corrupt records and reloads.
	Logger *slog.Logger
	// MaxReports caps the corrupt records logged one by one (default 100);
	// the rest are counted and summarised.
	MaxReports int
	// OnCommit, if set, is called with the position of each commit, after it.
	OnCommit func(store.Position)
}

// Summary describes one CatchUp.
type Summary struct {
	Records      int64 // log records consumed
	Transactions int64 // transactions applied (a record outside one counts as one)
	Corrupt      int64 // corrupt records skipped
	Bytes        int64 // log bytes consumed
	Jobs         int64 // jobs in the queue afterwards
	Reloaded     bool  // the replay started over from the beginning of the log
	Reason       string
	Load         *store.LoadStats  // what the load held in memory, if it reloaded
	Write        *store.WriteStats // what the commits held, if it continued the state
	Position     store.Position
	Duration     time.Duration
}

// String formats s as the one-line summary of 'qindex ingest'.
func (s Summary) String() string {
	secs := s.Duration.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.Bytes) / secs / 1e6
	}
	return fmt.Sprintf("%d records, %d transactions, %d jobs, %d bytes, %.3f seconds (%.1f MB/s), %d corrupt",
		s.Records, s.Transactions, s.Jobs, s.Bytes, secs, rate, s.Corrupt)
}

// CatchUp replays into db every record of the log that is committed and not
// yet applied, then returns. It stops at the last complete record; a
// transaction still open at the end is left for a later call.
//
// When the log is still the generation the saved position came from, it
// resumes there and writes through a store.Writer in group commits; on
// cancellation it commits what it applied, at a transaction boundary, and
// returns the context's error. Otherwise (a new database, a new generation,
// a replaced or truncated file, an interrupted reload) it loads the whole
// file through a store.Loader into a new state that replaces the old one
// atomically once complete; a cancelled load leaves the old state as it was
// and the next call starts the load over.
//
// When the log is the next generation of the saved one and the schedd kept
// the old file as "<log>.<old seq>" (FORMAT.md §5), CatchUp first applies
// what is left of that file from the saved position, so readers see the old
// generation's last state until the new one is loaded.
//
// A panic in the replay (bbolt's reaction to a damaged file) is returned as
// an error (see store.Guard), with the writes in progress rolled back.
func CatchUp(ctx context.Context, db *store.DB, o Options) (sum Summary, err error) {
	err = store.Guard(func() error {
		sum, err = catchUp(ctx, db, o)
		return err
	})
	return sum, err
}

func catchUp(ctx context.Context, db *store.DB, o Options) (Summary, error) {
	begin := time.Now()
	o = o.withDefaults()
	f, size, gen, err := openLog(o.Log)
	if err != nil {
		return Summary{}, err
	}
	defer f.Close()
	target, err := db.Target()
	if err != nil {
		return Summary{}, err
	}

	var sum Summary
	pos := target.Position
	ok, why := resumable(f, size, gen, pos)
	switch {
	case target.Reloading:
		ok, why = false, "a reload was interrupted; it starts over"
	case !target.Exists:
		ok, why = false, "the database is new"
	}
	if ok && size == pos.Offset {
		sum.Position, sum.Duration = pos, time.Since(begin)
		sum.Jobs, err = jobCount(db)
		return sum, err
	}
	if !ok && target.Exists && !target.Reloading && gen.Seq > pos.Generation.Seq && gen.Created == pos.Generation.Created {
		rotated := o.Log + "." + strconv.FormatInt(pos.Generation.Seq, 10)
		if rf, rsize, rgen, err := openLog(rotated); err == nil {
			if rok, _ := resumable(rf, rsize, rgen, pos); rok && rsize > pos.Offset {
				o.Logger.Info("applying the rest of the previous generation from its rotated file", "file", rotated, "offset", pos.Offset, "size", rsize)
				err = replayFile(ctx, db, o, rf, rsize, pos, false, &sum)
			}
			rf.Close()
			if err != nil {
				return sum, err
			}
		}
	}
	if !ok {
		if target.Exists {
			o.Logger.Info("reloading the log from the start", "log", o.Log, "db", db.Path(), "reason", why)
		}
		sum.Reloaded, sum.Reason = true, why
		pos = store.Position{Generation: gen}
	}
	err = replayFile(ctx, db, o, f, size, pos, !ok, &sum)
	if err != nil && sum.Reloaded && ctx.Err() != nil {
		// A load is all or nothing: the next call starts it over.
		return Summary{Reloaded: true, Reason: sum.Reason, Duration: time.Since(begin)}, ctx.Err()
	}
	sum.Duration = time.Since(begin)
	if err != nil {
		return sum, err
	}
	sum.Jobs, err = jobCount(db)
	if err == nil {
		err = ctx.Err()
	}
	return sum, err
}

// openLog opens the log file at path and identifies its generation.
func openLog(path string) (f *os.File, size int64, gen store.Generation, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, 0, gen, fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("log %s is a directory", path)
	}
	if err == nil {
		size = fi.Size()
		gen, err = Identify(f, size)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, ErrNotALog) {
			return nil, size, gen, err
		}
		return nil, size, gen, fmt.Errorf("open log: %w", err)
	}
	return f, size, gen, nil
}

// Inspect returns the size and generation of the log file at path as it is
// now. The size of a file that is not a log (ErrNotALog) is returned with
// the error; otherwise it is -1 on error.
func Inspect(path string) (int64, store.Generation, error) {
	f, size, gen, err := openLog(path)
	if err != nil {
		if !errors.Is(err, ErrNotALog) {
			size = -1
		}
		return size, gen, err
	}
	f.Close()
	return size, gen, nil
}

func jobCount(db *store.DB) (int64, error) {
	var n int64
	err := db.View(func(s *store.Snapshot) error { n = s.JobCount(); return nil })
	return n, err
}

// replayFile replays f from pos into db: through a store.Loader into a new
// state when load is set, else through a store.Writer that continues the
// active state. It adds what it did to sum.
func replayFile(ctx context.Context, db *store.DB, o Options, f *os.File, size int64, pos store.Position, load bool, sum *Summary) error {
	pos.Log = o.Log
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", f.Name(), err)
	}
	r := &replayer{o: o, f: f, pos: pos, sum: sum}
	if load {
		l, err := db.NewLoader(o.Limits)
		if err != nil {
			return err
		}
		defer l.Close()
		r.out = l
	} else {
		w := db.NewWriter(o.Limits)
		defer w.Rollback()
		r.out = w
	}
	lr := NewLineReader(f, pos.Offset, pos.Line)
	startOffset := pos.Offset
	for ctx.Err() == nil {
		line, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s at offset %d: %w", f.Name(), lr.Offset(), err)
		}
		if err := r.consume(line, lr.Line(), lr.Offset()); err != nil {
			return err
		}
		if !r.inTx && r.out.Due() {
			if err := r.commit(ctx); err != nil {
				return err
			}
		}
	}
	if load && ctx.Err() != nil {
		return ctx.Err() // a load is whole or nothing
	}
	if load {
		// A load replaces the queue: one that read a file cut short under
		// it (truncated in place while it read) would replace it with what
		// was left. Its size, now, is at least what it was when opened,
		// unless it shrank.
		if fi, err := f.Stat(); err != nil || fi.Size() < size {
			now := int64(-1)
			if err == nil {
				now = fi.Size()
			}
			return fmt.Errorf("log %s: it shrank from %d to %d bytes while it was loaded; the queue is kept, and the log looked at again", f.Name(), size, now)
		}
	}
	if r.dirty || load {
		if err := r.commit(ctx); err != nil {
			return err
		}
	}
	switch out := r.out.(type) {
	case *store.Loader:
		stats := out.Stats()
		sum.Load = &stats
	case *store.Writer:
		stats := out.Stats()
		sum.Write = &stats
	}
	r.flushReports()
	sum.Bytes += r.pos.Offset - startOffset
	sum.Position = r.pos
	return nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxReports <= 0 {
		o.MaxReports = 100
	}
	return o
}

// replayer turns lines into transactions and transactions into writes, with
// the schedd's semantics (FORMAT.md §4).
type replayer struct {
	o   Options
	f   *os.File
	out sink // a store.Writer continuing a state, or a store.Loader building one
	sum *Summary

	pos     store.Position // just past the last record consumed
	dirty   bool           // pos moved since the last commit
	applied bool           // a transaction was applied since the last commit
	check   store.Checker

	inTx      bool
	txOps     []txOp
	txText    []byte // names and values of txOps
	txLines   int64
	txCorrupt []lineError

	reported, unreported int64
}

// sink receives the operations of applied transactions and decides when
// they are due to commit: a store.Writer or a store.Loader.
type sink interface {
	NewAd(k store.Key, myType string) error
	DestroyAd(k store.Key) error
	SetAttr(k store.Key, name, value []byte) error
	DeleteAttr(k store.Key, name []byte) error
	// Due reports whether a commit is due at the next transaction boundary.
	Due() bool
	// Commit commits what was applied, with the position it reaches.
	Commit(ctx context.Context, pos store.Position) error
}

// txOp is a buffered record of an open transaction; its name and value are
// ranges of replayer.txText, which outlives the line.
type txOp struct {
	op                 Op
	key                store.Key
	name0, name1, val1 int
}

type lineError struct {
	line int64
	err  error
}

// consume handles one complete line ending at offset.
func (r *replayer) consume(line []byte, lineNo, offset int64) error {
	rec, err := ParseRecord(line)
	if err == nil {
		switch {
		case rec.Op == OpSetAttr && !r.check.Valid(rec.Value):
			err = unparsable(rec)
		case rec.Op == OpHeader && lineNo != 1:
			err = corrupt("107 header after the first line")
		}
	}
	if err != nil {
		if r.inTx {
			r.txCorrupt = append(r.txCorrupt, lineError{lineNo, err})
			r.txLines++
			return nil
		}
		r.corrupt(lineError{lineNo, err})
		r.consumed(1, lineNo, offset)
		return nil
	}
	switch rec.Op {
	case OpBeginTx:
		if r.inTx { // nested: ignored
			r.txLines++
			return nil
		}
		r.inTx, r.txLines = true, 1
		return nil
	case OpEndTx:
		if !r.inTx { // unmatched: ignored
			r.consumed(1, lineNo, offset)
			return nil
		}
		if err := r.applyTx(); err != nil {
			return err
		}
		r.sum.Transactions++
		r.pos.Transactions++
		r.applied = true
		r.consumed(r.txLines+1, lineNo, offset)
		r.inTx = false
		return nil
	case OpHeader:
		r.consumed(1, lineNo, offset)
		return nil
	}
	if r.inTx {
		r.buffer(rec)
		r.txLines++
		return nil
	}
	if err := r.apply(rec.Op, rec.Key, rec.Name, rec.Value); err != nil {
		return err
	}
	r.sum.Transactions++
	r.pos.Transactions++
	r.applied = true
	r.consumed(1, lineNo, offset)
	return nil
}

// unparsable is the error of a 103 whose value does not parse. It quotes
// the start of the value, to help find it, unless the attribute is a
// secret (FORMAT.md §6), whose value is never shown anywhere.
func unparsable(rec Record) error {
	if store.IsSecret(rec.Name) {
		return corrupt("103 %s %s: unparsable value (not shown: a secret)", rec.Key, shownName(rec.Name))
	}
	return corrupt("103 %s %s: unparsable value %.60q", rec.Key, shownName(rec.Name), rec.Value)
}

func (r *replayer) consumed(records, lineNo, offset int64) {
	r.sum.Records += records
	r.pos.Records += records
	r.pos.Offset, r.pos.Line = offset, lineNo
	r.dirty = true
}

func (r *replayer) buffer(rec Record) {
	n0 := len(r.txText)
	r.txText = append(r.txText, rec.Name...)
	n1 := len(r.txText)
	r.txText = append(r.txText, rec.Value...)
	r.txOps = append(r.txOps, txOp{op: rec.Op, key: rec.Key, name0: n0, name1: n1, val1: len(r.txText)})
}

func (r *replayer) applyTx() error {
	for _, op := range r.txOps {
		if err := r.apply(op.op, op.key, r.txText[op.name0:op.name1], r.txText[op.name1:op.val1]); err != nil {
			return err
		}
	}
	for _, c := range r.txCorrupt {
		r.corrupt(c)
	}
	r.txOps, r.txText, r.txCorrupt = r.txOps[:0], r.txText[:0], r.txCorrupt[:0]
	if cap(r.txText) > 64<<20 { // do not keep a huge submit's buffer
		r.txOps, r.txText = nil, nil
	}
	return nil
}

func (r *replayer) apply(op Op, key store.Key, name, value []byte) error {
	var err error
	switch op {
	case OpNewAd:
		err = r.out.NewAd(key, string(name))
	case OpDestroyAd:
		err = r.out.DestroyAd(key)
	case OpSetAttr:
		err = r.out.SetAttr(key, name, value)
	case OpDeleteAttr:
		err = r.out.DeleteAttr(key, name)
	}
	return err
}

func (r *replayer) corrupt(c lineError) {
	r.sum.Corrupt++
	r.pos.Corrupt++
	if r.reported < int64(r.o.MaxReports) {
		r.reported++
		r.o.Logger.Warn("skipping corrupt record", "file", r.o.Log, "line", c.line, "err", c.err)
		return
	}
	r.unreported++
}

func (r *replayer) flushReports() {
	if r.unreported > 0 {
		r.o.Logger.Warn("more corrupt records skipped without a report", "file", r.o.Log, "count", r.unreported)
		r.unreported = 0
	}
}

// commit writes the pending group, or finishes the load, with the position
// it reaches.
func (r *replayer) commit(ctx context.Context) error {
	tail, err := readTail(r.f, r.pos.Offset)
	if err != nil {
		return err
	}
	r.pos.Tail = tail
	if r.applied {
		r.pos.Applied = time.Now().UTC()
	}
	if err := r.out.Commit(ctx, r.pos); err != nil {
		return err
	}
	r.dirty, r.applied = false, false
	if r.o.OnCommit != nil {
		r.o.OnCommit(r.pos)
	}
	return nil
}
