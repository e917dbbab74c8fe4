package ingest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/qindex/qindex/store"
)

// Identify returns the generation of the open log f (FORMAT.md §5): the
// sequence number and creation time of its 107 header, and its inode. A log
// whose first line is not a complete 107 header (a hand-made file, or one
// still being written) has sequence number and creation time 0.
func Identify(f *os.File) (store.Generation, error) {
	var g store.Generation
	fi, err := f.Stat()
	if err != nil {
		return g, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		g.Inode = st.Ino
	}
	buf := make([]byte, 512)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return g, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	line, _, ok := bytes.Cut(buf[:n], []byte{'\n'})
	if !ok {
		return g, nil
	}
	if r, err := ParseRecord(bytes.TrimSuffix(line, []byte{'\r'})); err == nil && r.Op == OpHeader {
		g.Seq, g.Created = r.Seq, r.Created
	}
	return g, nil
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
