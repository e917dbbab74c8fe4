package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"
	"math/bits"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Attr is one attribute of an ad: its name as first written and its value
// as the log's text, verbatim.
type Attr struct {
	Name  string
	Value string
}

// Ad is an ad as stored: a read-only view of its encoded bytes. Lookups
// scan a table of name hashes; nothing is copied or parsed.
//
// Layout (all integers unsigned varints unless noted):
//
//	version byte (adFormat)
//	uint32 little-endian      CRC-32C of the rest of the ad, begun from a hash of its key (see adSum)
//	len(MyType) MyType
//	n                         number of attributes
//	n × uint32 little-endian  offset of each entry from the start of the entries
//	n × uint16 little-endian  nameHash of each entry's name
//	n × entry                 len(name) name len(value) value
//
// Entries are sorted by name folded to lower case (ASCII only, as the
// schedd's strcasecmp), so names are unique regardless of case.
//
// A lookup reads the hashes, two bytes per attribute side by side, and only
// the entry whose hash matches: an ad met at random (a query through an
// index) costs a cache miss or two, where a binary search over the entries
// would miss at each of its probes.
//
// The checksum binds the ad to its key: reads check it (openAd), so that a
// damaged page, or bytes of one ad read as another's, fail the read with
// ErrDamaged instead of answering with wrong values. It leaves out the
// partition, which an ad changes when it moves, without being re-encoded.
type Ad []byte

const (
	adFormat = 3
	adSumLen = 4 // the checksum after the version byte
)

var (
	errBadAd   = errors.New("malformed stored ad")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// header decodes the fixed part of a: MyType, the offset table, the hash
// table and the entries.
func (a Ad) header() (myType, table, hashes, entries []byte, err error) {
	if len(a) < 1+adSumLen || a[0] != adFormat {
		return nil, nil, nil, nil, errBadAd
	}
	b := a[1+adSumLen:]
	myType, b, err = readBytes(b)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w)/6 {
		return nil, nil, nil, nil, errBadAd
	}
	b = b[w:]
	return myType, b[:4*n], b[4*n : 6*n], b[6*n:], nil
}

// nameHash hashes a name folded to lower case (FNV-1a, folded to 16 bits).
func nameHash[T ~string | ~[]byte](name T) uint16 {
	h := uint32(2166136261)
	for i := range len(name) {
		h = (h ^ uint32(lower(name[i]))) * 16777619
	}
	return uint16(h ^ h>>16)
}

// Len returns the number of attributes in a.
func (a Ad) Len() int {
	_, table, _, _, err := a.header()
	if err != nil {
		return 0
	}
	return len(table) / 4
}

// MyType returns the ad's MyType ("" when the log said "(empty)").
func (a Ad) MyType() string {
	t, _, _, _, _ := a.header()
	return string(t)
}

// Lookup returns the value text of the attribute name (case-insensitive).
func (a Ad) Lookup(name string) ([]byte, bool) {
	return a.lookup(name, nameHash(name))
}

// lookup is Lookup with name's hash h already computed.
func (a Ad) lookup(name string, h uint16) ([]byte, bool) {
	_, table, hashes, entries, err := a.header()
	if err != nil {
		return nil, false
	}
	for i := hashIndex(hashes, h, 0); i >= 0; i = hashIndex(hashes, h, i+1) {
		n, v, err := entryAt(table, entries, i)
		if err != nil {
			return nil, false
		}
		if EqualFold(n, name) {
			return v, true
		}
	}
	return nil, false
}

// hashIndex returns the index of the first hash equal to h in hashes (a
// table of little-endian uint16s) at or after index from, or -1. It
// compares four hashes at a time.
func hashIndex(hashes []byte, h uint16, from int) int {
	const lanes = 0x0001_0001_0001_0001
	want := uint64(h) * lanes
	i := 2 * from
	for ; i+8 <= len(hashes); i += 8 {
		x := binary.LittleEndian.Uint64(hashes[i:]) ^ want
		// A lane of x is zero where the hash matches: find the first.
		if z := (x - lanes) &^ x & (lanes << 15); z != 0 {
			return i/2 + bits.TrailingZeros64(z)/16
		}
	}
	for ; i+2 <= len(hashes); i += 2 {
		if binary.LittleEndian.Uint16(hashes[i:]) == h {
			return i / 2
		}
	}
	return -1
}

// LookupSorted sets vals[i] to the value text of attribute names[i], or to
// nil when a has no such attribute. names must be in lower case and sorted,
// and vals as long. One pass over a's attributes, it costs less than a
// Lookup per name when many names are wanted.
func (a Ad) LookupSorted(names []string, vals [][]byte) {
	clear(vals)
	_, table, _, entries, err := a.header()
	if err != nil {
		return
	}
	j := 0
	for i := 0; i < len(table)/4 && j < len(names); i++ {
		n, v, err := entryAt(table, entries, i)
		if err != nil {
			return
		}
		for j < len(names) {
			c := compareFold(n, names[j])
			if c < 0 {
				break // the attribute is not wanted: the next one
			}
			if c == 0 {
				vals[j] = v
			}
			j++ // found, or a has none
			if c == 0 {
				break
			}
		}
	}
}

// All yields every attribute's name and value text, in folded-name order.
// The slices alias a.
func (a Ad) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		_, table, _, entries, err := a.header()
		if err != nil {
			return
		}
		for i := range len(table) / 4 {
			n, v, err := entryAt(table, entries, i)
			if err != nil || !yield(n, v) {
				return
			}
		}
	}
}

// Validate checks that a is well formed: every entry decodes, names are
// strictly increasing under case folding and each hash is its name's.
func (a Ad) Validate() error {
	_, table, hashes, entries, err := a.header()
	if err != nil {
		return err
	}
	var prev []byte
	for i := range len(table) / 4 {
		n, _, err := entryAt(table, entries, i)
		if err != nil {
			return err
		}
		if binary.LittleEndian.Uint16(hashes[2*i:]) != nameHash(n) {
			return fmt.Errorf("%w: attribute %q has a wrong hash", errBadAd, n)
		}
		if i > 0 && compareFold(prev, string(n)) >= 0 {
			return fmt.Errorf("%w: attribute %q out of order", errBadAd, n)
		}
		prev = n
	}
	return nil
}

func entryAt(table, entries []byte, i int) (name, value []byte, err error) {
	off := binary.LittleEndian.Uint32(table[4*i:])
	if uint64(off) > uint64(len(entries)) {
		return nil, nil, errBadAd
	}
	b := entries[off:]
	if name, b, err = readBytes(b); err != nil {
		return nil, nil, err
	}
	value, _, err = readBytes(b)
	return name, value, err
}

func readBytes(b []byte) (field, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, errBadAd
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

// appendAd encodes the ad of key k, of myType and attrs, which must be
// sorted by folded name with no two equal under folding.
func appendAd(dst []byte, k Key, myType string, attrs []Attr) []byte {
	start := len(dst)
	dst = append(dst, adFormat, 0, 0, 0, 0)
	dst = binary.AppendUvarint(dst, uint64(len(myType)))
	dst = append(dst, myType...)
	dst = binary.AppendUvarint(dst, uint64(len(attrs)))
	table := len(dst)
	hashes := table + 4*len(attrs)
	dst = slices.Grow(dst, 6*len(attrs))[:table+6*len(attrs)]
	entries := len(dst)
	for i, at := range attrs {
		binary.LittleEndian.PutUint32(dst[table+4*i:], uint32(len(dst)-entries))
		binary.LittleEndian.PutUint16(dst[hashes+2*i:], nameHash(at.Name))
		dst = binary.AppendUvarint(dst, uint64(len(at.Name)))
		dst = append(dst, at.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(at.Value)))
		dst = append(dst, at.Value...)
	}
	binary.LittleEndian.PutUint32(dst[start+1:], adSum(k, dst[start+1+adSumLen:]))
	return dst
}

// adSum is the checksum of the ad of key k whose encoding after the
// checksum is body: its CRC-32C, begun from a hash of k instead of zero,
// so that the bytes of one ad do not pass for another's.
func adSum(k Key, body []byte) uint32 {
	return crc32.Update(keySeed(k), castagnoli, body)
}

// keySeed hashes k to 32 bits (a multiplicative mix of its two parts).
func keySeed(k Key) uint32 {
	h := (uint64(uint32(k.Cluster))<<32 | uint64(uint32(k.Proc))) * 0x9e3779b97f4a7c15
	return uint32(h>>32) ^ uint32(h)
}

// getAd reads the ad of key k in partition part of the ads bucket b, nil
// if there is none; the key is encoded into scratch.
func getAd(b *bolt.Bucket, part partition, k Key, scratch []byte) (Ad, error) {
	v := b.Get(appendAdKey(scratch[:0], part, k))
	if v == nil {
		return nil, nil
	}
	return openAd(k, v)
}

// openAd returns the stored bytes v of the ad of key k as an Ad, after
// checking its checksum: an error wrapping ErrDamaged if it fails.
func openAd(k Key, v []byte) (Ad, error) {
	if len(v) < 1+adSumLen || v[0] != adFormat || binary.LittleEndian.Uint32(v[1:]) != adSum(k, v[1+adSumLen:]) {
		return nil, fmt.Errorf("%w: the stored ad of %s fails its checksum", ErrDamaged, k)
	}
	return Ad(v), nil
}

// decodeAd copies a stored ad into a MyType and a sorted attribute slice.
func decodeAd(a Ad) (myType string, attrs []Attr, err error) {
	t, table, _, _, err := a.header()
	if err != nil {
		return "", nil, err
	}
	// One string holds every byte so that decoding costs one allocation for
	// the text, whatever the number of attributes.
	all := string(a)
	attrs = make([]Attr, 0, len(table)/4+4)
	for n, v := range a.All() {
		attrs = append(attrs, Attr{Name: substr(all, a, n), Value: substr(all, a, v)})
	}
	if len(attrs) != len(table)/4 {
		return "", nil, errBadAd
	}
	return substr(all, a, t), attrs, nil
}

// substr returns the part of s (a string copy of a) that sub covers, without
// copying. sub must be a two-index reslice of a, so that it shares a's end of
// capacity and cap(a)-cap(sub) is its offset in a.
func substr(s string, a Ad, sub []byte) string {
	if len(sub) == 0 {
		return ""
	}
	off := cap(a) - cap(sub)
	return s[off : off+len(sub)]
}

// compareFold compares a and b with ASCII letters folded to lower case.
func compareFold[T ~string | ~[]byte](a T, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		ca, cb := lower(a[i]), lower(b[i])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether a and b are the same attribute name: equal with
// ASCII letters folded, as the schedd compares names.
func EqualFold[T ~string | ~[]byte](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// IsSecret reports whether name is one of the capabilities the log holds and
// condor_q never shows (FORMAT.md §6). Such attributes are never stored.
func IsSecret[T ~string | ~[]byte](name T) bool {
	switch len(name) {
	case 7:
		return EqualFold(name, "ClaimId")
	case 8:
		return EqualFold(name, "ClaimIds")
	case 10:
		return EqualFold(name, "Capability")
	case 11:
		return EqualFold(name, "ClaimIdList") || EqualFold(name, "TransferKey")
	case 13:
		if EqualFold(name, "ChildClaimIds") {
			return true
		}
	}
	const priv = "_condor_priv"
	return len(name) >= len(priv) && EqualFold(name[:len(priv)], priv)
}
