package ingest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// TestFollowerBacksOff: a catch-up that fails the same way again waits
// twice as long each time, up to MaxBackoff; a new error starts over; a
// success goes back to the poll interval. A log that is not a log keeps
// the queue and is flagged.
func TestFollowerBacksOff(t *testing.T) {
	e := newEnv(t, header+"101 1.0 Job Machine\n103 1.0 JobStatus 1\n")
	const poll = 10 * time.Millisecond
	f := NewFollower(e.db, FollowOptions{Options: Options{Log: e.log}, Poll: poll, MaxBackoff: 80 * time.Millisecond})
	ctx := context.Background()
	step := func() time.Duration { t.Helper(); return f.Step(ctx) }
	if p := step(); p != poll {
		t.Fatalf("after a success: pause %v", p)
	}
	want := e.state()

	e.write("")
	for i, w := range []time.Duration{poll, 2 * poll, 4 * poll, 8 * poll, 8 * poll} {
		if p := step(); p != w {
			t.Errorf("failure %d: pause %v, want %v", i+1, p, w)
		}
	}
	st := f.Status()
	if !st.NotALog || st.Errors != 5 || st.NextTry.IsZero() {
		t.Errorf("status %+v", st)
	}
	if got := e.state(); got != want {
		t.Errorf("an empty log changed the queue to\n%s", got)
	}

	e.write("not a log\n") // another reason: backing off starts over
	if p := step(); p != poll {
		t.Errorf("a new error: pause %v", p)
	}
	os.Remove(e.log)
	os.Mkdir(e.log, 0o700)
	step()
	if st := f.Status(); st.NotALog || st.LastError == "" {
		t.Errorf("a directory: status %+v", st)
	}
	os.Remove(e.log)

	e.write(header + "101 1.0 Job Machine\n103 1.0 JobStatus 2\n")
	if p := step(); p != poll {
		t.Errorf("after recovering: pause %v", p)
	}
	if st := f.Status(); st.NotALog || st.LastError != "" || !st.NextTry.IsZero() {
		t.Errorf("after recovering: status %+v", st)
	}
	_, err := CatchUp(ctx, e.db, Options{Log: e.log + ".missing"})
	if err == nil || errors.Is(err, ErrNotALog) {
		t.Errorf("a missing log: %v", err)
	}
}
