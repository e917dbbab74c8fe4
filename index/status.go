package index

import (
	"fmt"

	"github.com/qindex/qindex/store"
)

// The JobStatus vocabulary: codes, the names qindex reports them by, and
// condor_q's totals.

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
