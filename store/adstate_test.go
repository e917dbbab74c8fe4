package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestAdStateAgainstModel applies random sets and deletes, in and out of
// name order and with names in mixed case, to ads small and large (past
// smallAd, where changes go out of order), and compares each with a map.
func TestAdStateAgainstModel(t *testing.T) {
	for _, size := range []int{5, smallAd, 3 * smallAd, 5000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(size), 1))
			var a adState
			a.newAd("Job")
			model := map[string]Attr{} // folded name -> attribute as first written, last value
			for step := range 20 * size {
				n := rng.IntN(size)
				name := fmt.Sprintf("Attr%05d", n)
				if rng.IntN(2) == 0 {
					name = strings.ToUpper(name)
				}
				key := FoldName(name)
				if rng.IntN(3) == 0 {
					_, had := model[key]
					if got := a.delete(name); got != had {
						t.Fatalf("step %d: delete(%s) = %v, want %v", step, name, got, had)
					}
					delete(model, key)
				} else {
					v := fmt.Sprint(step)
					a.set(name, v)
					at, had := model[key]
					if !had {
						at.Name = name
					}
					at.Value = v
					model[key] = at
				}
				if step%(size+1) == 0 {
					if v, ok := a.lookup(name); ok != (model[key].Name != "") || ok && v != model[key].Value {
						t.Fatalf("step %d: lookup(%s) = %q, %v", step, name, v, ok)
					}
				}
			}
			var want []Attr
			for _, k := range slices.Sorted(maps.Keys(model)) {
				want = append(want, model[k])
			}
			if got := a.sorted(); !slices.Equal(got, want) {
				t.Fatalf("%d attributes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
			// Sorted again, it still finds and changes in order.
			a.set("zzz", "1")
			if v, ok := a.lookup("ZZZ"); !ok || v != "1" || !slices.IsSortedFunc(a.sorted(), func(x, y Attr) int { return compareFold(x.Name, y.Name) }) {
				t.Fatalf("after sorting: lookup = %q %v, or out of order", v, ok)
			}
		})
	}
}

func firstDiff(a, b []Attr) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// BenchmarkLargeAd builds one ad of a million attributes set in random
// order, then deletes half of them: linear in the ad's size (it took 150 s
// when every insertion shifted a sorted slice).
func BenchmarkLargeAd(b *testing.B) {
	const n = 1 << 20
	names := make([]string, n)
	for i, j := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		names[i] = fmt.Sprintf("A%07d", j)
	}
	for b.Loop() {
		var a adState
		a.newAd("Job")
		for _, name := range names {
			a.set(name, "1")
		}
		for _, name := range names[:n/2] {
			a.delete(name)
		}
		if len(a.sorted()) != n/2 {
			b.Fatal("wrong size")
		}
	}
}
