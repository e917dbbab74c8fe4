package condorq

import (
	"strconv"
	"strings"
	"time"

	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
)

// renderer renders the cells condor_q's built-in views share (CONDOR_Q.md
// §4.4) for one job at a time.
type renderer struct {
	env   *index.Env
	now   int64
	loc   *time.Location
	time  TimeMode
	attrs map[string]*evaluator // the %v columns' attributes
}

func (r *renderer) int(job store.Job, name string) (int64, bool) {
	return index.IntAttr(job, r.env, name)
}

func (r *renderer) str(job store.Job, name string) (string, bool) {
	return index.StringAttr(job, r.env, name)
}

func (r *renderer) bool(job store.Job, name string) bool {
	text, ok := job.Lookup(name)
	if !ok {
		return false
	}
	if store.LiteralKind(text) == store.KindBool {
		return strings.EqualFold(string(text), "true")
	}
	v := r.env.Value(text)
	r.env.Bind(job, v)
	b, err := r.env.Eval(v).BoolValue()
	return err == nil && b
}

// status is the ST column: JOB_STATUS (CONDOR_Q.md §4.4).
func (r *renderer) status(job store.Job, st int64, ok bool) string {
	c := []byte("  ")
	if ok && st > 0 && st < int64(len(statusLetters)) {
		c[0] = statusLetters[st]
	}
	queued := r.bool(job, "TransferQueued")
	switch {
	case r.bool(job, "TransferringInput"):
		c[0], c[1] = '<', ' '
		if queued {
			c[1] = 'q'
		}
	case r.bool(job, "TransferringOutput") || ok && st == index.StatusTransferringOutput:
		c[0], c[1] = ' ', '>'
		if queued {
			c[0] = 'q'
		}
	}
	if t, ok := r.int(job, "JobCoolDownExpiration"); ok && t > r.now {
		c[1] = 'c'
	}
	return string(c)
}

// statusLetters are the ST column's letters, by JobStatus.
const statusLetters = " IRXCH>SFBP"

// date is the QDATE renderer of attribute name; missing if it is not a
// number.
func (r *renderer) date(job store.Job, name string) string {
	t, ok := r.int(job, name)
	if !ok {
		return missing
	}
	return formatDate(t, r.loc)
}

// runTime is the RUN_TIME (or CPU_TIME) cell (CONDOR_Q.md §5.1).
func (r *renderer) runTime(job store.Job, st int64) string {
	cpu, ok := index.FloatAttr(job, r.env, "RemoteUserCpu")
	if !ok {
		return missing
	}
	var t int64
	running := st == index.StatusRunning || st == index.StatusTransferringOutput || st == index.StatusSuspended
	switch r.time {
	case TimeCPU:
		t = int64(cpu)
	case TimeCumulative:
		wall, _ := index.FloatAttr(job, r.env, "RemoteWallClockTime")
		t = int64(wall)
		if b, ok := r.int(job, "ShadowBday"); running && ok && b != 0 {
			t += r.now - b
		}
	default:
		switch {
		case running:
			if b, ok := r.int(job, "ShadowBday"); ok && b != 0 {
				t = r.now - b
			}
		case st == index.StatusIdle || st == index.StatusHeld || st == 9:
			last, _ := index.FloatAttr(job, r.env, "LastRemoteWallClockTime")
			t = int64(last)
		}
	}
	s := formatTime(t)
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

// size is the SIZE column: MemoryUsage in MB, else ImageSize/1024.
func (r *renderer) size(job store.Job) (float64, bool) {
	if m, ok := r.int(job, "MemoryUsage"); ok {
		return float64(m), true
	}
	if k, ok := index.FloatAttr(job, r.env, "ImageSize"); ok {
		return k / 1024, true
	}
	return 0, false
}

// command is the CMD column: JOB_DESCRIPTION (CONDOR_Q.md §4.4).
func (r *renderer) command(job store.Job) string {
	for _, name := range []string{"MATCH_EXP_JobDescription", "JobDescription"} {
		if d, ok := r.str(job, name); ok && d != "" {
			return "(" + d + ")"
		}
	}
	cmd, ok := r.str(job, "Cmd")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(cmd, '/'); i >= 0 {
		cmd = cmd[i+1:]
	}
	args, ok := r.str(job, "Arguments")
	if !ok {
		args, _ = r.str(job, "Args")
	}
	if args != "" {
		return cmd + " " + args
	}
	return cmd
}

// owner is the OWNER cell.
func (r *renderer) owner(job store.Job) string {
	if o, ok := r.str(job, "Owner"); ok {
		return o
	}
	return missing
}

// value is a plain %v cell of attribute name: "undefined" when missing.
func (r *renderer) value(job store.Job, name string) string {
	e := r.attrs[name]
	if e == nil {
		e = &evaluator{env: r.env, expr: index.AttrExpr(name), attr: name}
		if r.attrs == nil {
			r.attrs = make(map[string]*evaluator)
		}
		r.attrs[name] = e
	}
	return e.format(job, false)
}

// printfInt is a "%Nd" cell of an integer attribute; missing if it is not
// a number.
func (r *renderer) printfInt(job store.Job, name string, width int) string {
	n, ok := r.int(job, name)
	if !ok {
		return missing
	}
	return pad(strconv.FormatInt(n, 10), width, true)
}

// universeNames are JOB_UNIVERSE's names (CONDOR_Q.md §4.4).
var universeNames = [...]string{1: "Standard", 2: "Pipe", 3: "Linda", 4: "PVM", 5: "Vanilla", 6: "PVMD", 7: "Scheduler",
	8: "MPI", 9: "Grid", 10: "Java", 11: "Parallel", 12: "Local", 13: "VM"}

func universeName(u int64, ok bool) string {
	if ok && u > 0 && u < int64(len(universeNames)) {
		return universeNames[u]
	}
	return "Unknown"
}

// dagParent returns the dagman cluster of a DAG node: DAGManJobId as an
// integer > 0, or a string "N" or "N.M" (CONDOR_Q.md §5.2.2).
func (r *renderer) dagParent(job store.Job) (int64, bool) {
	text, ok := job.Lookup("DAGManJobId")
	if !ok {
		return 0, false
	}
	if store.LiteralKind(text) == store.KindString {
		s, _, _ := strings.Cut(store.StringValue(text), ".")
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n > 0
	}
	n, ok := r.int(job, "DAGManJobId")
	return n, ok && n > 0
}
