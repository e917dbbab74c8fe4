// Package index answers condor_q-style questions from a store: it parses
// selections (owners, cluster and job ids, a ClassAd constraint), plans
// which part of the store to read, and evaluates expressions against jobs,
// parsing only the attributes an expression references.
package index

import (
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
	var walk func(ast.Expr)
	walk = func(e ast.Expr) {
		switch v := e.(type) {
		case *ast.AttributeReference:
			v.Name = store.FoldName(v.Name)
			if v.Scope == ast.NoScope || v.Scope == ast.MyScope {
				for _, r := range out {
					if store.EqualFold(r, v.Name) {
						return
					}
				}
				out = append(out, v.Name)
			}
		case *ast.ParenExpr:
			walk(v.Inner)
		case *ast.BinaryOp:
			walk(v.Left)
			walk(v.Right)
		case *ast.UnaryOp:
			walk(v.Expr)
		case *ast.ConditionalExpr:
			walk(v.Condition)
			walk(v.TrueExpr)
			walk(v.FalseExpr)
		case *ast.ElvisExpr:
			walk(v.Left)
			walk(v.Right)
		case *ast.FunctionCall:
			for _, a := range v.Args {
				walk(a)
			}
		case *ast.ListLiteral:
			for _, el := range v.Elements {
				walk(el)
			}
		case *ast.RecordLiteral:
			if v.ClassAd != nil {
				for _, at := range v.ClassAd.Attributes {
					walk(at.Value)
				}
			}
		case *ast.SelectExpr:
			walk(v.Record)
		case *ast.SubscriptExpr:
			walk(v.Container)
			walk(v.Index)
		}
	}
	walk(e)
	return out
}
