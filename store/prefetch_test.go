package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// leafSpan is one leaf page of a tree and its first and last keys.
type leafSpan struct {
	id          uint64
	first, last []byte
}

// leaves reads the tree at root from f and returns its leaf pages in key
// order: the truth prefetch's choice is checked against.
func leaves(t *testing.T, f *os.File, pageSize int, root uint64) []leafSpan {
	t.Helper()
	page := make([]byte, pageSize)
	if _, err := f.ReadAt(page, int64(root)*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	flags, count := binary.LittleEndian.Uint16(page[8:]), int(binary.LittleEndian.Uint16(page[10:]))
	key := func(i int) []byte { // a leaf or branch element's key
		e := pageHeaderLen + i*16
		pos, n := 0, 0
		if flags == leafPageFlag {
			pos, n = int(binary.LittleEndian.Uint32(page[e+4:])), int(binary.LittleEndian.Uint32(page[e+8:]))
		} else {
			pos, n = int(binary.LittleEndian.Uint32(page[e:])), int(binary.LittleEndian.Uint32(page[e+4:]))
		}
		return bytes.Clone(page[e+pos : e+pos+n])
	}
	if flags == leafPageFlag {
		return []leafSpan{{root, key(0), key(count - 1)}}
	}
	var spans []leafSpan
	children := make([]uint64, count)
	for i := range children {
		children[i] = binary.LittleEndian.Uint64(page[pageHeaderLen+i*16+8:])
	}
	for _, c := range children {
		spans = append(spans, leaves(t, f, pageSize, c)...)
	}
	return spans
}

// TestPrefetchAdvisesTheLeavesAReadVisits builds a tree several levels deep
// and requires prefetch to advise every leaf holding a wanted key, and
// little else: a point lookup stays a point lookup.
func TestPrefetchAdvisesTheLeavesAReadVisits(t *testing.T) {
	db, _ := openTemp(t)
	var ops []string
	pad := string(bytes.Repeat([]byte{'x'}, 150))
	for c := 1; c <= 4000; c++ {
		ops = append(ops, fmt.Sprintf("new %d.-1 Job", c), fmt.Sprintf("set %d.-1 Owner \"u%d\"", c, c%7))
		for p := range 3 {
			ops = append(ops, fmt.Sprintf("new %d.%d Job", c, p), fmt.Sprintf("set %d.%d JobStatus %d", c, p, (c*3+p)%5+1),
				fmt.Sprintf("set %d.%d Pad \"%s\"", c, p, pad))
		}
	}
	load(t, db, Position{}, ops...)

	var advised [][2]int64 // page ranges [first, last]
	ps := db.pages.pageSize
	src := &pageSource{f: db.pages.f, pageSize: ps, advise: func(_ *os.File, off, n int64) {
		advised = append(advised, [2]int64{off / int64(ps), (off+n)/int64(ps) - 1})
	}}
	isAdvised := func(id uint64) bool {
		return slices.ContainsFunc(advised, func(r [2]int64) bool { return int64(id) >= r[0] && int64(id) <= r[1] })
	}
	var root, pages uint64
	var all []leafSpan
	db.View(func(s *Snapshot) error {
		root, pages = uint64(s.ads.Root()), uint64(s.ads.Tx().Size())/uint64(ps)
		return nil
	})
	all = leaves(t, db.pages.f, ps, root)
	if len(all) < 200 {
		t.Fatalf("a tree of %d leaves: too small to test", len(all))
	}
	key := func(part partition, c, p int64) []byte { return appendAdKey(nil, part, Key{Cluster: c, Proc: p}) }
	rng := rand.New(rand.NewPCG(1, 2))
	var scattered []Key
	for range 50 {
		scattered = append(scattered, Key{Cluster: 1 + rng.Int64N(4000), Proc: rng.Int64N(3)})
	}
	slices.SortFunc(scattered, Key.Compare)
	scattered = slices.Compact(scattered)
	held := statusPartition(IndexedStatus{Class: ClassLiteral, N: 5})
	tests := []struct {
		name string
		want wantFunc
		in   func(l leafSpan) bool // whether a read of the wanted keys visits l
		ends int                   // the ranges of keys wanted
	}{
		{"everything", wantAll, func(leafSpan) bool { return true }, 1},
		{"one partition", wantRange(key(held, -1<<31, -1<<31), key(held, 1<<31-1, 1<<31-1)), func(l leafSpan) bool {
			return partition(l.last[0]) >= held && partition(l.first[0]) <= held
		}, 1},
		{"a narrow range", wantRange(key(partMain, 1000, -1), key(partMain, 1010, 2)), func(l leafSpan) bool {
			return bytes.Compare(l.last, key(partMain, 1000, -1)) >= 0 && bytes.Compare(l.first, key(partMain, 1010, 2)) <= 0
		}, 1},
		{"one key", wantRange(key(partMain, 2000, -1), key(partMain, 2000, -1)), func(l leafSpan) bool {
			return bytes.Compare(l.last, key(partMain, 2000, -1)) >= 0 && bytes.Compare(l.first, key(partMain, 2000, -1)) <= 0
		}, 1},
		{"scattered keys", wantKeys(partMain, scattered), func(l leafSpan) bool {
			return slices.ContainsFunc(scattered, func(k Key) bool {
				kb := appendAdKey(nil, partMain, k)
				return bytes.Compare(l.first, kb) <= 0 && bytes.Compare(kb, l.last) <= 0
			})
		}, len(scattered)},
		{"nothing", wantRange(key(partOther, 1<<31-1, 1<<31-1), key(partOther, 1<<31-1, 1<<31-1)), func(leafSpan) bool { return false }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			advised = nil
			src.prefetchTree(root, pages, tt.want)
			needed, extra := 0, 0
			for _, l := range all {
				switch in, adv := tt.in(l), isAdvised(l.id); {
				case in && !adv:
					t.Errorf("leaf %d (%s to %s) is read but was not advised", l.id, keyText(l.first[1:]), keyText(l.last[1:]))
				case in:
					needed++
				case adv:
					extra++
				}
			}
			// A range's ends may take in one leaf more each (the one whose
			// keys end just before it), and gaps of up to prefetchGap pages
			// are advised with the ranges they separate.
			if limit := 2*tt.ends + prefetchGap*len(advised); extra > limit {
				t.Errorf("%d leaves advised beyond the %d read (at most %d)", extra, needed, limit)
			}
		})
	}
}

// TestPrefetchSurvivesDamage prefetches from pages overwritten with noise,
// and from a branch that names itself as its child: it stops, advises a
// bounded number of pages, and never panics.
func TestPrefetchSurvivesDamage(t *testing.T) {
	db, path := openTemp(t)
	var ops []string
	for c := 1; c <= 3000; c++ {
		ops = append(ops, fmt.Sprintf("new %d.0 Job", c), fmt.Sprintf("set %d.0 Pad \"%0200d\"", c, c))
	}
	load(t, db, Position{}, ops...)
	var root uint64
	db.View(func(s *Snapshot) error {
		root = uint64(s.ads.Root())
		return nil
	})
	ps := db.pages.pageSize
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 30 {
		bad := bytes.Clone(data)
		page := bad[int(root)*ps : int(root+1)*ps]
		switch i % 3 {
		case 0: // noise after the header
			for j := range 64 {
				page[pageHeaderLen+rng.IntN(ps-pageHeaderLen)] = byte(rng.Uint32() + uint32(j))
			}
		case 1: // every child is the branch itself
			count := int(binary.LittleEndian.Uint16(page[10:]))
			for e := range min(count, (ps-pageHeaderLen)/branchElemLen) {
				binary.LittleEndian.PutUint64(page[pageHeaderLen+e*branchElemLen+8:], root)
			}
		case 2: // a count far past the page
			binary.LittleEndian.PutUint16(page[10:], uint16(rng.IntN(1<<16)))
		}
		f, err := os.CreateTemp(t.TempDir(), "bad")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(bad)
		advisedPages := int64(0)
		src := &pageSource{f: f, pageSize: ps, advise: func(_ *os.File, _, n int64) { advisedPages += n / int64(ps) }}
		src.prefetchTree(root, uint64(len(bad)/ps), wantAll)
		if pages := int64(len(bad) / ps); advisedPages > maxPrefetchDepth*pages {
			t.Errorf("damage %d: %d pages advised, of a file of %d", i, advisedPages, pages)
		}
		f.Close()
	}
}
