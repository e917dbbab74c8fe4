package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// The secondary indexes file every job by its effective Owner and JobStatus:
// its own value, else its cluster ad's (FORMAT.md §3). A value the indexes
// can compare without parsing is filed under itself; anything else under
// ClassOther, which a query must always include, because only evaluating it
// tells what it is. An index narrows a query; it never decides one.
//
// docs/STORE.md lists their buckets.
//
// An owner part is a class byte and, for ClassLiteral, the name folded to
// lower case (ASCII, as ClassAd's == compares strings). A status part is 9
// bytes: a class byte and, for ClassLiteral, the number big-endian with its
// sign bit flipped. A posting is the owner part's length as a uvarint, the
// owner part and the status part. Every job has exactly one posting, one
// by-owner-status and one by-status entry, all written in the transaction
// that writes the job's ads; a value's bucket is dropped with its last job.
//
// The jobs of one Owner are the union of the buckets of its pairs, which
// counts/ lists side by side (a posting begins with its owner part); the
// jobs of one Owner and one JobStatus are a single bucket, so a query on
// both reads no candidate it must then discard.
//
// Idle (1) and running (2) jobs are the exception: they are filed together,
// as idle (filedStatus), and running/ lists the running ones. A job moving
// between the two, the change a queue sees most, then rewrites its ad and
// one entry of running/, not its posting and four index buckets: at a
// million jobs that took the pages each commit writes down by a third.
// Reads stay exact without reading an ad: the running jobs are running/,
// the idle ones their shared bucket less running/, both in key order. The
// counts stay per exact JobStatus: counts/ counts a running job under its
// posting with the status part of 2 (exactPosting).
//
// status-counts/ sums counts/ over owners, so that sizing a JobStatus term
// or the whole queue reads a few entries, not one per pair: a schedd may
// have thousands of owners.
//
// A bucket per value keeps each value's jobs in key order, so a load, which
// streams jobs in key order, only ever appends to them.
//
// A job's key names its cluster, and so does its effective ClusterId (the
// schedd sets it on the cluster ad), so a query on ClusterId == n reads
// cluster n's key range. cluster-id-odd/ lists the jobs for which that
// could be wrong: those whose effective ClusterId is there and is not the
// integer literal of their key's cluster. A log the schedd wrote has none.
//
// scheduler-jobs/ lists the jobs whose effective JobUniverse is the literal
// 7 or a value only evaluation can tell: DAGMan and other scheduler-universe
// jobs, which condor_q's totals leave out. A schedd has few of them, so the
// totals of the whole queue, or of one Owner, are the counts less the few
// of these that evaluation confirms.

// ValueClass says how an index files an effective value.
type ValueClass byte

// The classes of indexed values.
const (
	// ClassLiteral: Owner is a string literal, JobStatus an integer literal.
	ClassLiteral ValueClass = 'l'
	// ClassMissing: neither the job nor its cluster ad has the attribute.
	ClassMissing ValueClass = 'm'
	// ClassOther: any other text (an expression, a real, another type).
	ClassOther ValueClass = 'o'
)

// IndexedOwner is a job's effective Owner as the indexes file it.
type IndexedOwner struct {
	Class ValueClass
	Name  string // for ClassLiteral: the name folded to lower case
}

// IndexedStatus is a job's effective JobStatus as the by-status index files it.
type IndexedStatus struct {
	Class ValueClass
	N     int64 // for ClassLiteral
}

// OwnerValue files an Owner value text (ok false: no such attribute).
func OwnerValue[T ~string | ~[]byte](text T, ok bool) IndexedOwner {
	switch {
	case !ok:
		return IndexedOwner{Class: ClassMissing}
	case LiteralKind(text) == KindString && len(text) <= maxOwnerLen:
		return IndexedOwner{Class: ClassLiteral, Name: FoldName(StringValue(text))}
	}
	return IndexedOwner{Class: ClassOther}
}

// StatusValue files a JobStatus value text (ok false: no such attribute).
func StatusValue[T ~string | ~[]byte](text T, ok bool) IndexedStatus {
	if !ok {
		return IndexedStatus{Class: ClassMissing}
	}
	if n, ok := IntLiteral(text); ok {
		return literalStatus(n)
	}
	return IndexedStatus{Class: ClassOther}
}

// marks says which of the job sets (cluster-id-odd/, scheduler-jobs/,
// running/) a job belongs in.
type marks uint8

const (
	markOddID     marks = 1 << iota // cluster-id-odd/
	markScheduler                   // scheduler-jobs/
	markRunning                     // running/
)

// The JobStatus values the indexes file together.
const (
	statusIdle    = 1
	statusRunning = 2
)

// literalStatus is the filing of the JobStatus integer literal n.
func literalStatus(n int64) IndexedStatus { return IndexedStatus{Class: ClassLiteral, N: n} }

// isRunning reports whether s is the integer literal 2 (running).
func isRunning(s IndexedStatus) bool { return s.Class == ClassLiteral && s.N == statusRunning }

// filedTogether reports whether s is idle or running.
func filedTogether(s IndexedStatus) bool {
	return s.Class == ClassLiteral && (s.N == statusIdle || s.N == statusRunning)
}

// filedStatus is how the indexes file a job whose effective JobStatus is
// s: running as idle, anything else as itself.
func filedStatus(s IndexedStatus) IndexedStatus {
	if isRunning(s) {
		return literalStatus(statusIdle)
	}
	return s
}

// exactPosting returns the posting p (as filed) of a job that runs or not,
// with its exact status: what counts/ counts it under.
func exactPosting(p []byte, running bool) []byte {
	if !running {
		return p
	}
	e := bytes.Clone(p)
	appendStatusPart(e[:len(e)-statusPartLen], literalStatus(statusRunning))
	return e
}

// schedulerUniverse reports whether a job whose effective JobUniverse has
// value text (ok false: none) belongs in scheduler-jobs/: an integer
// literal 7, or anything but an integer literal, which only evaluation can
// tell.
func schedulerUniverse[T ~string | ~[]byte](text T, ok bool) bool {
	if !ok {
		return false
	}
	n, isInt := IntLiteral(text)
	return !isInt || n == SchedulerUniverse
}

// SchedulerUniverse is the JobUniverse of DAGMan and other jobs the schedd
// runs itself.
const SchedulerUniverse = 7

// oddClusterID reports whether a job of cluster c whose effective
// ClusterId has value text (ok false: none) belongs in cluster-id-odd/: a
// missing ClusterId equals no number, so only a present one that is not c
// can make ClusterId == n true outside cluster n.
func oddClusterID[T ~string | ~[]byte](c int64, text T, ok bool) bool {
	if !ok {
		return false
	}
	n, isInt := IntLiteral(text)
	return !isInt || n != c
}

// FoldName folds ASCII letters to lower case, as names and ClassAd string
// equality compare.
func FoldName(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lower(b[j])
			}
			return string(b)
		}
	}
	return s
}

func (o IndexedOwner) String() string {
	switch o.Class {
	case ClassLiteral:
		return strconv.Quote(o.Name)
	case ClassMissing:
		return "(no Owner)"
	}
	return "(Owner not a string literal)"
}

func (s IndexedStatus) String() string {
	switch s.Class {
	case ClassLiteral:
		return strconv.FormatInt(s.N, 10)
	case ClassMissing:
		return "(no JobStatus)"
	}
	return "(JobStatus not an integer literal)"
}

const statusPartLen = 9

// maxOwnerLen bounds the names filed as literals: an index bucket's name
// must stay well under bbolt's key size limit.
const maxOwnerLen = 1024

func appendOwnerPart(dst []byte, o IndexedOwner) []byte {
	dst = append(dst, byte(o.Class))
	return append(dst, o.Name...)
}

func appendStatusPart(dst []byte, s IndexedStatus) []byte {
	dst = append(dst, byte(s.Class))
	var n uint64
	if s.Class == ClassLiteral {
		n = uint64(s.N) ^ 1<<63
	}
	return binary.BigEndian.AppendUint64(dst, n)
}

// appendPosting appends the posting of a job filed under o and s.
func appendPosting(dst []byte, o IndexedOwner, s IndexedStatus) []byte {
	return appendStatusPart(appendPostingPrefix(dst, o), s)
}

// appendPostingPrefix appends what every posting of a job filed under o
// begins with: the owner part's length and the owner part.
func appendPostingPrefix(dst []byte, o IndexedOwner) []byte {
	dst = binary.AppendUvarint(dst, uint64(1+len(o.Name)))
	return appendOwnerPart(dst, o)
}

// splitPosting returns the owner part and the status part of a posting.
func splitPosting(p []byte) (owner, status []byte, err error) {
	n, w := binary.Uvarint(p)
	if w <= 0 || n == 0 || n > uint64(len(p)) || uint64(len(p)-w) != n+statusPartLen {
		return nil, nil, fmt.Errorf("malformed index posting %q", p)
	}
	return p[w : w+int(n) : w+int(n)], p[w+int(n):], nil
}

func decodeOwnerPart(b []byte) (IndexedOwner, error) {
	if err := checkOwnerPart(b); err != nil {
		return IndexedOwner{}, err
	}
	return IndexedOwner{Class: ValueClass(b[0]), Name: string(b[1:])}, nil
}

// checkOwnerPart reports whether b is a well-formed owner part, without
// copying the name out.
func checkOwnerPart(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("malformed owner index key %q", b)
	}
	if c := ValueClass(b[0]); c != ClassLiteral && (c != ClassMissing && c != ClassOther || len(b) > 1) {
		return fmt.Errorf("malformed owner index key %q", b)
	}
	return nil
}

func decodeStatusPart(b []byte) (IndexedStatus, error) {
	if len(b) != statusPartLen {
		return IndexedStatus{}, fmt.Errorf("malformed status index key %q", b)
	}
	s := IndexedStatus{Class: ValueClass(b[0])}
	n := binary.BigEndian.Uint64(b[1:])
	switch s.Class {
	case ClassLiteral:
		s.N = int64(n ^ 1<<63)
	case ClassMissing, ClassOther:
		if n != 0 {
			return IndexedStatus{}, fmt.Errorf("malformed status index key %q", b)
		}
	default:
		return IndexedStatus{}, fmt.Errorf("malformed status index key %q", b)
	}
	return s, nil
}

// postingOf files job j: it appends j's posting to dst and returns the
// partition the posting puts its ad in, and the job sets j belongs in.
func postingOf(dst []byte, j Job) (posting []byte, part partition, m marks) {
	o, ok := j.Lookup("Owner")
	owner := OwnerValue(o, ok)
	st, ok := j.Lookup("JobStatus")
	status := StatusValue(st, ok)
	if id, ok := j.Lookup("ClusterId"); oddClusterID(j.Key.Cluster, id, ok) {
		m |= markOddID
	}
	if u, ok := j.Lookup("JobUniverse"); schedulerUniverse(u, ok) {
		m |= markScheduler
	}
	if isRunning(status) {
		m |= markRunning
	}
	return appendPosting(dst, owner, filedStatus(status)), statusPartition(status), m
}

// clusterFiling is what a cluster ad contributes to how its jobs are
// filed: the posting of a job with no attributes of its own, then the
// cluster's ClusterId and JobUniverse. Only compared, never stored.
func (a *adState) clusterFiling() []byte {
	if !a.exists {
		return appendPosting(nil, IndexedOwner{Class: ClassMissing}, IndexedStatus{Class: ClassMissing})
	}
	o, ook := a.lookup("Owner")
	st, sok := a.lookup("JobStatus")
	p := appendPosting(nil, OwnerValue(o, ook), StatusValue(st, sok))
	for _, name := range []string{"ClusterId", "JobUniverse"} {
		p = append(p, '|')
		if v, ok := a.lookup(name); ok {
			p = append(append(p, '='), v...)
		}
	}
	return p
}

// indexer keeps the indexes of one write transaction.
type indexer struct {
	postings, byPair, byStatus *bolt.Bucket
	counts, statusCounts       *bolt.Bucket
	oddIDs, schedulerJobs      *bolt.Bucket
	running                    *bolt.Bucket
	arena                      *arena
	subs                       map[string]*bolt.Bucket // value buckets opened in this transaction
	fill                       float64                 // FillPercent of the value buckets (0: bbolt's default)
	deltas                     map[string]int64        // counts/ changes by posting, applied by flush
	pairs                      *pairQueue              // a Loader's: new jobs' by-pair filings, put later
	buf                        []byte
}

func newIndexer(st *bolt.Bucket, a *arena) *indexer {
	return &indexer{
		postings: st.Bucket(bucketPostings), byPair: st.Bucket(bucketByOwnerStatus),
		byStatus: st.Bucket(bucketByStatus), counts: st.Bucket(bucketCounts),
		statusCounts: st.Bucket(bucketStatusCounts), oddIDs: st.Bucket(bucketClusterIDOdd),
		schedulerJobs: st.Bucket(bucketSchedulerJobs), running: st.Bucket(bucketRunning), arena: a, subs: make(map[string]*bolt.Bucket), deltas: make(map[string]int64),
	}
}

// file files job k under posting p (nil: the job is gone), and in the job
// sets m names, replacing how it was filed before. fresh says the state is
// being loaded, so the job was not filed yet.
func (ix *indexer) file(k Key, p []byte, m marks, fresh bool) error {
	kb := appendKey(ix.buf[:0], k)
	ix.buf = kb
	wasRunning := !fresh && contains(ix.running, kb)
	for _, set := range []struct {
		mark marks
		b    *bolt.Bucket
	}{{markOddID, ix.oddIDs}, {markScheduler, ix.schedulerJobs}} {
		switch {
		case m&set.mark != 0:
			if err := set.b.Put(ix.arena.keep(kb), nil); err != nil {
				return err
			}
		case !fresh:
			if err := set.b.Delete(kb); err != nil {
				return err
			}
		}
	}
	running := m&markRunning != 0
	switch {
	case running && !wasRunning:
		if err := ix.running.Put(ix.arena.keep(kb), nil); err != nil {
			return err
		}
	case !running && wasRunning:
		if err := ix.running.Delete(kb); err != nil {
			return err
		}
	}
	if !fresh {
		old := ix.postings.Get(kb)
		if bytes.Equal(old, p) && (old == nil) == (p == nil) {
			if p != nil && running != wasRunning {
				ix.deltas[string(exactPosting(old, wasRunning))]--
				ix.deltas[string(exactPosting(p, running))]++
			}
			return nil
		}
		if old != nil {
			old = bytes.Clone(old)
			_, sp, err := splitPosting(old)
			if err != nil {
				return fmt.Errorf("job %s: %w", k, err)
			}
			if err := ix.unfile(ix.byPair, old, kb); err != nil {
				return err
			}
			if err := ix.unfile(ix.byStatus, sp, kb); err != nil {
				return err
			}
			ix.deltas[string(exactPosting(old, wasRunning))]--
		}
		if p == nil {
			return ix.postings.Delete(kb)
		}
	}
	_, sp, err := splitPosting(p)
	if err != nil {
		return fmt.Errorf("job %s: %w", k, err)
	}
	key := ix.arena.keep(kb)
	if err := ix.postings.Put(key, ix.arena.keep(p)); err != nil {
		return err
	}
	if ix.pairs != nil {
		ix.pairs.add(k, p)
	} else if err := ix.put(ix.byPair, p, key); err != nil {
		return err
	}
	if err := ix.put(ix.byStatus, sp, key); err != nil {
		return err
	}
	ix.deltas[string(exactPosting(p, running))]++
	return nil
}

// contains reports whether b holds the key k. Unlike b.Get(k) != nil, it
// holds for a key Put with a nil value in this transaction too.
func contains(b *bolt.Bucket, k []byte) bool {
	got, _ := b.Cursor().Seek(k)
	return bytes.Equal(got, k)
}

// put files the job kb in the bucket of value under parent.
func (ix *indexer) put(parent *bolt.Bucket, value, kb []byte) error {
	b, err := ix.valueBucket(parent, value, true)
	if err != nil {
		return err
	}
	return b.Put(kb, nil)
}

// unfile removes job kb from the bucket of value under parent, and drops
// the bucket if it was the value's last job.
func (ix *indexer) unfile(parent *bolt.Bucket, value, kb []byte) error {
	b, err := ix.valueBucket(parent, value, false)
	if err != nil || b == nil {
		return err
	}
	if err := b.Delete(kb); err != nil {
		return err
	}
	if k, _ := b.Cursor().First(); k == nil {
		delete(ix.subs, subKey(parent == ix.byPair, value))
		return parent.DeleteBucket(value)
	}
	return nil
}

// valueBucket returns the bucket of value under parent, creating it if
// create is set (else nil when it does not exist).
func (ix *indexer) valueBucket(parent *bolt.Bucket, value []byte, create bool) (*bolt.Bucket, error) {
	sk := subKey(parent == ix.byPair, value)
	if b, ok := ix.subs[sk]; ok {
		return b, nil
	}
	b := parent.Bucket(value)
	if b == nil {
		if !create {
			return nil, nil
		}
		var err error
		if b, err = parent.CreateBucket(value); err != nil {
			return nil, fmt.Errorf("create index bucket %q: %w", value, err)
		}
	}
	if ix.fill > 0 {
		b.FillPercent = ix.fill
	}
	ix.subs[sk] = b
	return b, nil
}

func subKey(pair bool, value []byte) string {
	if pair {
		return "p" + string(value)
	}
	return "s" + string(value)
}

// flush applies the count changes to counts/ and, summed by status, to
// status-counts/.
func (ix *indexer) flush() error {
	byStatus := make(map[string]int64)
	for k, d := range ix.deltas {
		if d == 0 {
			continue
		}
		if err := ix.addCount(ix.counts, k, d); err != nil {
			return err
		}
		_, sp, err := splitPosting([]byte(k))
		if err != nil {
			return fmt.Errorf("index count of %q: %w", k, err)
		}
		byStatus[string(sp)] += d
	}
	for k, d := range byStatus {
		if d == 0 {
			continue
		}
		if err := ix.addCount(ix.statusCounts, k, d); err != nil {
			return err
		}
	}
	clear(ix.deltas)
	return nil
}

// addCount adds d to the count under k in b, deleting a count that drops to
// zero.
func (ix *indexer) addCount(b *bolt.Bucket, k string, d int64) error {
	kb := ix.arena.keep([]byte(k))
	n := int64(0)
	if v := b.Get(kb); v != nil {
		var err error
		if n, err = decodeCountValue(kb, v); err != nil {
			return err
		}
	}
	n += d
	switch {
	case n < 0:
		return fmt.Errorf("index count of %q would be %d", k, n)
	case n == 0:
		return b.Delete(kb)
	}
	return b.Put(kb, ix.arena.keep(appendCountValue(nil, kb, n)))
}

// A count (counts/, status-counts/, a state's job count) is stored as a
// uint64 big-endian and a CRC-32C of its key and those 8 bytes: a count
// that a damaged page changed is an error, never a wrong total.
const countLen = 8 + 4

// appendCountValue appends the stored form of the count n under key.
func appendCountValue(dst, key []byte, n int64) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	sum := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, dst[start:])
	return binary.BigEndian.AppendUint32(dst, sum)
}

// decodeCountValue returns the count stored as v under key, or an error
// wrapping ErrDamaged.
func decodeCountValue(key, v []byte) (int64, error) {
	if len(v) != countLen || binary.BigEndian.Uint32(v[8:]) != crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, v[:8]) {
		return 0, fmt.Errorf("%w: the count under %q fails its checksum", ErrDamaged, key)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// postingPartition returns the partition of the ads bucket that holds the
// ad of a job filed under posting p.
func postingPartition(p []byte) (partition, error) {
	op, sp, err := splitPosting(p)
	if err != nil {
		return 0, err
	}
	if err := checkOwnerPart(op); err != nil {
		return 0, err
	}
	st, err := decodeStatusPart(sp)
	if err != nil {
		return 0, err
	}
	return statusPartition(st), nil
}

// adPartition returns the partition the ad k lies in, and whether it may
// be stored: a job is stored only if it has a posting in postings, which
// names its partition; every other ad lies in partMain.
func adPartition(postings *bolt.Bucket, k Key) (part partition, stored bool, err error) {
	if !k.IsJob() {
		return partMain, true, nil
	}
	p := postings.Get(appendKey(make([]byte, 0, keyLen), k))
	if p == nil {
		return 0, false, nil
	}
	if part, err = postingPartition(p); err != nil {
		return 0, false, fmt.Errorf("job %s: %w", k, err)
	}
	return part, true, nil
}
