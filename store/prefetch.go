package store

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Readahead for reads of many pages. bbolt maps the file with MADV_RANDOM,
// so a cold read faults in one page at a time, with no readahead: at a
// million jobs, a scan after a reboot took ten times as long as reading
// the file. Before a read of many keys, prefetch finds the leaf pages the
// read will visit from the branch pages above them, a level at a time, and
// asks the kernel to read those pages in the background (advise), in as
// few ranges as they make; the read then finds them in the page cache.
// Point lookups prefetch nothing.
//
// Prefetching is advice: on a page it cannot make sense of (a damaged
// file) it stops, and the read itself meets and reports the damage.

// wantFunc reports whether a read wants keys in [lo, hi): a subtree whose
// keys lie there is prefetched. nil lo or hi: no bound on that side.
type wantFunc func(lo, hi []byte) bool

// prefetchGap is the gap, in pages, up to which two ranges of wanted pages
// are advised as one: reading a few pages more costs less than another
// request, and covers a leaf's overflow pages.
const prefetchGap = 2

// maxPrefetchDepth bounds the levels walked: a tree of 4 KiB pages holds
// more keys than any queue in 5 levels.
const maxPrefetchDepth = 8

// pageSource reads the pages of a bbolt file for prefetch and advises the
// kernel of the ranges to read ahead.
type pageSource struct {
	f        *os.File
	pageSize int
	advise   func(f *os.File, off, n int64) // nil: the platform's (adviseWillNeed)
}

// subtree is a page to visit and the keys its subtree may hold.
type subtree struct {
	id     uint64
	lo, hi []byte
}

// prefetch advises the kernel to read the leaf pages of b that hold keys
// want wants, and the branch pages above them, which it reads itself.
func (p *pageSource) prefetch(b *bolt.Bucket, want wantFunc) {
	if p == nil || b == nil || b.Root() == 0 { // 0: an inline bucket, no pages of its own
		return
	}
	p.prefetchTree(uint64(b.Root()), uint64(b.Tx().Size())/uint64(p.pageSize), want)
}

// prefetchTree prefetches the tree of pages at root, in a file of pages
// pages.
func (p *pageSource) prefetchTree(root, pages uint64, want wantFunc) {
	level := []subtree{{id: root}}
	for range maxPrefetchDepth {
		ids := make([]uint64, len(level))
		for i, t := range level {
			ids[i] = t.id
		}
		if !p.adviseAll(ids) {
			return
		}
		var next []subtree
		for _, t := range level {
			children, ok := p.children(t, pages, want)
			if !ok {
				return // leaves (advised above), or a page that makes no sense
			}
			next = append(next, children...)
			if uint64(len(next)) > pages { // only a damaged tree has a page twice
				return
			}
		}
		level = next
	}
}

// children reads branch page t.id and returns its children that hold keys
// want wants, each with its key range (slices of the page, which it reads
// into a buffer of its own); ok is false if the page is not a sound branch
// page.
func (p *pageSource) children(t subtree, pages uint64, want wantFunc) (children []subtree, ok bool) {
	if t.id >= pages {
		return nil, false
	}
	page := make([]byte, p.pageSize)
	if _, err := p.f.ReadAt(page, int64(t.id)*int64(p.pageSize)); err != nil {
		return nil, false
	}
	flags, count := binary.LittleEndian.Uint16(page[8:]), int(binary.LittleEndian.Uint16(page[10:]))
	if flags != branchPageFlag || count == 0 || pageHeaderLen+count*branchElemLen > len(page) {
		return nil, false
	}
	keys := make([][]byte, count)
	for i := range count {
		e := pageHeaderLen + i*branchElemLen
		pos, n := int(binary.LittleEndian.Uint32(page[e:])), int(binary.LittleEndian.Uint32(page[e+4:]))
		if pos < 0 || n < 0 || e+pos+n > len(page) || e+pos+n < e {
			return nil, false
		}
		keys[i] = page[e+pos : e+pos+n]
	}
	for i := range count {
		lo, hi := keys[i], t.hi
		if i == 0 {
			lo = t.lo
		}
		if i+1 < count {
			hi = keys[i+1]
		}
		if want(lo, hi) {
			id := binary.LittleEndian.Uint64(page[pageHeaderLen+i*branchElemLen+8:])
			children = append(children, subtree{id: id, lo: lo, hi: hi})
		}
	}
	return children, true
}

// adviseAll advises the pages ids, coalesced into ranges. It reports false,
// advising nothing, if an id repeats: only a damaged tree has a page twice.
func (p *pageSource) adviseAll(ids []uint64) bool {
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return false
		}
	}
	advise := p.advise
	if advise == nil {
		advise = adviseWillNeed
	}
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j]-ids[j-1] <= prefetchGap {
			j++
		}
		advise(p.f, int64(ids[i])*int64(p.pageSize), int64(ids[j-1]-ids[i]+1)*int64(p.pageSize))
		i = j
	}
	return true
}

// wantAll wants every key.
func wantAll(lo, hi []byte) bool { return true }

// wantRange wants the keys in [from, to].
func wantRange(from, to []byte) wantFunc {
	return func(lo, hi []byte) bool {
		return (hi == nil || bytes.Compare(from, hi) < 0) && (lo == nil || bytes.Compare(lo, to) <= 0)
	}
}

// minPrefetch is the number of jobs from which JobsAt prefetches: fewer
// are a few lookups.
const minPrefetch = 16

// prefetchJobs prefetches the pages JobsAt reads for refs: each job's ad,
// and its cluster's.
func (s *Snapshot) prefetchJobs(refs []JobRef) {
	if s.pages == nil || len(refs) < minPrefetch {
		return
	}
	byPart := make(map[partition][]Key)
	for _, r := range refs {
		if r.Key.IsJob() {
			byPart[r.part] = append(byPart[r.part], r.Key)
			byPart[partMain] = append(byPart[partMain], r.Key.ClusterKey())
		}
	}
	for part, keys := range byPart {
		slices.SortFunc(keys, Key.Compare)
		s.pages.prefetch(s.ads, wantKeys(part, slices.Compact(keys)))
	}
}

// wantKeys wants the ads of keys, sorted, in partition part.
func wantKeys(part partition, keys []Key) wantFunc {
	enc := make([][]byte, len(keys))
	for i, k := range keys {
		enc[i] = appendAdKey(nil, part, k)
	}
	return wantSorted(enc)
}

// wantSorted wants the keys of sorted, in ascending order.
func wantSorted(sorted [][]byte) wantFunc {
	return func(lo, hi []byte) bool {
		i, _ := slices.BinarySearchFunc(sorted, lo, bytes.Compare)
		return i < len(sorted) && (hi == nil || bytes.Compare(sorted[i], hi) < 0)
	}
}

// prefetchHistory prefetches the pages of the history entries ids name.
func (s *Snapshot) prefetchHistory(ids []HistoryID) {
	b := s.historyBucket(bucketEntries)
	if s.pages == nil || b == nil || len(ids) < minPrefetch {
		return
	}
	keys := make([][]byte, len(ids))
	for i := range ids {
		keys[i] = ids[i][:]
	}
	slices.SortFunc(keys, bytes.Compare)
	s.pages.prefetch(b, wantSorted(keys))
}
