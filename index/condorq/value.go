package condorq

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/PelicanPlatform/classad/classad"
	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
)

// formatReal formats a real as condor_q does (CONDOR_Q.md §7.2): "%.16G",
// with ".0" added when that reads as an integer.
func formatReal(f float64) string {
	switch {
	case math.IsNaN(f):
		return `real("NaN")`
	case math.IsInf(f, 1):
		return `real("INF")`
	case math.IsInf(f, -1):
		return `real("-INF")`
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(f, 'G', 16, 64)
	if !strings.ContainsAny(s, ".Ee") {
		s += ".0"
	}
	return s
}

// quoteOld writes s as an old-syntax string literal: only '"' is escaped.
func quoteOld(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// formatValue formats an evaluated value as %v (quoted false) or %V
// (quoted true) prints it (CONDOR_Q.md §7.2).
func formatValue(v classad.Value, quoted bool) string {
	switch {
	case v.IsString():
		s, _ := v.StringValue()
		if quoted {
			return quoteOld(s)
		}
		return s
	case v.IsUndefined():
		return "undefined"
	case v.IsError():
		return "error"
	case v.IsBool():
		b, _ := v.BoolValue()
		return strconv.FormatBool(b)
	case v.IsInteger():
		i, _ := v.IntValue()
		return strconv.FormatInt(i, 10)
	case v.IsReal():
		f, _ := v.RealValue()
		return formatReal(f)
	case v.IsList():
		l, _ := v.ListValue()
		parts := make([]string, len(l))
		for i, el := range l {
			parts[i] = formatValue(el, true)
		}
		return "{ " + strings.Join(parts, ",") + " }"
	case v.IsClassAd():
		ad, _ := v.ClassAdValue()
		var parts []string
		for _, n := range ad.GetAttributes() {
			parts = append(parts, n+" = "+formatValue(ad.EvaluateAttr(n), true))
		}
		return "[ " + strings.Join(parts, "; ") + " ]"
	}
	return v.String()
}

// literalValue formats a stored literal text as %v or %V prints its value
// without parsing it, and reports false for texts that must be evaluated.
func literalValue(text []byte, quoted bool) (string, bool) {
	switch store.LiteralKind(text) {
	case store.KindInt:
		return string(text), true
	case store.KindReal:
		f, err := strconv.ParseFloat(string(text), 64)
		return formatReal(f), err == nil
	case store.KindString:
		if quoted {
			return quoteOld(store.StringValue(text)), true
		}
		return store.StringValue(text), true
	case store.KindBool:
		return strings.ToLower(string(text)), true
	case store.KindUndefined:
		return "undefined", true
	case store.KindError:
		return "error", true
	}
	return "", false
}

// evaluator evaluates one argument (an attribute or an expression) in one
// job at a time, reading literal values without the parser.
type evaluator struct {
	env  *index.Env
	expr *index.Expr
	attr string // the attribute the argument names, if it is just one
}

func newEvaluator(env *index.Env, arg string) (*evaluator, error) {
	x, err := index.ParseExpr(arg)
	if err != nil {
		return nil, err
	}
	return &evaluator{env: env, expr: x, attr: x.Attr()}, nil
}

// text returns the stored text of the attribute the argument names, if it
// names one and the job has it.
func (e *evaluator) text(job store.Job) ([]byte, bool) {
	if e.attr == "" {
		return nil, false
	}
	return job.Lookup(e.attr)
}

// eval evaluates the argument in job.
func (e *evaluator) eval(job store.Job) classad.Value {
	e.env.Bind(job, e.expr)
	return e.env.Eval(e.expr)
}

// format formats the argument's value in job as %v or %V.
func (e *evaluator) format(job store.Job, quoted bool) string {
	s, _ := e.formatCounting(job, quoted)
	return s
}

// formatCounting is format, and reports whether the value is one that
// sizes an -af:h column: an integer, a real or (without quotes) a string
// (CONDOR_Q.md §7.1).
func (e *evaluator) formatCounting(job store.Job, quoted bool) (string, bool) {
	if e.attr != "" {
		text, ok := job.Lookup(e.attr)
		if !ok {
			return "undefined", false
		}
		if s, ok := literalValue(text, quoted); ok {
			k := store.LiteralKind(text)
			return s, k == store.KindInt || k == store.KindReal || k == store.KindString && !quoted
		}
	}
	v := e.eval(job)
	return formatValue(v, quoted), v.IsNumber() || v.IsString() && !quoted
}

// number returns the argument's value in job as a number.
func (e *evaluator) number(job store.Job) (float64, bool) {
	if text, ok := e.text(job); ok {
		if f, literal, ok := store.NumberLiteral(text); literal {
			return f, ok
		}
	} else if e.attr != "" {
		return 0, false
	}
	v := e.eval(job)
	if v.IsBool() {
		b, _ := v.BoolValue()
		if b {
			return 1, true
		}
		return 0, true
	}
	f, err := v.NumberValue()
	return f, err == nil && v.IsNumber()
}

// raw returns the argument as -af:r prints it: an attribute's stored
// text, "undefined" for a missing one, or an expression's text.
func (e *evaluator) raw(job store.Job) string {
	if e.attr == "" {
		return e.expr.Text
	}
	if text, ok := job.Lookup(e.attr); ok {
		return string(text)
	}
	return "undefined"
}

// formatDate is condor_q's QDATE format: "%2d/%-2d %02d:%02d" in local
// time (CONDOR_Q.md §4.4).
func formatDate(t int64, loc *time.Location) string {
	if t < 0 {
		return "    ???    "
	}
	d := time.Unix(t, 0).In(loc)
	return pad(strconv.Itoa(int(d.Month())), 2, true) + "/" + pad(strconv.Itoa(d.Day()), 2, false) +
		" " + twoDigits(d.Hour()) + ":" + twoDigits(d.Minute())
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// formatTime is condor_q's %T: "%3lld+%02lld:%02lld:%02lld" of seconds,
// with C's division, so -1 s is "  0+00:00:-1".
func formatTime(s int64) string {
	return pad(strconv.FormatInt(s/86400, 10), 3, true) + "+" + cTwo(s%86400/3600) + ":" + cTwo(s%3600/60) + ":" + cTwo(s%60)
}

// cTwo is C's "%02lld".
func cTwo(n int64) string {
	if n < 0 {
		if n > -10 {
			return "-" + strconv.FormatInt(-n, 10)
		}
		return strconv.FormatInt(n, 10)
	}
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// pad pads s with spaces to width w, on the left if right is set.
func pad(s string, w int, right bool) string {
	if len(s) >= w {
		return s
	}
	if right {
		return strings.Repeat(" ", w-len(s)) + s
	}
	return s + strings.Repeat(" ", w-len(s))
}

// longAttrs returns the attributes -long prints for job, in order: the
// chained ad, MyType and TargetType as the schedd adds them, ServerTime
// (CONDOR_Q.md §8), and only those named by only, when it is not nil.
func longAttrs(job store.Job, now int64, only []string, noSort bool) [][2]string {
	var attrs [][2]string
	var hasMyType, hasTargetType bool
	for n, v := range job.All() {
		name := string(n)
		switch {
		case strings.EqualFold(name, "ServerTime"):
			continue
		case strings.EqualFold(name, "MyType"):
			hasMyType = true
		case strings.EqualFold(name, "TargetType"):
			hasTargetType = true
		}
		attrs = append(attrs, [2]string{name, string(v)})
	}
	if !hasMyType && job.Proc.MyType() != "" {
		attrs = append(attrs, [2]string{"MyType", quoteOld(job.Proc.MyType())})
	}
	if !hasTargetType && job.Proc.MyType() == "Job" {
		attrs = append(attrs, [2]string{"TargetType", `"Machine"`})
	}
	attrs = append(attrs, [2]string{"ServerTime", strconv.FormatInt(now, 10)})
	if only != nil {
		kept := attrs[:0]
		for _, a := range attrs {
			for _, o := range only {
				if strings.EqualFold(a[0], o) {
					kept = append(kept, a)
					break
				}
			}
		}
		attrs = kept
	}
	if noSort {
		sort.SliceStable(attrs, func(i, j int) bool { return attrs[i][0] < attrs[j][0] })
	} else {
		sort.SliceStable(attrs, func(i, j int) bool { return strings.ToLower(attrs[i][0]) < strings.ToLower(attrs[j][0]) })
	}
	return attrs
}
