package condorq

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/qindex/qindex/store"
)

// columnsView prints -af and -format columns (CONDOR_Q.md §7): no banner,
// no totals, a heading line only with -af:h.
type columnsView struct {
	r      *renderer
	out    *bufio.Writer
	cols   []*printColumn
	layout string
	anyAF  bool
	rows   [][]cell // kept for -af:h, whose widths need every row
}

// cell is one printed value; counts says it may widen its column before
// the first row is printed (integers, reals and strings, §7.1).
type cell struct {
	text   string
	counts bool
}

// printColumn is a Column ready to print.
type printColumn struct {
	Column
	eval   *evaluator
	printf printfSpec
	id     bool // the -af:j id column
}

func newColumnsView(q *Query, r *renderer, out *bufio.Writer) (*columnsView, error) {
	p := &columnsView{r: r, out: out, layout: q.Layout}
	if strings.Contains(q.Layout, "j") {
		p.cols = append(p.cols, &printColumn{Column: Column{Arg: "ID"}, id: true})
		p.anyAF = true
	}
	for _, c := range q.Columns {
		e, err := newEvaluator(r.env, c.Arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Arg, err)
		}
		pc := &printColumn{Column: c, eval: e}
		if c.Format != "" {
			pc.printf = parsePrintf(c.Format)
		} else {
			p.anyAF = true
		}
		p.cols = append(p.cols, pc)
	}
	return p, nil
}

func (p *columnsView) has(q byte) bool { return strings.IndexByte(p.layout, q) >= 0 }

func (p *columnsView) job(job store.Job) error {
	cells := make([]cell, len(p.cols))
	for i, c := range p.cols {
		switch {
		case c.id:
			cells[i] = cell{text: job.Key.String(), counts: true}
		case c.Format != "":
			cells[i] = cell{text: c.printf.format(c.eval, job, p.r)}
		default:
			cells[i] = p.afCell(c, job)
		}
	}
	if p.has('h') {
		p.rows = append(p.rows, cells)
		return nil
	}
	p.writeRow(cells, nil)
	return nil
}

// afCell renders an -af column in its mode (§7.1).
func (p *columnsView) afCell(c *printColumn, job store.Job) cell {
	e := c.eval
	switch c.Mode {
	case 'r':
		return cell{text: e.raw(job)}
	case 'T', 'Y':
		f, ok := e.number(job)
		if !ok {
			return cell{}
		}
		if c.Mode == 'T' {
			return cell{text: formatTime(int64(f)), counts: true}
		}
		return cell{text: formatDate(int64(f), p.r.loc), counts: true}
	}
	text, counts := e.formatCounting(job, c.Mode == 'V')
	return cell{text: text, counts: counts}
}

// writeRow writes one ad's line; widths pads -af:h columns, and grows
// as longer values are printed.
func (p *columnsView) writeRow(cells []cell, widths []int) {
	w := p.out
	if p.has('g') {
		w.WriteByte('\n')
	}
	label := p.has('l') && !p.has('h')
	prefix, suffix := " ", ""
	switch {
	case p.has('g'):
		prefix = ""
	case p.has('t'):
		prefix = "\t"
	}
	switch {
	case p.has('n'):
		suffix = "\n"
	case p.has(','):
		suffix = ","
	}
	afSeen := false
	for i, c := range p.cols {
		text := cells[i].text
		if c.Format != "" {
			w.WriteString(text)
			continue
		}
		if afSeen {
			w.WriteString(suffix)
			w.WriteString(prefix)
		}
		afSeen = true
		if label {
			arg := c.Arg
			if c.id {
				arg = "ID"
			}
			w.WriteString(arg + " = ")
		}
		if widths != nil && i < len(widths) {
			if len(text) > widths[i] {
				widths[i] = len(text)
			}
			text = pad(text, widths[i], false)
		}
		w.WriteString(text)
	}
	if p.anyAF {
		w.WriteByte('\n')
	}
}

func (p *columnsView) end(*summary) error {
	if !p.has('h') {
		return nil
	}
	widths := make([]int, len(p.cols))
	heads := make([]cell, len(p.cols))
	for i, c := range p.cols {
		heads[i].text = c.Arg
		if c.id {
			heads[i].text = " ID"
		}
		if c.Format == "" {
			widths[i] = len(heads[i].text)
		}
	}
	for _, row := range p.rows {
		for i, c := range row {
			if c.counts && p.cols[i].Format == "" {
				widths[i] = max(widths[i], len(c.text))
			}
		}
	}
	p.writeRow(heads, widths)
	for _, row := range p.rows {
		p.writeRow(row, widths)
	}
	return nil
}

// printfSpec is a -format format: its first conversion and the text
// around it (CONDOR_Q.md §7.3).
type printfSpec struct {
	literal     string // the whole format, when it is printed as it is
	pre, post   string
	flags       string
	width, prec string
	long        bool // a 64-bit length modifier
	conv        byte
}

// unescapeC turns C escapes into characters, as condor_q does for -format.
func unescapeC(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\', '?', '\'', '"':
			b.WriteByte(c)
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String()
}

func parsePrintf(format string) printfSpec {
	f := unescapeC(format)
	lit := printfSpec{literal: f}
	var pre strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			pre.WriteByte(f[i])
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			pre.WriteByte('%')
			i++
			continue
		}
		s := printfSpec{pre: pre.String()}
		j := i + 1
		for j < len(f) && strings.IndexByte("#0- +'", f[j]) >= 0 {
			if f[j] != '\'' {
				s.flags += string(f[j])
			}
			j++
		}
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			s.width += string(f[j])
			j++
		}
		if j < len(f) && f[j] == '.' {
			j++
			s.prec = "."
			for j < len(f) && f[j] >= '0' && f[j] <= '9' {
				s.prec += string(f[j])
				j++
			}
		}
		for j < len(f) && strings.IndexByte("hlLqjzt", f[j]) >= 0 {
			if f[j] != 'h' {
				s.long = true
			}
			j++
		}
		if j == len(f) || strings.IndexByte("diouxXceEfFgGaAsvVrRTY", f[j]) < 0 {
			return lit
		}
		s.conv = f[j]
		s.post = strings.ReplaceAll(f[j+1:], "%%", "%")
		return s
	}
	return lit
}

// format prints one ad's -format output: nothing at all when the value
// does not suit the conversion.
func (s printfSpec) format(e *evaluator, job store.Job, r *renderer) string {
	if s.conv == 0 {
		return s.literal
	}
	spec := "%" + s.flags + s.width + s.prec
	var body string
	switch s.conv {
	case 'd', 'i', 'o', 'u', 'x', 'X', 'c':
		f, ok := e.number(job)
		if !ok {
			return ""
		}
		n := int64(f)
		switch s.conv {
		case 'd', 'i':
			if !s.long {
				n = int64(int32(n))
			}
			body = fmt.Sprintf(spec+"d", n)
		case 'c':
			body = fmt.Sprintf(spec+"c", rune(byte(n)))
		default:
			u := uint64(n)
			if !s.long {
				u = uint64(uint32(n))
			}
			conv := string(s.conv)
			if conv == "u" {
				conv = "d"
			}
			body = fmt.Sprintf(spec+conv, u)
		}
	case 'e', 'E', 'f', 'F', 'g', 'G', 'a', 'A':
		f, ok := e.number(job)
		if !ok {
			return ""
		}
		conv := string(s.conv)
		switch conv {
		case "F":
			conv = "f"
		case "a":
			conv = "x"
		case "A":
			conv = "X"
		}
		if s.prec == "" && (conv == "g" || conv == "G") {
			spec += ".6"
		}
		body = fmt.Sprintf(spec+conv, f)
	case 's':
		var str string
		if text, ok := e.text(job); ok {
			if store.LiteralKind(text) == store.KindString {
				str = store.StringValue(text)
			} else if e.attr != "" {
				v := e.eval(job)
				if v.IsString() {
					str, _ = v.StringValue()
				} else {
					str = string(text)
				}
			}
		} else if e.attr != "" {
			return ""
		} else {
			v := e.eval(job)
			if !v.IsString() {
				return ""
			}
			str, _ = v.StringValue()
		}
		body = fmt.Sprintf(spec+"s", str)
	case 'v', 'V':
		body = fmt.Sprintf(spec+"s", e.format(job, s.conv == 'V'))
	case 'r', 'R':
		body = fmt.Sprintf(spec+"s", e.raw(job))
	case 'T', 'Y':
		f, ok := e.number(job)
		if !ok {
			return ""
		}
		if s.conv == 'T' {
			body = formatTime(int64(f))
		} else {
			body = formatDate(int64(f), r.loc)
		}
	}
	return s.pre + body + s.post
}
