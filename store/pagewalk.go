package store

import (
	"encoding/binary"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// bbolt trusts its pages: a branch that names itself as its child sends a
// cursor, or bbolt's own consistency check, round the loop for ever. So
// before anything walks a file whole, walkPages checks that the pages of
// every bucket form a tree, reading the file itself rather than through
// bbolt, each page once: in time and memory bounded by the file's size.

// The page header, as bbolt writes it (go.etcd.io/bbolt/internal/common).
const (
	pageHeaderLen   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	branchElemLen   = 16 // pos uint32, ksize uint32, pgid uint64
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	maxTreeDepth    = 64 // far beyond any real tree (a million keys need 4 levels)
	maxPageProblems = 20
)

// walkPages checks the page tree of every bucket of tx, in the file f of
// bbolt pages of pageSize bytes, and returns its problems (at most
// maxPageProblems).
func walkPages(f *os.File, tx *bolt.Tx, pageSize int) []string {
	w := &pageWalker{f: f, pageSize: pageSize, pages: uint64(tx.Size()) / uint64(pageSize), seen: make(map[uint64]bool)}
	var bucket func(path string, b *bolt.Bucket)
	bucket = func(path string, b *bolt.Bucket) {
		if root := uint64(b.Root()); root != 0 { // 0: an inline bucket, in its parent's page
			if !w.tree(path, root, 1) {
				return // its sub-buckets are listed by reading it: it is not safe to
			}
		}
		b.ForEachBucket(func(name []byte) error {
			if len(w.problems) < maxPageProblems {
				bucket(path+"/"+string(name), b.Bucket(name))
			}
			return nil
		})
	}
	tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		bucket(string(name), b)
		return nil
	})
	return w.problems
}

type pageWalker struct {
	f        *os.File
	pageSize int
	pages    uint64 // pages in use: every id must be below
	seen     map[uint64]bool
	problems []string
	buf      []byte
}

func (w *pageWalker) problem(format string, args ...any) {
	if len(w.problems) < maxPageProblems {
		w.problems = append(w.problems, fmt.Sprintf(format, args...))
	}
}

// tree checks the subtree of bucket path at page id, depth levels down,
// and reports whether it is sound.
func (w *pageWalker) tree(path string, id uint64, depth int) bool {
	switch {
	case len(w.problems) >= maxPageProblems:
		return false
	case id < 2 || id >= w.pages:
		w.problem("bucket %s: a reference to page %d, outside the %d pages in use", path, id, w.pages)
		return false
	case w.seen[id]:
		w.problem("bucket %s: page %d is referenced twice (a cycle, or pages shared)", path, id)
		return false
	case depth > maxTreeDepth:
		w.problem("bucket %s: pages nested %d deep at page %d", path, depth, id)
		return false
	}
	w.seen[id] = true
	hdr := make([]byte, pageHeaderLen)
	if _, err := w.f.ReadAt(hdr, int64(id)*int64(w.pageSize)); err != nil {
		w.problem("bucket %s: page %d: %v", path, id, err)
		return false
	}
	self, flags := binary.LittleEndian.Uint64(hdr), binary.LittleEndian.Uint16(hdr[8:])
	count, overflow := int(binary.LittleEndian.Uint16(hdr[10:])), uint64(binary.LittleEndian.Uint32(hdr[12:]))
	switch {
	case self != id:
		w.problem("bucket %s: page %d names itself page %d", path, id, self)
		return false
	case id+overflow >= w.pages:
		w.problem("bucket %s: page %d overflows past the pages in use", path, id)
		return false
	case flags == leafPageFlag:
		for i := uint64(1); i <= overflow; i++ {
			w.seen[id+i] = true
		}
		return true
	case flags != branchPageFlag:
		w.problem("bucket %s: page %d is neither a branch nor a leaf (flags %#x)", path, id, flags)
		return false
	case pageHeaderLen+count*branchElemLen > int(1+overflow)*w.pageSize:
		w.problem("bucket %s: branch page %d has more elements (%d) than fit", path, id, count)
		return false
	}
	w.buf = append(w.buf[:0], make([]byte, count*branchElemLen)...)
	if _, err := w.f.ReadAt(w.buf, int64(id)*int64(w.pageSize)+pageHeaderLen); err != nil {
		w.problem("bucket %s: page %d: %v", path, id, err)
		return false
	}
	children := make([]uint64, count)
	for i := range children {
		children[i] = binary.LittleEndian.Uint64(w.buf[i*branchElemLen+8:])
	}
	sound := count > 0
	if !sound {
		w.problem("bucket %s: branch page %d is empty", path, id)
	}
	for _, c := range children {
		sound = w.tree(path, c, depth+1) && sound
	}
	return sound
}
