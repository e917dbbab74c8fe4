package condorq

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/PelicanPlatform/classad/ast"
	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
)

// adView prints whole ads: -long, -json, -long:jsonl and -xml (CONDOR_Q.md
// §8), from the stored text of each value.
type adView struct {
	view   View
	env    *index.Env
	out    *bufio.Writer
	now    int64
	only   []string
	noSort bool
	n      int
}

func (p *adView) job(job store.Job) error {
	attrs := longAttrs(job, p.now, p.only, p.noSort)
	w := p.out
	switch p.view {
	case ViewLong:
		for _, a := range attrs {
			w.WriteString(a[0] + " = " + a[1] + "\n")
		}
		w.WriteByte('\n')
	case ViewJSON:
		if p.n == 0 {
			w.WriteString("[\n")
		} else {
			w.WriteString(",\n")
		}
		w.WriteString("{\n")
		for i, a := range attrs {
			w.WriteString("  " + jsonString(a[0]) + ": " + p.json(a[1], 1))
			if i < len(attrs)-1 {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
		}
		w.WriteString("}\n")
	case ViewJSONL:
		w.WriteByte('{')
		for i, a := range attrs {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(jsonString(a[0]) + ": " + p.json(a[1], -1))
		}
		w.WriteString("}\n")
	case ViewXML:
		if p.n == 0 {
			p.xmlHeader()
		}
		w.WriteString("<c>\n")
		for _, a := range attrs {
			w.WriteString(`    <a n="` + xmlEscape(a[0]) + `">` + p.xml(a[1]) + "</a>\n")
		}
		w.WriteString("</c>\n")
	}
	p.n++
	return nil
}

func (p *adView) xmlHeader() {
	p.out.WriteString("<?xml version=\"1.0\"?>\n<!DOCTYPE classads SYSTEM \"classads.dtd\">\n<classads>\n")
}

func (p *adView) end(*summary) error {
	switch {
	case p.view == ViewJSON && p.n > 0:
		p.out.WriteString("]\n")
	case p.view == ViewXML:
		if p.n == 0 {
			p.xmlHeader()
		}
		p.out.WriteString("</classads>\n")
	}
	return nil
}

// literal returns the parsed form of a stored value when it is a literal
// (a list or record of literals included), else nil.
func (p *adView) literal(text string) ast.Expr {
	e := p.env.Value([]byte(text)).AST
	for {
		pe, ok := e.(*ast.ParenExpr)
		if !ok {
			break
		}
		e = pe.Inner
	}
	if isLiteral(e) {
		return e
	}
	return nil
}

func isLiteral(e ast.Expr) bool {
	switch v := e.(type) {
	case *ast.IntegerLiteral, *ast.RealLiteral, *ast.StringLiteral, *ast.BooleanLiteral, *ast.UndefinedLiteral, *ast.ErrorLiteral:
		return true
	case *ast.UnaryOp:
		switch v.Expr.(type) {
		case *ast.IntegerLiteral, *ast.RealLiteral:
			return v.Op == "-"
		}
	case *ast.ListLiteral:
		return true
	case *ast.RecordLiteral:
		return true
	}
	return false
}

// json renders a stored value as condor_q -json does; indent is the
// nesting level (-1: compact, for -long:jsonl).
func (p *adView) json(text string, indent int) string {
	switch store.LiteralKind(text) {
	case store.KindInt:
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	case store.KindReal:
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			return formatReal(f)
		}
	case store.KindString:
		return jsonString(store.StringValue(text))
	case store.KindBool:
		return strings.ToLower(text)
	case store.KindUndefined:
		return "null"
	}
	if e := p.literal(text); e != nil {
		return jsonAST(e, indent)
	}
	return jsonString("\x00Expr(" + newSyntax(text) + ")\x00")
}

// jsonAST renders a literal expression as JSON.
func jsonAST(e ast.Expr, indent int) string {
	switch v := e.(type) {
	case *ast.ParenExpr:
		return jsonAST(v.Inner, indent)
	case *ast.IntegerLiteral:
		return strconv.FormatInt(v.Value, 10)
	case *ast.RealLiteral:
		return formatReal(v.Value)
	case *ast.StringLiteral:
		return jsonString(v.Value)
	case *ast.BooleanLiteral:
		return strconv.FormatBool(v.Value)
	case *ast.UndefinedLiteral:
		return "null"
	case *ast.ErrorLiteral:
		return jsonString("\x00Expr(error)\x00")
	case *ast.UnaryOp:
		switch n := v.Expr.(type) {
		case *ast.IntegerLiteral:
			return strconv.FormatInt(-n.Value, 10)
		case *ast.RealLiteral:
			return formatReal(-n.Value)
		}
	case *ast.ListLiteral:
		parts := make([]string, len(v.Elements))
		for i, el := range v.Elements {
			parts[i] = jsonElement(el, indent+1)
		}
		if indent < 0 {
			return "[" + strings.Join(parts, ",") + "]"
		}
		in := strings.Repeat("  ", indent+1)
		return "[\n" + in + strings.Join(parts, ",\n"+in) + "\n" + strings.Repeat("  ", indent) + "]"
	case *ast.RecordLiteral:
		var parts []string
		if v.ClassAd != nil {
			for _, at := range v.ClassAd.Attributes {
				parts = append(parts, jsonString(at.Name)+": "+jsonElement(at.Value, indent+1))
			}
		}
		if indent < 0 {
			return "{" + strings.Join(parts, ",") + "}"
		}
		in := strings.Repeat("  ", indent+1)
		return "{\n" + in + strings.Join(parts, ",\n"+in) + "\n" + strings.Repeat("  ", indent) + "}"
	}
	return jsonString("\x00Expr(" + newSyntax(e.String()) + ")\x00")
}

func jsonElement(e ast.Expr, indent int) string {
	if isLiteral(e) {
		return jsonAST(e, indent)
	}
	return jsonString("\x00Expr(" + newSyntax(e.String()) + ")\x00")
}

// jsonString quotes s as condor_q's JSON writer does: bytes of 0x80 and up
// are copied as they are; NUL marks where "\/" goes (in "\/Expr(...)\/").
func jsonString(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0:
			b.WriteString(`\/`)
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// newSyntax rewrites an old-syntax expression text in new syntax, as
// condor_q's JSON and XML writers unparse expressions: string escapes,
// and =?= and =!= as is and isnt.
func newSyntax(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(text) && text[j] != '"' {
				if text[j] == '\\' && j+1 < len(text) && text[j+1] == '"' {
					j++
				}
				j++
			}
			end := min(j+1, len(text))
			b.WriteString(store.ToNewSyntax(text[i:end]))
			i = end - 1
		case strings.HasPrefix(text[i:], "=?="):
			b.WriteString("is")
			i += 2
		case strings.HasPrefix(text[i:], "=!="):
			b.WriteString("isnt")
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// xml renders a stored value as condor_q -xml does.
func (p *adView) xml(text string) string {
	switch store.LiteralKind(text) {
	case store.KindInt:
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return "<i>" + strconv.FormatInt(n, 10) + "</i>"
		}
	case store.KindReal:
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			return xmlReal(f)
		}
	case store.KindString:
		return "<s>" + xmlEscape(newSyntaxString(store.StringValue(text))) + "</s>"
	case store.KindBool:
		if strings.EqualFold(text, "true") {
			return `<b v="t"/>`
		}
		return `<b v="f"/>`
	case store.KindUndefined:
		return "<un/>"
	case store.KindError:
		return "<er/>"
	}
	if e := p.literal(text); e != nil {
		return xmlAST(e)
	}
	return "<e>" + xmlEscape(newSyntax(text)) + "</e>"
}

func xmlReal(f float64) string {
	if f == 0 {
		return "<r>0.0</r>"
	}
	return "<r>" + fmt.Sprintf("%1.15E", f) + "</r>"
}

func xmlAST(e ast.Expr) string {
	switch v := e.(type) {
	case *ast.IntegerLiteral:
		return "<i>" + strconv.FormatInt(v.Value, 10) + "</i>"
	case *ast.RealLiteral:
		return xmlReal(v.Value)
	case *ast.StringLiteral:
		return "<s>" + xmlEscape(newSyntaxString(v.Value)) + "</s>"
	case *ast.BooleanLiteral:
		if v.Value {
			return `<b v="t"/>`
		}
		return `<b v="f"/>`
	case *ast.UndefinedLiteral:
		return "<un/>"
	case *ast.ErrorLiteral:
		return "<er/>"
	case *ast.UnaryOp:
		switch n := v.Expr.(type) {
		case *ast.IntegerLiteral:
			return "<i>" + strconv.FormatInt(-n.Value, 10) + "</i>"
		case *ast.RealLiteral:
			return xmlReal(-n.Value)
		}
	case *ast.ListLiteral:
		var b strings.Builder
		b.WriteString("<l>")
		for _, el := range v.Elements {
			if isLiteral(el) {
				b.WriteString(xmlAST(el))
			} else {
				b.WriteString("<e>" + xmlEscape(newSyntax(el.String())) + "</e>")
			}
		}
		return b.String() + "</l>"
	}
	return "<e>" + xmlEscape(newSyntax(e.String())) + "</e>"
}

// newSyntaxString escapes a string's value as new syntax does (without
// the quotes): backslashes and control characters.
func newSyntaxString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
	return r.Replace(s)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
