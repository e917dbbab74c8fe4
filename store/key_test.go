package store

import (
	"bytes"
	"math"
	"testing"
)

// TestKeyEncodingOrdersNumerically requires a key's encoding to round-trip
// and to order keys numerically, by cluster then proc, both as the number
// the Loader sorts and as the bytes bbolt orders.
func TestKeyEncodingOrdersNumerically(t *testing.T) {
	keys := []Key{{math.MinInt32, math.MinInt32}, {-5, 0}, {0, 0}, {0, 1}, {1, -100}, {1, -2}, {1, -1}, {1, 0}, {1, 1}, {1, 10}, {2, -1}, {2, 0}, {10, -1}, {255, 0}, {256, -1}, {100000, 3}, {math.MaxInt32, math.MaxInt32}}
	for i, k := range keys {
		b := appendKey(nil, k)
		if got, err := decodeKey(b); err != nil || got != k {
			t.Errorf("decodeKey(appendKey(%v)) = %v, %v", k, got, err)
		}
		if got := keyFromBits(keyBits(k)); got != k {
			t.Errorf("keyFromBits(keyBits(%v)) = %v", k, got)
		}
		if i == 0 {
			continue
		}
		if keyBits(keys[i-1]) >= keyBits(k) {
			t.Errorf("keyBits(%v) does not sort after keyBits(%v)", k, keys[i-1])
		}
		if bytes.Compare(appendKey(nil, keys[i-1]), b) >= 0 {
			t.Errorf("appendKey(%v) does not sort after appendKey(%v)", k, keys[i-1])
		}
	}
}

// TestKeyEncodingClampsBeyond32Bits: numbers beyond the log's 32 bits come
// only from a query's bounds; they encode as the nearest 32-bit number, so
// a bound keeps its place among stored keys.
func TestKeyEncodingClampsBeyond32Bits(t *testing.T) {
	for _, c := range []struct{ k, want Key }{
		{Key{1 << 40, 0}, Key{math.MaxInt32, 0}},
		{Key{5, math.MaxInt64}, Key{5, math.MaxInt32}},
		{Key{-1 << 40, -1 << 40}, Key{math.MinInt32, math.MinInt32}},
	} {
		if got, _ := decodeKey(appendKey(nil, c.k)); got != c.want {
			t.Errorf("decodeKey(appendKey(%v)) = %v, want %v", c.k, got, c.want)
		}
	}
	if _, err := decodeKey(make([]byte, 16)); err == nil {
		t.Error("a 16-byte stored key (schema 10) was accepted")
	}
}
