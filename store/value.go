package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/PelicanPlatform/classad/ast"
	"github.com/PelicanPlatform/classad/parser"
)

// ValueKind classifies a value text without parsing it.
type ValueKind uint8

// The kinds of value text LiteralKind recognises. KindExpr is everything
// else: an expression, a list, a record, or text that is not valid at all.
const (
	KindExpr ValueKind = iota
	KindInt
	KindReal
	KindString // a string literal with no escaped quote
	KindBool
	KindUndefined
	KindError
)

// LiteralKind classifies the commonest value texts by their characters
// alone, so that most values are never handed to the ClassAd parser.
func LiteralKind[T ~string | ~[]byte](text T) ValueKind {
	n := len(text)
	if n == 0 {
		return KindExpr
	}
	switch c := text[0]; {
	case c == '"':
		if n < 2 || text[n-1] != '"' {
			return KindExpr
		}
		for i := 1; i < n-1; i++ {
			if text[i] == '"' || text[i] == '\\' && text[i+1] == '"' {
				return KindExpr
			}
		}
		return KindString
	case c == '-' || c >= '0' && c <= '9':
		return numberKind(text)
	case n == 4 && EqualFold(text, "true"), n == 5 && EqualFold(text, "false"):
		return KindBool
	case n == 9 && EqualFold(text, "undefined"):
		return KindUndefined
	case n == 5 && EqualFold(text, "error"):
		return KindError
	}
	return KindExpr
}

// IntLiteral returns the value of text if it is an integer literal
// (-?digits, as LiteralKind's KindInt) that fits in 64 bits. It reads the
// digits itself: the collection and queries meet an integer in most of the
// attributes they read, and strconv costs a copy and a general parse each.
func IntLiteral[T ~string | ~[]byte](text T) (int64, bool) {
	digits := text
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	if len(digits) > 18 { // may not fit: let strconv decide
		if LiteralKind(text) != KindInt {
			return 0, false
		}
		n, err := strconv.ParseInt(string(text), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(text) {
		n = -n
	}
	return n, true
}

// NumberLiteral reads text as an integer or real literal (LiteralKind's
// KindInt or KindReal): literal says whether it is one, and ok whether its
// value f fits a float64 (beyond, f is ±Inf, as strconv.ParseFloat gives).
// A caller evaluates what is not a literal. Integers are read by
// IntLiteral, without strconv.
func NumberLiteral[T ~string | ~[]byte](text T) (f float64, literal, ok bool) {
	if n, ok := IntLiteral(text); ok && (n != 0 || text[0] != '-') { // "-0" is -0.0
		return float64(n), true, true
	}
	if k := LiteralKind(text); k != KindInt && k != KindReal {
		return 0, false, false
	}
	f, err := strconv.ParseFloat(string(text), 64)
	return f, true, err == nil
}

// numberKind recognises -?digits[.digits][(e|E)[+-]digits].
func numberKind[T ~string | ~[]byte](s T) ValueKind {
	i := 0
	if s[0] == '-' {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return KindExpr
	}
	kind := KindInt
	if i < len(s) && s[i] == '.' {
		kind = KindReal
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return KindExpr // "5." is left to the parser
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		kind = KindReal
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return KindExpr
		}
	}
	if i != len(s) {
		return KindExpr
	}
	return kind
}

// StringValue returns the string a KindString text denotes: the text
// between the quotes. Old-syntax strings have no escapes but \", which
// KindString excludes, so no unescaping is needed.
func StringValue[T ~string | ~[]byte](text T) string {
	return string(text[1 : len(text)-1])
}

// ToNewSyntax rewrites an old-syntax expression (FORMAT.md §2) into the new
// syntax the ClassAd library parses: inside string literals, every
// backslash that does not escape a double quote is doubled. As in the
// schedd's lexer (tokenizeStringOld), a \" that ends the text closes the
// string, the backslash being its last character: "C:\condor\" is the
// string C:\condor\, not an unterminated one.
func ToNewSyntax(text string) string {
	if !strings.Contains(text, `\`) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) + 8)
	inString := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			if i+1 < len(text) && text[i+1] == '"' && i+2 < len(text) {
				b.WriteString(`\"`)
				i++
				continue
			}
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// MaxExprDepth bounds how deeply an expression may nest: parentheses,
// operators, conditionals, lists and records all count a level. The
// ClassAd library gives up evaluating at twice this depth; an expression
// nested deeper, whether a value in the log or a constraint from a client,
// is refused by ParseExpr before anything walks it, so that no walk of an
// expression (evaluation, planning, listing its references) can exhaust
// the stack, and parsing costs memory in proportion to the text only.
const MaxExprDepth = 1000

// ParseExpr parses an old-syntax ClassAd expression, as the log and
// condor_q's -constraint write them. It is the one way qindex parses one.
// An expression nested deeper than MaxExprDepth is an error.
func ParseExpr(text string) (ast.Expr, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	src := ToNewSyntax(text)
	// Bounded before parsing, so that the parser's stack and tree stay in
	// proportion to a sane depth; then measured exactly on the tree.
	if nestingBound(src) > MaxExprDepth {
		return nil, fmt.Errorf("cannot parse %.80q: nested deeper than %d levels", text, MaxExprDepth)
	}
	e, err := parser.ParseExpr(src)
	if err != nil {
		return nil, fmt.Errorf("cannot parse %.80q as a ClassAd expression", text)
	}
	if Depth(e) > MaxExprDepth {
		return nil, fmt.Errorf("cannot parse %.80q: nested deeper than %d levels", text, MaxExprDepth)
	}
	return e, nil
}

// nestingBound returns, for a new-syntax expression text, an upper bound
// of the depth of its tree that it computes without parsing, so that a
// hostile text is refused before the parser spends memory on it: the open
// brackets, plus the operators and subscripts seen at each open level
// since its last ',' or ';' (each may nest what precedes it one level
// deeper), plus the prefix operators in a row. It reads the text once and
// allocates only for brackets nested beyond a few.
func nestingBound(src string) int {
	var levels [16]int
	pending := levels[:1] // operators seen at each open bracket level
	worst, total, run := 0, 0, 0
	afterOperand := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '"' || c == '\'':
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' {
					i++
				}
			}
			afterOperand, run = true, 0
			continue
		case c == ' ' || c == '\t':
			continue
		case c == '(' || c == '[' || c == '{':
			if c == '[' && afterOperand { // a subscript nests its container
				pending[len(pending)-1]++
				total++
			}
			pending = append(pending, 0)
			afterOperand, run = false, 0
		case c == ')' || c == ']' || c == '}':
			if len(pending) > 1 {
				total -= pending[len(pending)-1]
				pending = pending[:len(pending)-1]
			}
			afterOperand, run = true, 0
		case c == ',' || c == ';':
			total -= pending[len(pending)-1]
			pending[len(pending)-1] = 0
			afterOperand, run = false, 0
		case (c == '-' || c == '+' || c == '!' || c == '~') && !afterOperand:
			run++
		case strings.IndexByte("-+*/%<>=!&|^?:~.", c) >= 0:
			if afterOperand { // the first character of an operator
				pending[len(pending)-1]++
				total++
			}
			afterOperand, run = false, 0
		default:
			afterOperand, run = true, 0
		}
		worst = max(worst, len(pending)-1+total+run)
	}
	return worst
}

// Depth returns how deeply e nests: 1 for a literal or a reference.
func Depth(e ast.Expr) int {
	deepest := 0
	Walk(e, func(_ ast.Expr, depth int) bool {
		deepest = max(deepest, depth)
		return true
	})
	return deepest
}

// Walk calls fn for each node of e, parents before children, with its
// depth (1 for e), and skips the children of a node for which fn returns
// false. It keeps its own stack: a tree of any depth is walked without
// recursion.
func Walk(e ast.Expr, fn func(n ast.Expr, depth int) bool) {
	type item struct {
		n     ast.Expr
		depth int
	}
	stack := []item{{e, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.n == nil || !fn(it.n, it.depth) {
			continue
		}
		push := func(children ...ast.Expr) {
			for i := len(children) - 1; i >= 0; i-- {
				stack = append(stack, item{children[i], it.depth + 1})
			}
		}
		switch v := it.n.(type) {
		case *ast.ParenExpr:
			push(v.Inner)
		case *ast.BinaryOp:
			push(v.Left, v.Right)
		case *ast.UnaryOp:
			push(v.Expr)
		case *ast.ConditionalExpr:
			push(v.Condition, v.TrueExpr, v.FalseExpr)
		case *ast.ElvisExpr:
			push(v.Left, v.Right)
		case *ast.FunctionCall:
			push(v.Args...)
		case *ast.ListLiteral:
			push(v.Elements...)
		case *ast.RecordLiteral:
			if v.ClassAd != nil {
				push(v.ClassAd)
			}
		case *ast.ClassAd:
			for _, at := range v.Attributes {
				push(at.Value)
			}
		case *ast.SelectExpr:
			push(v.Record)
		case *ast.SubscriptExpr:
			push(v.Container, v.Index)
		}
	}
}

// Checker tells whether value texts are valid ClassAd expressions. Literals
// are recognised by their characters; other texts are parsed once and
// remembered, since the same expressions recur in ad after ad.
type Checker struct {
	valid map[string]bool
}

// Valid reports whether text parses as a ClassAd expression.
func (c *Checker) Valid(text []byte) bool {
	if LiteralKind(text) != KindExpr {
		return true
	}
	if ok, seen := c.valid[string(text)]; seen {
		return ok
	}
	_, err := ParseExpr(string(text))
	if c.valid == nil || len(c.valid) >= 1<<16 {
		c.valid = make(map[string]bool)
	}
	c.valid[string(text)] = err == nil
	return err == nil
}
