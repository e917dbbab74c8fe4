package store

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// The Loader's external sort: operations are recorded in a run in memory
// (run.add), sorted by key (run.sort) and, when the run is full, spilled
// to a file; at the end, a merger merges the spilled runs and the last
// one, still in memory, into each key's operations in log order.

// run is the operations recorded since the last spill, in chunks that are
// never reallocated: an entry is an op byte, then the name and the value,
// each as a uvarint length and the bytes.
type run struct {
	chunks [][]byte
	used   int // chunks in use; the rest are kept for reuse
	bytes  int
	refs   []runRef
	spare  []runRef // sort's second buffer
}

// runRef locates an entry: chunk index << chunkBits | offset in the chunk.
type runRef struct {
	key uint64
	at  uint32
}

const (
	chunkBits = 20
	chunkSize = 1 << chunkBits
	maxChunks = 1 << (32 - chunkBits)
)

func (r *run) add(key uint64, op byte, name, value []byte) {
	n := 1 + binary.MaxVarintLen64*2 + len(name) + len(value)
	if r.used == 0 || cap(r.chunks[r.used-1])-len(r.chunks[r.used-1]) < n {
		r.nextChunk(n)
	}
	c := &r.chunks[r.used-1]
	at := uint32(r.used-1)<<chunkBits | uint32(len(*c))
	start := len(*c)
	*c = append(*c, op)
	*c = binary.AppendUvarint(*c, uint64(len(name)))
	*c = append(*c, name...)
	*c = binary.AppendUvarint(*c, uint64(len(value)))
	*c = append(*c, value...)
	r.bytes += len(*c) - start
	r.refs = append(r.refs, runRef{key: key, at: at})
}

// nextChunk makes a chunk with room for n bytes the current one: a reused
// chunk if one is large enough, else a new one.
func (r *run) nextChunk(n int) {
	if r.used < len(r.chunks) && cap(r.chunks[r.used]) >= n {
		r.used++
		return
	}
	c := make([]byte, 0, max(chunkSize, n))
	if r.used < len(r.chunks) {
		r.chunks[r.used] = c
	} else {
		r.chunks = append(r.chunks, c)
	}
	r.used++
}

// size is the memory the run's data and index (twice, to sort it) take.
func (r *run) size() int { return r.bytes + 32*len(r.refs) }

// entry returns the encoded entry that ref points to.
func (r *run) entry(ref runRef) []byte {
	c := r.chunks[ref.at>>chunkBits]
	e := c[ref.at&(chunkSize-1):]
	n := 1
	for range 2 {
		l, w := binary.Uvarint(e[n:])
		n += w + int(l)
	}
	return e[:n]
}

// sort orders the refs by key; entries of one key stay in arrival order.
// It is a least-significant-digit radix sort, a byte at a time, which is
// stable and skips the bytes that no two keys differ in: a run's clusters
// span a narrow range, so a 64-bit key usually takes five or six passes.
func (r *run) sort() {
	if len(r.refs) < 2 {
		return
	}
	and, or := ^uint64(0), uint64(0)
	for _, ref := range r.refs {
		and &= ref.key
		or |= ref.key
	}
	src := r.refs
	dst := slices.Grow(r.spare[:0], len(src))[:len(src)]
	for shift := uint(0); shift < 64; shift += 8 {
		if (and^or)>>shift&0xff == 0 {
			continue // every key has the same byte here
		}
		var count [256]int
		for _, ref := range src {
			count[ref.key>>shift&0xff]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, ref := range src {
			b := ref.key >> shift & 0xff
			dst[count[b]] = ref
			count[b]++
		}
		src, dst = dst, src
	}
	r.refs, r.spare = src, dst
}

// reset empties the run and keeps its chunks for reuse.
func (r *run) reset() {
	for i := range r.used {
		r.chunks[i] = r.chunks[i][:0]
	}
	r.used, r.bytes, r.refs = 0, 0, r.refs[:0]
}

// spillRun sorts r and writes it through w to a temporary file in dir,
// unlinked at once so that nothing is left behind whatever happens to the
// process. It returns the file, if it made one, even with an error.
func spillRun(dir string, r *run, w *bufio.Writer) (*os.File, error) {
	r.sort()
	f, err := os.CreateTemp(dir, ".qindex-load-*")
	if err != nil {
		return nil, fmt.Errorf("spill a sorted run: %w", err)
	}
	os.Remove(f.Name())
	w.Reset(f)
	var kb [8]byte
	for _, ref := range r.refs {
		binary.BigEndian.PutUint64(kb[:], ref.key)
		w.Write(kb[:])
		w.Write(r.entry(ref))
	}
	if err := w.Flush(); err != nil {
		return f, fmt.Errorf("spill a sorted run to %s: %w", f.Name(), err)
	}
	return f, nil
}

// readSpilled returns cursors over spilled runs, each read from its start
// with a buffer of bufSize bytes (their buffers share bufBytes).
func readSpilled(spills []*os.File, bufBytes int) (cs []cursor, bufSize int, err error) {
	bufSize = max(16<<10, min(1<<20, bufBytes/max(1, len(spills))))
	for _, f := range spills {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, fmt.Errorf("read back a sorted run: %w", err)
		}
		cs = append(cs, newFileCursor(f, bufSize))
	}
	return cs, bufSize, nil
}

// A cursor yields a sorted run's entries in order.
type cursor interface {
	// next returns the next entry and its key. The entry is valid until
	// the next call. ok is false at the end of the run.
	next() (key uint64, entry []byte, ok bool, err error)
}

// memCursor reads the run still in memory.
type memCursor struct {
	run *run
	i   int
}

func (c *memCursor) next() (uint64, []byte, bool, error) {
	if c.i == len(c.run.refs) {
		return 0, nil, false, nil
	}
	ref := c.run.refs[c.i]
	c.i++
	return ref.key, c.run.entry(ref), true, nil
}

// fileCursor reads a spilled run: each entry preceded by its key as 8
// big-endian bytes. It parses entries in place in its buffer, which grows
// only for an entry larger than itself.
type fileCursor struct {
	r        io.Reader
	buf      []byte
	pos, end int // buf[pos:end] is read and not yet returned
	eof      bool
}

func newFileCursor(r io.Reader, size int) *fileCursor {
	return &fileCursor{r: r, buf: make([]byte, size)}
}

func (c *fileCursor) next() (uint64, []byte, bool, error) {
	for {
		b := c.buf[c.pos:c.end]
		n, err := spilledLen(b)
		if err != nil {
			return 0, nil, false, err
		}
		if n > 0 {
			c.pos += n
			return binary.BigEndian.Uint64(b), b[8:n], true, nil
		}
		if c.eof {
			if len(b) > 0 {
				return 0, nil, false, io.ErrUnexpectedEOF
			}
			return 0, nil, false, nil
		}
		if err := c.fill(); err != nil {
			return 0, nil, false, err
		}
	}
}

// fill reads more of the run after what is left unread, which it moves to
// the front of the buffer, or into a buffer twice the size if it fills it.
func (c *fileCursor) fill() error {
	left := c.end - c.pos
	if left == len(c.buf) {
		c.buf = append(c.buf, make([]byte, len(c.buf))...)
	}
	copy(c.buf, c.buf[c.pos:c.end])
	c.pos, c.end = 0, left
	n, err := c.r.Read(c.buf[c.end:])
	c.end += n
	switch {
	case errors.Is(err, io.EOF):
		c.eof = true
	case err != nil:
		return err
	}
	return nil
}

// spilledLen returns the length of the spilled entry, key included, that b
// starts with, or 0 if b holds only part of it.
func spilledLen(b []byte) (int, error) {
	n := 8 + 1 // the key and the op
	for range 2 {
		if len(b) < n {
			return 0, nil
		}
		l, w := binary.Uvarint(b[n:])
		switch {
		case w == 0:
			return 0, nil
		case w < 0 || l > 1<<31:
			return 0, errors.New("a malformed entry")
		}
		n += w + int(l)
	}
	if len(b) < n {
		return 0, nil
	}
	return n, nil
}

// merger merges sorted runs, given oldest first, into one key's entries at
// a time. Each run holds a key's operations in log order and runs follow
// the log, so a key's entries from run 0, then run 1, ... are in log order.
type merger struct {
	cursors []cursor
	heads   []head
	merge   *merge[head]
	buf     []byte
}

type head struct {
	key   uint64
	entry []byte
	ok    bool
}

func (h head) live() bool { return h.ok }

func compareHeads(a, b head) int { return cmp.Compare(a.key, b.key) }

func (m *merger) start() error {
	m.heads = make([]head, len(m.cursors))
	for i := range m.cursors {
		if err := m.advance(i); err != nil {
			return err
		}
	}
	m.merge = newMerge(m.heads, head.live, compareHeads)
	return nil
}

func (m *merger) advance(i int) error {
	k, e, ok, err := m.cursors[i].next()
	m.heads[i] = head{k, e, ok}
	return err
}

// next returns the smallest key left and all its entries, concatenated in
// log order, as one string: the text of a key's attributes then costs one
// allocation. ok is false when every run is exhausted.
func (m *merger) next() (key uint64, entries string, ok bool, err error) {
	i := m.merge.Top()
	if i < 0 {
		return 0, "", false, nil
	}
	key = m.heads[i].key
	m.buf = m.buf[:0]
	for ; i >= 0 && m.heads[i].key == key; i = m.merge.Top() {
		m.buf = append(m.buf, m.heads[i].entry...)
		if err := m.advance(i); err != nil {
			return 0, "", false, err
		}
		m.merge.Fix()
	}
	return key, string(m.buf), true, nil
}
