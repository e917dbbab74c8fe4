package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/qindex/qindex/store"
)

// ErrNotALog is wrapped by the error of CatchUp when the log file is not a
// generation of a job queue log: it is empty, or its first line is not a
// complete 107 header (FORMAT.md §1; the schedd writes one first in every
// file). Such a file never replaces the queue a database holds.
var ErrNotALog = errors.New("not a job queue log")

// Identify returns the generation of the open log f (FORMAT.md §5): the
// sequence number and creation time of its 107 header, and its inode. A
// file of size bytes that does not start with a complete 107 header is not
// a log: the error wraps ErrNotALog, and the generation holds the inode.
func Identify(f *os.File, size int64) (store.Generation, error) {
	var g store.Generation
	fi, err := f.Stat()
	if err != nil {
		return g, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		g.Inode = st.Ino
	}
	if size == 0 {
		return g, fmt.Errorf("log %s: %w: the file is empty", f.Name(), ErrNotALog)
	}
	buf := make([]byte, 512)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return g, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	line, _, ok := bytes.Cut(buf[:n], []byte{'\n'})
	if !ok && n < len(buf) {
		return g, fmt.Errorf("log %s: %w: its first line, the header, is not complete", f.Name(), ErrNotALog)
	}
	r, err := ParseRecord(bytes.TrimSuffix(line, []byte{'\r'}))
	if !ok || err != nil || r.Op != OpHeader {
		return g, fmt.Errorf("log %s: %w: its first line is not a '107 <seq> CreationTimestamp <time>' header", f.Name(), ErrNotALog)
	}
	g.Seq, g.Created = r.Seq, r.Created
	if err := checkFirstRecords(f, int64(len(line))+1); err != nil {
		return g, err
	}
	return g, nil
}

// judgedLines is how many complete lines after the header Identify reads
// before it calls a file whose header parses, but none of them, not a log:
// a binary file, or a text that happens to begin like one.
const judgedLines = 8

// checkFirstRecords returns ErrNotALog when the first judgedLines complete
// lines from off (the end of the header) are all corrupt records. Fewer
// lines, or one that parses, pass: a log just begun, or one with a
// corrupt record here and there, is a log.
func checkFirstRecords(f *os.File, off int64) error {
	buf := make([]byte, 64<<10)
	n, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return fmt.Errorf("read %s: %w", f.Name(), err)
	}
	lines := 0
	for rest := buf[:n]; lines < judgedLines; lines++ {
		line, after, ok := bytes.Cut(rest, []byte{'\n'})
		if !ok {
			return nil
		}
		if _, err := ParseRecord(bytes.TrimSuffix(line, []byte{'\r'})); err == nil {
			return nil
		}
		rest = after
	}
	return fmt.Errorf("log %s: %w: none of the %d lines after its header is a record", f.Name(), ErrNotALog, lines)
}

// resumable reports whether replay can go on from pos in the open log f of
// generation g and the given size, and if not, why.
func resumable(f *os.File, size int64, g store.Generation, pos store.Position) (bool, string) {
	old := pos.Generation
	switch {
	case old.Created != g.Created:
		return false, fmt.Sprintf("the queue was recreated (creation time %d, was %d)", g.Created, old.Created)
	case old.Seq != g.Seq:
		return false, fmt.Sprintf("the log is a new generation (sequence %d, was %d)", g.Seq, old.Seq)
	case old.Inode != g.Inode:
		return false, fmt.Sprintf("the log file was replaced (inode %d, was %d)", g.Inode, old.Inode)
	case size < pos.Offset:
		return false, fmt.Sprintf("the log (%d bytes) is shorter than the saved offset %d", size, pos.Offset)
	}
	if n := int64(len(pos.Tail)); n > 0 {
		got := make([]byte, n)
		if _, err := f.ReadAt(got, pos.Offset-n); err != nil || !bytes.Equal(got, pos.Tail) {
			return false, fmt.Sprintf("the bytes before the saved offset %d are no longer the last record applied", pos.Offset)
		}
	}
	return true, ""
}

// readTail returns the TailLen bytes of f before offset (fewer at the start).
func readTail(f *os.File, offset int64) ([]byte, error) {
	n := min(offset, store.TailLen)
	b := make([]byte, n)
	if _, err := f.ReadAt(b, offset-n); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", f.Name(), offset-n, err)
	}
	return b, nil
}
