package store

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
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
				r.add(sortKey(gen()), loadSetAttr, []byte("A"), []byte(strconv.Itoa(i)))
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
