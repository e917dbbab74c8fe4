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
// by NUL, which no stored value contains. Past limit bytes of rows it keeps
// only the widths, and the view prints in a second pass, streaming.
type table struct {
	cols []column
	rows []string
	// trim removes trailing blanks from rows (wide mode).
	trim bool
	// cut cuts every line to this many bytes (0: never).
	cut int
	// widest is each auto column's widest value so far.
	widest []int
	// limit bounds the bytes of rows kept (0: no bound); over says it was
	// passed, and the rows dropped.
	limit, size int
	over        bool
	// stream, when set, prints each row as it is added, at the widths
	// the first pass found.
	stream *bufio.Writer
}

// add adds a row of cells; a cell is missing for a missing value.
func (t *table) add(cells ...string) {
	if t.stream != nil {
		t.emit(t.stream, cells, t.widths(), false)
		return
	}
	if t.widest == nil {
		t.widest = make([]int, len(t.cols))
	}
	for i, cell := range cells {
		if i < len(t.cols) && t.cols[i].auto && cell != missing {
			t.widest[i] = max(t.widest[i], len(cell))
		}
	}
	if t.over {
		return
	}
	row := strings.Join(cells, "\x00")
	t.size += len(row) + 16
	if t.limit > 0 && t.size > t.limit {
		t.over, t.rows = true, nil
		return
	}
	t.rows = append(t.rows, row)
}

// widths returns the final widths: auto columns grown to their widest
// value and heading.
func (t *table) widths() []int {
	w := make([]int, len(t.cols))
	for i, c := range t.cols {
		w[i] = c.width
		if c.auto {
			w[i] = max(w[i], len(c.head))
			if i < len(t.widest) {
				w[i] = max(w[i], t.widest[i])
			}
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

// emit writes one line of cells at widths w.
func (t *table) emit(out *bufio.Writer, cells []string, w []int, header bool) {
	var b strings.Builder
	t.line(&b, cells, w, header)
	line := b.String()
	if t.cut > 0 && len(line) > t.cut {
		line = line[:t.cut]
	} else if !header && t.trim {
		line = strings.TrimRight(line, " \t")
	}
	out.WriteString(line)
	out.WriteByte('\n')
}

// printHeader writes the heading line.
func (t *table) printHeader(out *bufio.Writer) {
	heads := make([]string, len(t.cols))
	for i, c := range t.cols {
		heads[i] = c.head
	}
	t.emit(out, heads, t.widths(), true)
}

// print writes the header, if there is one, and the rows kept.
func (t *table) print(out *bufio.Writer, header bool) {
	if header {
		t.printHeader(out)
	}
	w := t.widths()
	for _, r := range t.rows {
		t.emit(out, strings.Split(r, "\x00"), w, false)
	}
}
