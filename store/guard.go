package store

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// ErrDamaged is returned, wrapped, when a database file's structure or
// content is damaged: it must be rebuilt from the log, not trusted.
var ErrDamaged = errors.New("database file is damaged")

// Guard runs fn and turns a panic in it into an error, so that no input,
// whatever its damage, takes the process down. A memory fault (a page
// reference past the end of the file) or a panic raised inside bbolt (its
// assertions about pages) means the file is damaged: the error wraps
// ErrDamaged. Any other panic is a bug in qindex: the error says so and
// carries the panic's stack, and does not wrap ErrDamaged.
//
// Every read and write of a database goes through Guard: DB.View and the
// writes of DB's own methods do so themselves, and callers that hold a
// Writer or Loader run it inside Guard.
func Guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r)
		}
	}()
	return fn()
}

// panicError classifies the panic r, called from the deferred function
// that recovered it (the panicking frames are still on the stack).
func panicError(r any) error {
	if _, fault := r.(interface{ Addr() uintptr }); fault {
		return fmt.Errorf("%w: %v", ErrDamaged, r)
	}
	if e, ok := r.(error); ok && errors.Is(e, ErrDamaged) {
		return e
	}
	if raisedIn("go.etcd.io/bbolt") {
		return fmt.Errorf("%w: %v", ErrDamaged, r)
	}
	return fmt.Errorf("internal error (a bug in qindex, please report it): %v\n%s", r, debug.Stack())
}

// raisedIn reports whether the panic in progress was raised in a package
// whose path starts with pkg: whether the first frame below the runtime's
// panic machinery that is not the runtime's own (a bounds check, say) is.
func raisedIn(pkg string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic" || f.Function == "runtime.sigpanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, pkg)
		}
		if !more {
			return false
		}
	}
}

// view runs fn in a guarded read-only transaction.
func (db *DB) view(fn func(*bolt.Tx) error) error {
	return db.damage(Guard(func() error { return db.bolt.View(fn) }))
}

// update runs fn in a guarded read-write transaction.
func (db *DB) update(fn func(*bolt.Tx) error) error {
	return db.damage(Guard(func() error { return db.bolt.Update(fn) }))
}

// damage names the file in an error that says it is damaged, unless the
// error does already.
func (db *DB) damage(err error) error {
	if err != nil && errors.Is(err, ErrDamaged) && !strings.Contains(err.Error(), db.path) {
		return fmt.Errorf("db %s: %w", db.path, err)
	}
	return err
}
