package index

import (
	"fmt"
	"strconv"

	"github.com/PelicanPlatform/classad/classad"
	"github.com/qindex/qindex/store"
)

// JobStatus codes (FORMAT.md §7).
const (
	StatusIdle               = 1
	StatusRunning            = 2
	StatusRemoved            = 3
	StatusCompleted          = 4
	StatusHeld               = 5
	StatusTransferringOutput = 6
	StatusSuspended          = 7
)

// StatusNames are the JobStatus codes' names as qindex reports them (in
// status and in metric labels), by code (FORMAT.md §7).
var StatusNames = [...]string{1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held",
	6: "transferring_output", 7: "suspended", 8: "failed", 9: "blocked", 10: "preparing"}

// StatusName returns the name of JobStatus code n, or "other" for a code
// HTCondor does not define.
func StatusName(n int64) string {
	if n > 0 && n < int64(len(StatusNames)) {
		return StatusNames[n]
	}
	return "other"
}

// Totals counts jobs by status as condor_q's totals lines do (CONDOR_Q.md
// §5.9): transferring output counts as running, failed (8) as completed,
// and blocked, preparing and unknown states in no field, nor in Jobs.
type Totals struct {
	Jobs, Completed, Removed, Idle, Running, Held, Suspended int64
}

// Add counts n jobs of the given JobStatus; a negative n takes them away.
func (t *Totals) Add(status int64, n int64) {
	switch status {
	case StatusCompleted, 8:
		t.Completed += n
	case StatusRemoved:
		t.Removed += n
	case StatusIdle:
		t.Idle += n
	case StatusRunning, StatusTransferringOutput:
		t.Running += n
	case StatusHeld:
		t.Held += n
	case StatusSuspended:
		t.Suspended += n
	default:
		return
	}
	t.Jobs += n
}

// String formats t as the end of condor_q's totals lines.
func (t Totals) String() string {
	return fmt.Sprintf("%d jobs; %d completed, %d removed, %d idle, %d running, %d held, %d suspended",
		t.Jobs, t.Completed, t.Removed, t.Idle, t.Running, t.Held, t.Suspended)
}

// SchedulerJob reports whether job's JobUniverse is 7: a DAGMan or other
// job the schedd runs itself, which condor_q's totals leave out.
func SchedulerJob(job store.Job, env *Env) bool {
	u, ok := IntAttr(job, env, "JobUniverse")
	return ok && u == store.SchedulerUniverse
}

// IntAttr returns the integer value of attribute name of job, evaluating it
// only when it is not a plain literal. Reals are truncated.
func IntAttr(job store.Job, env *Env, name string) (int64, bool) {
	text, ok := job.Lookup(name)
	if !ok {
		return 0, false
	}
	if store.LiteralKind(text) == store.KindInt {
		v, err := strconv.ParseInt(string(text), 10, 64)
		return v, err == nil
	}
	v := evalAttr(job, env, name)
	if v.IsNumber() {
		f, _ := v.NumberValue()
		return int64(f), true
	}
	return 0, false
}

// FloatAttr is IntAttr for numbers that may be reals.
func FloatAttr(job store.Job, env *Env, name string) (float64, bool) {
	text, ok := job.Lookup(name)
	if !ok {
		return 0, false
	}
	return FloatOf(job, env, name, text)
}

// FloatOf is FloatAttr for a caller that has already looked up text, the
// value of attribute name of job.
func FloatOf(job store.Job, env *Env, name string, text []byte) (float64, bool) {
	if k := store.LiteralKind(text); k == store.KindInt || k == store.KindReal {
		v, err := strconv.ParseFloat(string(text), 64)
		return v, err == nil
	}
	v := evalAttr(job, env, name)
	f, err := v.NumberValue()
	return f, err == nil && v.IsNumber()
}

// StringAttr is IntAttr for strings.
func StringAttr(job store.Job, env *Env, name string) (string, bool) {
	text, ok := job.Lookup(name)
	if !ok {
		return "", false
	}
	if store.LiteralKind(text) == store.KindString {
		return store.StringValue(text), true
	}
	v := evalAttr(job, env, name)
	s, err := v.StringValue()
	return s, err == nil && v.IsString()
}

func evalAttr(job store.Job, env *Env, name string) classad.Value {
	x := AttrExpr(name)
	env.Bind(job, x)
	return env.Eval(x)
}
