package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"testing/iotest"
)

// TestRunSortIsStable compares the radix sort with a stable comparison sort
// on keys that vary in few bytes, in many, and not at all.
func TestRunSortIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func() Key{
		"narrow clusters": func() Key { return Key{Cluster: 1000 + rng.Int64N(40), Proc: rng.Int64N(5) - 1} },
		"full range": func() Key {
			return Key{Cluster: int64(int32(rng.Uint32())), Proc: int64(int32(rng.Uint32()))}
		},
		"one key": func() Key { return Key{Cluster: 7, Proc: 0} },
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 2, 1000} {
			var r run
			for i := range n {
				r.add(keyBits(gen()), loadSetAttr, []byte("A"), []byte(strconv.Itoa(i)))
			}
			want := slices.Clone(r.refs)
			slices.SortStableFunc(want, func(a, b runRef) int { return cmp.Compare(a.key, b.key) })
			r.sort()
			if !slices.Equal(r.refs, want) {
				t.Errorf("%s, %d refs: radix sort differs from a stable sort", name, n)
			}
		}
	}
}

// TestFileCursorReadsSpilledRuns writes runs as spill does and reads them
// back through buffers smaller than one entry, exactly the size of one, and
// larger than the run; a run cut short or damaged is an error, not an end.
func TestFileCursorReadsSpilledRuns(t *testing.T) {
	var r run
	for i := range 300 {
		r.add(uint64(i/3), loadSetAttr, []byte("Attr"+strconv.Itoa(i)), bytes.Repeat([]byte{'v'}, i%7*50))
	}
	r.add(1000, loadDestroyAd, nil, nil)
	var file []byte
	var want []string
	for _, ref := range r.refs {
		file = binary.BigEndian.AppendUint64(file, ref.key)
		file = append(file, r.entry(ref)...)
		want = append(want, fmt.Sprint(ref.key, r.entry(ref)))
	}
	read := func(data []byte, size int) ([]string, error) {
		c := newFileCursor(iotest.HalfReader(bytes.NewReader(data)), size)
		var got []string
		for {
			k, e, ok, err := c.next()
			if err != nil || !ok {
				return got, err
			}
			got = append(got, fmt.Sprint(k, e))
		}
	}
	for _, size := range []int{1, 9, 64, len(file) + 10} {
		got, err := read(file, size)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("buffer of %d bytes: %d entries, error %v; want %d entries", size, len(got), err, len(want))
		}
	}
	if _, err := read(file[:len(file)-1], 64); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a run cut short: error %v, want %v", err, io.ErrUnexpectedEOF)
	}
	bad := binary.BigEndian.AppendUint64(nil, 1)
	bad = append(bad, loadSetAttr, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	if _, err := read(bad, 64); err == nil {
		t.Error("a malformed length: no error")
	}
}
