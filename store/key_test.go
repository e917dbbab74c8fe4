package store

import (
	"bytes"
	"math"
	"testing"
)

// TestSortKeyOrdersAsEncodedKeys requires the two encodings of a key, the
// stored one and the Loader's sort key, to order keys alike, numerically.
func TestSortKeyOrdersAsEncodedKeys(t *testing.T) {
	keys := []Key{{math.MinInt32, math.MinInt32}, {-5, 0}, {0, 0}, {0, 1}, {1, -100}, {1, -2}, {1, -1}, {1, 0}, {1, 1}, {2, -1}, {255, 0}, {256, -1}, {100000, 3}, {math.MaxInt32, math.MaxInt32}}
	for i, k := range keys {
		if got := keyOf(sortKey(k)); got != k {
			t.Errorf("keyOf(sortKey(%v)) = %v", k, got)
		}
		if i > 0 && sortKey(keys[i-1]) >= sortKey(k) {
			t.Errorf("sortKey(%v) does not sort after sortKey(%v)", k, keys[i-1])
		}
		if i > 0 && bytes.Compare(appendKey(nil, keys[i-1]), appendKey(nil, k)) >= 0 {
			t.Errorf("appendKey(%v) does not sort after appendKey(%v)", k, keys[i-1])
		}
	}
}
