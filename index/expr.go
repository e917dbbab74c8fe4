package index

import (
	"slices"
	"strconv"

	"github.com/PelicanPlatform/classad/ast"
	"github.com/qindex/qindex/store"
)

// Expr is a parsed ClassAd expression and the attribute names it reads.
// It is immutable and safe to share between goroutines.
type Expr struct {
	// Text is the expression as written (old syntax).
	Text string
	// AST is the parsed expression.
	AST ast.Expr
	// Refs are the attributes it references without a scope or with MY.,
	// in first-use order, without duplicates (compared case-insensitively).
	Refs []string
}

// ParseExpr parses an old-syntax ClassAd expression (FORMAT.md §2) with
// store.ParseExpr, building plain literals without the parser.
func ParseExpr(text string) (*Expr, error) {
	if lit := literal(text); lit != nil {
		return &Expr{Text: text, AST: lit}, nil
	}
	a, err := store.ParseExpr(text)
	if err != nil {
		return nil, err
	}
	return &Expr{Text: text, AST: a, Refs: refs(a)}, nil
}

// AttrExpr returns the expression that reads attribute name.
func AttrExpr(name string) *Expr {
	name = store.FoldName(name)
	return &Expr{Text: name, AST: &ast.AttributeReference{Name: name}, Refs: []string{name}}
}

// Attr returns the attribute name when x is a bare reference to one
// (Name or MY.Name), else "".
func (x *Expr) Attr() string {
	if r, ok := x.AST.(*ast.AttributeReference); ok && (r.Scope == ast.NoScope || r.Scope == ast.MyScope) {
		return r.Name
	}
	return ""
}

// literal builds the AST of a literal value text without the parser, or
// returns nil if text is not a plain literal.
func literal(text string) ast.Expr {
	switch store.LiteralKind(text) {
	case store.KindInt:
		if v, err := strconv.ParseInt(text, 10, 64); err == nil {
			return &ast.IntegerLiteral{Value: v}
		}
	case store.KindReal:
		if v, err := strconv.ParseFloat(text, 64); err == nil {
			return &ast.RealLiteral{Value: v}
		}
	case store.KindString:
		return &ast.StringLiteral{Value: store.StringValue(text)}
	case store.KindBool:
		return &ast.BooleanLiteral{Value: store.EqualFold(text, "true")}
	case store.KindUndefined:
		return &ast.UndefinedLiteral{}
	case store.KindError:
		return &ast.ErrorLiteral{}
	}
	return nil
}

// refs lists the attributes e reads from the ad it is evaluated in. It also
// folds every attribute reference in e to lower case: names are
// case-insensitive, and the ClassAd library folds each name it looks up,
// which costs an allocation unless the name is lower case already.
func refs(e ast.Expr) []string {
	var out []string
	store.Walk(e, func(n ast.Expr, _ int) bool {
		v, ok := n.(*ast.AttributeReference)
		if !ok {
			return true
		}
		v.Name = store.FoldName(v.Name)
		if (v.Scope == ast.NoScope || v.Scope == ast.MyScope) && !slices.Contains(out, v.Name) {
			out = append(out, v.Name)
		}
		return true
	})
	return out
}
