package store

import (
	"fmt"
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
// backslash that does not escape a double quote is doubled.
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
			if i+1 < len(text) && text[i+1] == '"' {
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

// ParseExpr parses an old-syntax ClassAd expression, as the log and
// condor_q's -constraint write them. It is the one way qindex parses one.
func ParseExpr(text string) (ast.Expr, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	e, err := parser.ParseExpr(ToNewSyntax(text))
	if err != nil {
		return nil, fmt.Errorf("cannot parse %q as a ClassAd expression", text)
	}
	return e, nil
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
