package index

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/PelicanPlatform/classad/ast"
	"github.com/PelicanPlatform/classad/classad"
	"github.com/qindex/qindex/store"
)

// Printer writes selected jobs in one of condor_q's output forms.
type Printer interface {
	// Job writes one job.
	Job(store.Job) error
	// End writes what follows the last job and flushes.
	End() error
}

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

// statusLetters are condor_q's ST column, by JobStatus code.
var statusLetters = [...]string{1: "I", 2: "R", 3: "X", 4: "C", 5: "H", 6: ">", 7: "S", 8: "F", 9: "B", 10: "P"}

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

// TotalsPrinter prints only condor_q's totals line.
type TotalsPrinter struct {
	W      *bufio.Writer
	Env    *Env
	Totals Totals
}

// Job counts job.
func (p *TotalsPrinter) Job(job store.Job) error {
	st, _ := IntAttr(job, p.Env, "JobStatus")
	p.Totals.Add(st, 1)
	return nil
}

// End prints the totals line.
func (p *TotalsPrinter) End() error {
	fmt.Fprintln(p.W, p.Totals.String())
	return p.W.Flush()
}

// TablePrinter prints condor_q -nobatch's table, then a blank line and the
// totals line.
type TablePrinter struct {
	W        *bufio.Writer
	Env      *Env
	Location *time.Location // for SUBMITTED; nil means local time
	totals   Totals
	header   bool
}

const tableRow = "%4s.%-3s %-14s %-11s %12s %-2s %-3s %6s %s\n"

// Job prints one row.
func (p *TablePrinter) Job(job store.Job) error {
	if !p.header {
		fmt.Fprintf(p.W, "%-8s %-14s %-11s %12s %-2s %-3s %6s %s\n", " ID", "OWNER", "SUBMITTED", "RUN_TIME", "ST", "PRI", "SIZE", "CMD")
		p.header = true
	}
	env := p.Env
	owner, _ := StringAttr(job, env, "Owner")
	submitted := ""
	if q, ok := IntAttr(job, env, "QDate"); ok {
		loc := p.Location
		if loc == nil {
			loc = time.Local
		}
		t := time.Unix(q, 0).In(loc)
		submitted = fmt.Sprintf("%2d/%-2d %02d:%02d", t.Month(), t.Day(), t.Hour(), t.Minute())
	}
	status, _ := IntAttr(job, env, "JobStatus")
	p.totals.Add(status, 1)
	st := "?"
	if status > 0 && int(status) < len(statusLetters) && statusLetters[status] != "" {
		st = statusLetters[status]
	}
	prio, _ := IntAttr(job, env, "JobPrio")
	size, _ := FloatAttr(job, env, "ImageSize")
	fmt.Fprintf(p.W, tableRow,
		strconv.FormatInt(job.Key.Cluster, 10), strconv.FormatInt(job.Key.Proc, 10),
		owner, submitted, formatDuration(RunTime(job, env, status)), st,
		strconv.FormatInt(prio, 10), strconv.FormatFloat(size/1024, 'f', 1, 64), command(job, env))
	return nil
}

// End prints the totals.
func (p *TablePrinter) End() error {
	if p.header {
		fmt.Fprintln(p.W)
	}
	fmt.Fprintln(p.W, p.totals.String())
	return p.W.Flush()
}

// RunTime returns a job's accumulated wall-clock time in seconds, as
// condor_q's RUN_TIME: RemoteWallClockTime, plus the current run for a job
// that is running, transferring output or suspended.
func RunTime(job store.Job, env *Env, status int64) int64 {
	wall, _ := FloatAttr(job, env, "RemoteWallClockTime")
	t := int64(wall)
	if status == StatusRunning || status == StatusTransferringOutput || status == StatusSuspended {
		if start, ok := IntAttr(job, env, "ShadowBday"); ok && start > 0 && env.Now > start {
			t += env.Now - start
		}
	}
	return t
}

// formatDuration formats seconds as condor_q does: D+HH:MM:SS.
func formatDuration(s int64) string {
	if s < 0 {
		s = 0
	}
	return fmt.Sprintf("%d+%02d:%02d:%02d", s/86400, s/3600%24, s/60%60, s%60)
}

// command returns the CMD column: the basename of Cmd and the arguments.
func command(job store.Job, env *Env) string {
	cmd, _ := StringAttr(job, env, "Cmd")
	if i := strings.LastIndexAny(cmd, `/\`); i >= 0 {
		cmd = cmd[i+1:]
	}
	args, ok := StringAttr(job, env, "Args")
	if !ok {
		args, ok = StringAttr(job, env, "Arguments")
	}
	if ok && args != "" {
		return cmd + " " + args
	}
	return cmd
}

// AFPrinter prints condor_q -af: the values of expressions, strings without
// quotes, separated by one space, a line per job.
type AFPrinter struct {
	W     *bufio.Writer
	Env   *Env
	Exprs []*Expr
}

// Job prints one line.
func (p *AFPrinter) Job(job store.Job) error {
	bound := false
	for i, x := range p.Exprs {
		if i > 0 {
			p.W.WriteByte(' ')
		}
		if name := x.Attr(); name != "" {
			text, ok := job.Lookup(name)
			if !ok {
				p.W.WriteString("undefined")
				continue
			}
			if writeLiteralAF(p.W, text) {
				continue
			}
		}
		if !bound {
			p.Env.Bind(job, p.Exprs...)
			bound = true
		}
		p.W.WriteString(FormatValue(p.Env.Eval(x)))
	}
	p.W.WriteByte('\n')
	return nil
}

// End flushes.
func (p *AFPrinter) End() error { return p.W.Flush() }

// writeLiteralAF writes a literal value text as -af prints its value, and
// reports false, writing nothing, when text is not a literal.
func writeLiteralAF(w *bufio.Writer, text []byte) bool {
	switch store.LiteralKind(text) {
	case store.KindInt, store.KindReal:
		w.Write(text) // as the log wrote it
	case store.KindString:
		w.WriteString(store.StringValue(text))
	case store.KindBool:
		w.WriteString(strings.ToLower(string(text)))
	case store.KindUndefined:
		w.WriteString("undefined")
	case store.KindError:
		w.WriteString("error")
	default:
		return false
	}
	return true
}

// FormatValue formats an evaluated value as condor_q -af does: scalars
// bare, lists and records in ClassAd syntax.
func FormatValue(v classad.Value) string {
	if v.IsList() || v.IsClassAd() {
		return unparse(v)
	}
	return formatScalar(v)
}

// unparse writes a value in ClassAd syntax, strings quoted.
func unparse(v classad.Value) string {
	switch {
	case v.IsString():
		s, _ := v.StringValue()
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	case v.IsList():
		l, _ := v.ListValue()
		parts := make([]string, len(l))
		for i, el := range l {
			parts[i] = unparse(el)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case v.IsClassAd():
		ad, _ := v.ClassAdValue()
		var parts []string
		for _, n := range ad.GetAttributes() {
			parts = append(parts, n+" = "+unparse(ad.EvaluateAttr(n)))
		}
		return "[ " + strings.Join(parts, "; ") + " ]"
	}
	return formatScalar(v)
}

func formatScalar(v classad.Value) string {
	switch {
	case v.IsUndefined():
		return "undefined"
	case v.IsError():
		return "error"
	case v.IsString():
		s, _ := v.StringValue()
		return s
	case v.IsBool():
		b, _ := v.BoolValue()
		return strconv.FormatBool(b)
	case v.IsInteger():
		i, _ := v.IntValue()
		return strconv.FormatInt(i, 10)
	case v.IsReal():
		f, _ := v.RealValue()
		return formatReal(f)
	}
	return v.String()
}

// formatReal formats a real as the ClassAd unparser does: always with a
// decimal point or an exponent, so it reads back as a real.
func formatReal(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// LongPrinter prints condor_q -long: "Name = value" lines sorted by name,
// each job followed by a blank line.
type LongPrinter struct {
	W *bufio.Writer
}

// Job prints one ad.
func (p *LongPrinter) Job(job store.Job) error {
	for n, v := range job.All() {
		p.W.Write(n)
		p.W.WriteString(" = ")
		p.W.Write(v)
		p.W.WriteByte('\n')
	}
	p.W.WriteByte('\n')
	return nil
}

// End flushes.
func (p *LongPrinter) End() error { return p.W.Flush() }

// JSONPrinter prints condor_q -json: an array of objects, literal values as
// JSON values and other expressions as "\/Expr(...)\/" strings.
type JSONPrinter struct {
	W   *bufio.Writer
	Env *Env
	n   int
}

// Job prints one object.
func (p *JSONPrinter) Job(job store.Job) error {
	if p.n == 0 {
		p.W.WriteString("[\n")
	} else {
		p.W.WriteString(",\n")
	}
	p.n++
	p.W.WriteString("{")
	first := true
	for n, v := range job.All() {
		if !first {
			p.W.WriteByte(',')
		}
		first = false
		p.W.WriteString("\n  ")
		p.W.Write(appendJSONString(nil, string(n)))
		p.W.WriteString(": ")
		p.W.Write(p.appendJSONValue(nil, v))
	}
	p.W.WriteString("\n}")
	return nil
}

// End closes the array.
func (p *JSONPrinter) End() error {
	if p.n == 0 {
		p.W.WriteString("[")
	}
	p.W.WriteString("\n]\n")
	return p.W.Flush()
}

func (p *JSONPrinter) appendJSONValue(dst []byte, text []byte) []byte {
	switch store.LiteralKind(text) {
	case store.KindInt:
		if v, err := strconv.ParseInt(string(text), 10, 64); err == nil {
			return strconv.AppendInt(dst, v, 10)
		}
	case store.KindReal:
		if v, err := strconv.ParseFloat(string(text), 64); err == nil {
			return append(dst, formatReal(v)...)
		}
	case store.KindString:
		return appendJSONString(dst, store.StringValue(text))
	case store.KindBool:
		return append(dst, strings.ToLower(string(text))...)
	case store.KindUndefined:
		return append(dst, "null"...)
	}
	x := p.Env.Value(text)
	if out, ok := appendJSONLiteral(dst, x.AST); ok {
		return out
	}
	return appendJSONString(dst, "\x00Expr("+string(text)+")\x00")
}

// appendJSONLiteral converts literal ASTs (and lists and records of them)
// to JSON; ok is false for anything that must be evaluated.
func appendJSONLiteral(dst []byte, e ast.Expr) ([]byte, bool) {
	switch v := e.(type) {
	case *ast.ParenExpr:
		return appendJSONLiteral(dst, v.Inner)
	case *ast.IntegerLiteral:
		return strconv.AppendInt(dst, v.Value, 10), true
	case *ast.RealLiteral:
		return append(dst, formatReal(v.Value)...), true
	case *ast.StringLiteral:
		return appendJSONString(dst, v.Value), true
	case *ast.BooleanLiteral:
		return strconv.AppendBool(dst, v.Value), true
	case *ast.UndefinedLiteral:
		return append(dst, "null"...), true
	case *ast.UnaryOp:
		if v.Op == "-" {
			switch n := v.Expr.(type) {
			case *ast.IntegerLiteral:
				return strconv.AppendInt(dst, -n.Value, 10), true
			case *ast.RealLiteral:
				return append(dst, formatReal(-n.Value)...), true
			}
		}
	case *ast.ListLiteral:
		dst = append(dst, '[')
		for i, el := range v.Elements {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			var ok bool
			if dst, ok = appendJSONLiteral(dst, el); !ok {
				dst = appendJSONString(dst, "\x00Expr("+el.String()+")\x00")
			}
		}
		return append(dst, ']'), true
	case *ast.RecordLiteral:
		dst = append(dst, '{')
		if v.ClassAd != nil {
			for i, at := range v.ClassAd.Attributes {
				if i > 0 {
					dst = append(dst, ", "...)
				}
				dst = appendJSONString(dst, at.Name)
				dst = append(dst, ": "...)
				var ok bool
				if dst, ok = appendJSONLiteral(dst, at.Value); !ok {
					dst = appendJSONString(dst, "\x00Expr("+at.Value.String()+")\x00")
				}
			}
		}
		return append(dst, '}'), true
	}
	return dst, false
}

// appendJSONString appends s as a JSON string. A NUL byte, which no stored
// value can contain, marks where condor_q's escaped slash "\/" goes, so
// that expressions appear as "\/Expr(...)\/".
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == 0:
			dst = append(dst, `\/`...)
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
