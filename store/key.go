package store

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Key identifies an ad in the job queue: "<cluster>.<proc>" in the log.
// Keys are numbers, so "01.-1" and "1.-1" are the same key.
type Key struct {
	Cluster int64
	Proc    int64
}

// Kind says what an ad is, from its key alone (FORMAT.md §3).
type Kind uint8

// The kinds of ad a key can name.
const (
	KindOther          Kind = iota // any key that fits no rule below
	KindHeader                     // 0.0: the queue header
	KindOwnerRecord                // 0.n, n >= 1: a user or project record
	KindCluster                    // c.-1: the cluster ad of cluster c
	KindClusterPrivate             // c.-2: a cluster-private ad
	KindJobSet                     // id.-100: a job set ad
	KindJob                        // c.p, c >= 1, p >= 0: a job
)

// Kind returns the kind of ad k names.
func (k Key) Kind() Kind {
	switch {
	case k.Cluster >= 1 && k.Proc >= 0:
		return KindJob
	case k.Cluster == 0 && k.Proc == 0:
		return KindHeader
	case k.Cluster == 0 && k.Proc >= 1:
		return KindOwnerRecord
	case k.Cluster >= 1 && k.Proc == -1:
		return KindCluster
	case k.Cluster >= 1 && k.Proc == -2:
		return KindClusterPrivate
	case k.Proc == -100:
		return KindJobSet
	}
	return KindOther
}

// IsJob reports whether k names a job (cluster >= 1, proc >= 0).
func (k Key) IsJob() bool { return k.Cluster >= 1 && k.Proc >= 0 }

// ClusterKey returns the key of the cluster ad that k's job chains to.
func (k Key) ClusterKey() Key { return Key{Cluster: k.Cluster, Proc: -1} }

// String formats k as condor_q does: "cluster.proc".
func (k Key) String() string {
	return strconv.FormatInt(k.Cluster, 10) + "." + strconv.FormatInt(k.Proc, 10)
}

// ParseKey parses a log key such as "1.0", "01.-1" or "0.0". Leading zeros
// and a minus sign are accepted on both numbers; anything else is an error.
func ParseKey(b []byte) (Key, error) {
	dot := -1
	for i, c := range b {
		if c == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return Key{}, fmt.Errorf("key %q: want <cluster>.<proc>", b)
	}
	c, ok1 := parseInt(b[:dot])
	p, ok2 := parseInt(b[dot+1:])
	if !ok1 || !ok2 {
		return Key{}, fmt.Errorf("key %q: want <cluster>.<proc> with integer parts", b)
	}
	return Key{Cluster: c, Proc: p}, nil
}

// parseInt parses an optionally negative decimal integer that fits in 32
// bits, as the schedd's own key parser (sscanf %d) requires.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > 1<<31 {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 || n < -1<<31 {
		return 0, false
	}
	return n, true
}

// keyLen is the length of an encoded key.
const keyLen = 8

// keyBits returns k's order-preserving encoding, as a number: cluster in
// the high half and proc in the low, each a 32-bit number with its sign
// bit flipped, so that numeric order is (cluster, proc) order. appendKey
// stores it big-endian, so that byte order is that order too; the Loader
// sorts by the number. A cluster ad (c.-1) sorts right before the jobs of
// cluster c.
//
// The log's numbers fit in 32 bits (ParseKey). A number beyond them can
// only come from a query's bounds; it is clamped, which keeps the order.
func keyBits(k Key) uint64 {
	return uint64(clamp32(k.Cluster)^1<<31)<<32 | uint64(clamp32(k.Proc)^1<<31)
}

// keyFromBits is the inverse of keyBits.
func keyFromBits(b uint64) Key {
	return Key{Cluster: int64(int32(uint32(b>>32) ^ 1<<31)), Proc: int64(int32(uint32(b) ^ 1<<31))}
}

// clamp32 returns n clamped to the 32-bit range, as the bits of an int32.
func clamp32(n int64) uint32 {
	return uint32(int32(max(math.MinInt32, min(math.MaxInt32, n))))
}

// appendKey appends k's encoding, keyBits big-endian.
func appendKey(dst []byte, k Key) []byte {
	return binary.BigEndian.AppendUint64(dst, keyBits(k))
}

// decodeKey is the inverse of appendKey.
func decodeKey(b []byte) (Key, error) {
	if len(b) != keyLen {
		return Key{}, fmt.Errorf("stored key of %d bytes, want %d", len(b), keyLen)
	}
	return keyFromBits(binary.BigEndian.Uint64(b)), nil
}

// Compare orders keys as their encodings do, by cluster then proc: -1 if
// k comes before o, 1 after, 0 for the same key.
func (k Key) Compare(o Key) int {
	if c := cmp.Compare(k.Cluster, o.Cluster); c != 0 {
		return c
	}
	return cmp.Compare(k.Proc, o.Proc)
}

// The ads bucket keeps each ad under a partition, a status byte that
// sorts jobs by state, followed by its key. partMain holds every ad that
// is not a job, and the idle and running jobs beside their cluster ads:
// the bulk of any queue, and the statuses jobs move between most often. A
// job in any other state (held, completed, removed, ...) lies under a
// status byte of its JobStatus, so the jobs of an exceptional state sit
// together on a few pages of their own instead of one page per job among
// all the others, and a query for them reads those pages alone.
const (
	partMain  partition = 0    // ads that are not jobs; idle and running jobs
	partOther partition = 0xff // jobs whose JobStatus is missing or not a small integer literal
	adKeyLen            = 1 + keyLen
)

// partition names a range of the ads bucket: the status byte its keys
// begin with.
type partition byte

// String renders p for a report.
func (p partition) String() string { return strconv.Itoa(int(p)) }

// statusPartition returns the partition of a job filed under JobStatus st.
func statusPartition(st IndexedStatus) partition {
	switch {
	case st.Class != ClassLiteral || st.N < 0 || st.N >= int64(partOther)-1:
		return partOther
	case st.N == 1 || st.N == 2: // idle, running
		return partMain
	}
	return partition(st.N + 1)
}

// appendAdKey appends the ads bucket key of the ad k stored in partition p.
func appendAdKey(dst []byte, p partition, k Key) []byte {
	return appendKey(append(dst, byte(p)), k)
}

// decodeAdKey is the inverse of appendAdKey.
func decodeAdKey(b []byte) (partition, Key, error) {
	if len(b) != adKeyLen {
		return 0, Key{}, fmt.Errorf("stored ad key of %d bytes, want %d", len(b), adKeyLen)
	}
	p := partition(b[0])
	k, err := decodeKey(b[1:])
	if err == nil && p != partMain && !k.IsJob() {
		err = fmt.Errorf("ad %s, not a job, stored in partition %s", k, p)
	}
	return p, k, err
}

// JobRef names a job as the indexes list it: its key, and the partition of
// the ads bucket that its filing puts its ad in.
type JobRef struct {
	Key  Key
	part partition
}
