package ingest

import (
	"bytes"
	"io"
)

// LineReader reads complete lines from a log, from any starting offset. It
// never returns a partial line: a line counts only once its "\n" has been
// read. Lines have no length limit.
type LineReader struct {
	r      io.Reader
	buf    []byte
	start  int   // first unconsumed byte of buf
	end    int   // end of the data in buf
	scan   int   // buf[start:scan] is known to hold no '\n'
	offset int64 // file offset of buf[start]
	line   int64 // lines consumed
}

const initialBuffer = 1 << 20

// NewLineReader reads from r, which is positioned at offset, the start of
// line number line+1 of the file.
func NewLineReader(r io.Reader, offset, line int64) *LineReader {
	return &LineReader{r: r, buf: make([]byte, initialBuffer), offset: offset, line: line}
}

// Next returns the next complete line without its "\n", and without a "\r"
// just before it. The slice is valid until the next call. At the end of the
// data it returns io.EOF, leaving any partial line unconsumed; a later call
// returns lines appended to the file since.
func (lr *LineReader) Next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.scan:lr.end], '\n'); i >= 0 {
			nl := lr.scan + i
			line := lr.buf[lr.start:nl]
			lr.offset += int64(nl + 1 - lr.start)
			lr.start, lr.scan = nl+1, nl+1
			lr.line++
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		}
		lr.scan = lr.end
		if err := lr.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more data, making room first.
func (lr *LineReader) fill() error {
	if lr.start > 0 {
		n := copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.scan -= lr.start
		lr.start, lr.end = 0, n
	}
	if lr.end == len(lr.buf) {
		grown := make([]byte, 2*len(lr.buf))
		copy(grown, lr.buf[:lr.end])
		lr.buf = grown
	}
	n, err := lr.r.Read(lr.buf[lr.end:])
	lr.end += n
	switch {
	case n > 0:
		return nil
	case err == nil:
		return io.ErrNoProgress
	}
	return err
}

// Offset returns the file offset just past the last line returned.
func (lr *LineReader) Offset() int64 { return lr.offset }

// Line returns the number (from 1) of the last line returned.
func (lr *LineReader) Line() int64 { return lr.line }
