package index

import (
	"github.com/PelicanPlatform/classad/classad"
	"github.com/qindex/qindex/store"
)

// Typed access to a job's attributes: a literal read from its text, any
// other value evaluated.

// IntAttr returns the integer value of attribute name of job, evaluating it
// only when it is not a plain literal. Reals are truncated.
func IntAttr(job store.Job, env *Env, name string) (int64, bool) {
	text, ok := job.Lookup(name)
	if !ok {
		return 0, false
	}
	if n, ok := store.IntLiteral(text); ok {
		return n, true
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
	if f, literal, ok := store.NumberLiteral(text); literal {
		return f, ok
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
