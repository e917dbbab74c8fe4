package condorq

import (
	"bufio"
	"strings"
)

// column is one column of a built-in view, as condor_q's print-format
// tables define it (CONDOR_Q.md §4).
type column struct {
	head     string
	width    int  // the fixed width, or the least width of an auto column
	right    bool // right-aligned
	trunc    bool // text longer than width is cut
	auto     bool // the width grows to the widest value
	noPrefix bool // no separating space before it
	alt      string
	hidden   bool
}

// fill is the alt text that fills a column's width: "[???]".
const fill = "\x02"

// missing marks a cell whose value is missing: it prints its column's alt.
const missing = "\x01"

// table collects the rows of a view, whose widths depend on every row, and
// prints them (CONDOR_Q.md §4.1-4.3). A row is stored as its cells joined
// by NUL, which no stored value contains.
type table struct {
	cols []column
	rows []string
	// trim removes trailing blanks from rows (wide mode).
	trim bool
	// cut cuts every line to this many bytes (0: never).
	cut int
}

// add adds a row of cells; a cell is missing for a missing value.
func (t *table) add(cells ...string) {
	t.rows = append(t.rows, strings.Join(cells, "\x00"))
}

// widths returns the final widths: auto columns grown to their widest
// value and heading.
func (t *table) widths() []int {
	w := make([]int, len(t.cols))
	for i, c := range t.cols {
		w[i] = c.width
		if c.auto {
			w[i] = max(w[i], len(c.head))
		}
	}
	for _, r := range t.rows {
		i := 0
		for cell := range strings.SplitSeq(r, "\x00") {
			if i < len(t.cols) && t.cols[i].auto && cell != missing {
				w[i] = max(w[i], len(cell))
			}
			i++
		}
	}
	return w
}

// altText returns column c's text for a missing value at width w.
func altText(c column, w int) string {
	if c.alt != fill {
		return c.alt
	}
	switch {
	case w >= 3:
		return "[" + strings.Repeat("?", w-2) + "]"
	case w > 0:
		return "?"
	}
	return ""
}

// line appends one line of cells at widths w.
func (t *table) line(b *strings.Builder, cells []string, w []int, header bool) {
	first := true
	for i, c := range t.cols {
		if c.hidden {
			continue
		}
		if !first && !c.noPrefix {
			b.WriteByte(' ')
		}
		first = false
		text := ""
		if i < len(cells) {
			text = cells[i]
		}
		switch {
		case header:
			b.WriteString(pad(text, w[i], false))
			continue
		case text == missing:
			text = altText(c, w[i])
		}
		if w[i] > 0 && len(text) > w[i] && c.trunc {
			text = text[:w[i]]
		}
		b.WriteString(pad(text, w[i], c.right))
	}
}

// print writes the header, if there is one, and the rows.
func (t *table) print(out *bufio.Writer, header bool) {
	w := t.widths()
	var b strings.Builder
	emit := func(s string, row bool) {
		if t.cut > 0 && len(s) > t.cut {
			s = s[:t.cut]
		} else if row && t.trim {
			s = strings.TrimRight(s, " \t")
		}
		out.WriteString(s)
		out.WriteByte('\n')
	}
	if header {
		heads := make([]string, len(t.cols))
		for i, c := range t.cols {
			heads[i] = c.head
		}
		t.line(&b, heads, w, true)
		emit(b.String(), false)
	}
	for _, r := range t.rows {
		b.Reset()
		t.line(&b, strings.Split(r, "\x00"), w, false)
		emit(b.String(), true)
	}
}
