package index

import (
	"slices"

	"github.com/PelicanPlatform/classad/ast"
	"github.com/PelicanPlatform/classad/classad"
	"github.com/qindex/qindex/store"
)

// Env evaluates expressions against one job at a time. It keeps one
// ClassAd, holding for the job last bound only the attributes the
// expressions reference, directly or through other attributes, and caches
// parsed value texts, which recur from job to job. An Env must not be
// shared between goroutines.
type Env struct {
	// Now is the value of CurrentTime when a job does not define it.
	Now int64

	ad     *classad.ClassAd
	parsed map[string]*Expr
	queue  []string // names to load, folded to lower case
	seen   []string // names looked up for the job being bound
	loaded []string // names in ad for the job last bound
	prev   []string // names in ad for the job bound before it
}

// maxParsed bounds the parse cache; it is emptied when full.
const maxParsed = 1 << 14

// maxLoaded bounds the attributes loaded for one evaluation, against
// expressions that reference each other without end.
const maxLoaded = 512

// NewEnv returns an Env whose CurrentTime is now (Unix seconds).
func NewEnv(now int64) *Env {
	return &Env{Now: now, parsed: make(map[string]*Expr)}
}

// Bind loads into the Env the attributes of job that the expressions read.
// Values that do not parse are loaded as error, as the schedd would see them.
//
// The ad is reused from job to job, which spares an ad and its map per job:
// each name loaded replaces the previous job's value in place, and the
// names the previous job had and this one lacks are deleted, so that no
// value of one job is ever seen in another.
func (e *Env) Bind(job store.Job, exprs ...*Expr) {
	if e.ad == nil {
		e.ad = classad.New()
	}
	e.queue = e.queue[:0]
	for _, x := range exprs {
		e.queue = append(e.queue, x.Refs...)
	}
	e.prev, e.loaded = e.loaded, e.prev[:0]
	e.seen = e.seen[:0]
	for i := 0; i < len(e.queue) && len(e.seen) < maxLoaded; i++ {
		name := e.queue[i] // folded, as Expr.Refs are
		if slices.Contains(e.seen, name) {
			continue
		}
		e.seen = append(e.seen, name)
		text, ok := job.Lookup(name)
		switch {
		case ok:
			v := e.Value(text)
			e.ad.Insert(name, v.AST)
			e.queue = append(e.queue, v.Refs...)
		case name == "currenttime":
			e.ad.Insert(name, &ast.IntegerLiteral{Value: e.Now})
		default:
			continue
		}
		e.loaded = append(e.loaded, name)
	}
	for _, name := range e.prev {
		if !slices.Contains(e.loaded, name) {
			e.ad.Delete(name)
		}
	}
}

// Value returns the parsed form of a stored value text, from the cache when
// it was seen before. A text that does not parse yields the error literal.
func (e *Env) Value(text []byte) *Expr {
	if x, ok := e.parsed[string(text)]; ok {
		return x
	}
	x, err := ParseExpr(string(text))
	if err != nil {
		x = &Expr{Text: string(text), AST: &ast.ErrorLiteral{}}
	}
	if len(e.parsed) >= maxParsed {
		clear(e.parsed)
	}
	e.parsed[x.Text] = x
	return x
}

// Eval evaluates x in the job last bound.
func (e *Env) Eval(x *Expr) classad.Value {
	if e.ad == nil {
		e.ad = classad.New()
	}
	return e.ad.EvaluateExpr(x.AST)
}

// Matches reports whether x evaluates to true in the job last bound. As in
// the schedd, a non-zero number counts as true; undefined, error, strings
// and everything else do not match.
func (e *Env) Matches(x *Expr) bool {
	v := e.Eval(x)
	switch {
	case v.IsBool():
		b, _ := v.BoolValue()
		return b
	case v.IsNumber():
		f, _ := v.NumberValue()
		return f != 0
	}
	return false
}
