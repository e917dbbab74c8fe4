package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent read-only view of the active state. It is valid
// only inside the View call that made it, as are the Ads it returns.
//
// A Snapshot is not safe for concurrent use.
type Snapshot struct {
	state                              *bolt.Bucket
	ads                                *bolt.Bucket
	postings, byPair, byStatus, counts *bolt.Bucket
	err                                error

	clusterKey Key // the cluster ad JobsAt read last, for the jobs after it
	cluster    Ad
}

func newSnapshot(tx *bolt.Tx) *Snapshot {
	s := &Snapshot{}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return s
	}
	if name := meta.Get(keyActive); name != nil {
		s.state = tx.Bucket(name)
	}
	if s.state != nil {
		s.ads = s.state.Bucket(bucketAds)
		s.postings, s.byPair = s.state.Bucket(bucketPostings), s.state.Bucket(bucketByOwnerStatus)
		s.byStatus, s.counts = s.state.Bucket(bucketByStatus), s.state.Bucket(bucketCounts)
	}
	s.clusterKey = Key{Cluster: -1}
	return s
}

// Loaded reports whether the database holds a complete replay of a log.
func (s *Snapshot) Loaded() bool { return s.ads != nil }

// Position returns where the active state stands in the log.
func (s *Snapshot) Position() (Position, error) {
	if s.state == nil {
		return Position{}, nil
	}
	return readPosition(s.state)
}

// JobCount returns the number of jobs in the queue.
func (s *Snapshot) JobCount() int64 {
	if s.state == nil {
		return 0
	}
	return getUint(s.state, keyJobs)
}

// Ad returns the ad stored under k.
func (s *Snapshot) Ad(k Key) (Ad, bool) {
	if s.ads == nil {
		return nil, false
	}
	v := s.ads.Get(appendKey(make([]byte, 0, keyLen), k))
	return Ad(v), v != nil
}

// Ads yields every stored ad, jobs or not, in key order.
func (s *Snapshot) Ads() iter.Seq2[Key, Ad] {
	return func(yield func(Key, Ad) bool) {
		if s.ads == nil {
			return
		}
		c := s.ads.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			key, err := decodeKey(k)
			if err != nil {
				s.err = err
				continue
			}
			if !yield(key, Ad(v)) {
				return
			}
		}
	}
}

// Jobs yields, in (cluster, proc) order, every job whose key lies in
// [from, to], each joined to its cluster ad. A cursor pass meets each
// cluster ad right before its jobs, so chaining costs no extra lookup except
// when the range starts inside a cluster.
func (s *Snapshot) Jobs(from, to Key) iter.Seq[Job] {
	return func(yield func(Job) bool) {
		if s.ads == nil {
			return
		}
		c := s.ads.Cursor()
		var cluster Ad
		clusterOf := int64(-1 << 62)
		for k, v := c.Seek(appendKey(make([]byte, 0, keyLen), from)); k != nil; k, v = c.Next() {
			key, err := decodeKey(k)
			if err != nil {
				s.err = err
				continue
			}
			if key.Cluster > to.Cluster || key.Cluster == to.Cluster && key.Proc > to.Proc {
				return
			}
			if key.Proc == -1 {
				cluster, clusterOf = Ad(v), key.Cluster
				continue
			}
			if !key.IsJob() {
				continue
			}
			if clusterOf != key.Cluster {
				cluster, _ = s.Ad(key.ClusterKey())
				clusterOf = key.Cluster
			}
			if !yield(Job{Key: key, Proc: Ad(v), Cluster: cluster}) {
				return
			}
		}
	}
}

// JobsAt yields the jobs at keys, which must be sorted, each joined to its
// cluster ad; keys that are not jobs are skipped. One cursor walks forward
// through neighbouring keys (the jobs of a cluster, its cluster ad on the
// way) and seeks only across gaps, which costs less than a lookup per key.
func (s *Snapshot) JobsAt(keys []Key) iter.Seq[Job] {
	return func(yield func(Job) bool) {
		if s.ads == nil {
			return
		}
		w := walker{c: s.ads.Cursor(), pass: s.noteCluster}
		for _, k := range keys {
			if !k.IsJob() {
				continue
			}
			from := k
			if ck := k.ClusterKey(); ck != s.clusterKey && k.Proc < 8 {
				// Across a gap, land on the cluster ad and walk to the
				// job: both usually sit on the same page.
				from = ck
			}
			v, ok := w.find(k, from)
			if !ok {
				continue
			}
			if ck := k.ClusterKey(); ck != s.clusterKey {
				s.clusterKey = ck
				s.cluster, _ = s.Ad(ck)
			}
			if !yield(Job{Key: k, Proc: Ad(v), Cluster: s.cluster}) {
				return
			}
		}
	}
}

// walker finds sorted keys in one bucket with one cursor: it steps forward
// to a key a few entries ahead and seeks only across longer gaps.
type walker struct {
	c      *bolt.Cursor
	at, v  []byte // the entry the cursor is on
	target []byte
	from   []byte
	pass   func(k, v []byte) // if set, sees each entry the cursor lands on
}

// maxSteps is how far ahead walker steps before it seeks instead: a step
// costs a few tens of nanoseconds, a seek a descent of the tree.
const maxSteps = 4

// find moves the cursor to k and returns its value, or false if the bucket
// has no k. Keys must be asked for in increasing order. Across a gap the
// cursor seeks to from (k itself, or a key before it) and steps to k.
func (w *walker) find(k, from Key) ([]byte, bool) {
	w.target = appendKey(w.target[:0], k)
	// Every key between the cursor's last two positions has been seen, so
	// a target the cursor has passed does not exist.
	for steps := 0; w.at != nil && bytes.Compare(w.at, w.target) < 0 && steps < maxSteps; steps++ {
		w.move(w.c.Next())
	}
	if w.at == nil || bytes.Compare(w.at, w.target) < 0 {
		w.from = appendKey(w.from[:0], from)
		w.move(w.c.Seek(w.from))
		for w.at != nil && bytes.Compare(w.at, w.target) < 0 {
			w.move(w.c.Next())
		}
	}
	return w.v, bytes.Equal(w.at, w.target)
}

func (w *walker) move(k, v []byte) {
	w.at, w.v = k, v
	if w.pass != nil {
		w.pass(k, v)
	}
}

// noteCluster remembers a cluster ad the cursor passes, for the jobs after it.
func (s *Snapshot) noteCluster(kb, v []byte) {
	if len(kb) != keyLen {
		return
	}
	if k, err := decodeKey(kb); err == nil && k.Kind() == KindCluster {
		s.clusterKey, s.cluster = k, Ad(v)
	}
}

// JobKeys yields, in order, the keys of the jobs in [from, to], from the
// postings alone: no ad is read.
func (s *Snapshot) JobKeys(from, to Key) iter.Seq[Key] {
	return func(yield func(Key) bool) {
		if s.postings == nil {
			return
		}
		c := s.postings.Cursor()
		for kb, _ := c.Seek(appendKey(nil, from)); kb != nil; kb, _ = c.Next() {
			k, err := decodeKey(kb)
			if err != nil {
				s.err = err
				return
			}
			if compareKeys(k, to) > 0 || !yield(k) {
				return
			}
		}
	}
}

// JobsByOwner yields, in key order, the jobs the indexes file under o,
// whatever their JobStatus: a merge of o's (Owner, JobStatus) buckets,
// which counts/ lists side by side.
func (s *Snapshot) JobsByOwner(o IndexedOwner) iter.Seq[Key] {
	return func(yield func(Key) bool) {
		if s.counts == nil || s.byPair == nil {
			return
		}
		prefix := appendPostingPrefix(nil, o)
		var runs []*bolt.Cursor
		c := s.counts.Cursor()
		for p, _ := c.Seek(prefix); p != nil && bytes.HasPrefix(p, prefix); p, _ = c.Next() {
			if len(p) != len(prefix)+statusPartLen {
				s.err = fmt.Errorf("malformed index count key %q", p)
				return
			}
			if b := s.byPair.Bucket(p); b != nil {
				runs = append(runs, b.Cursor())
			}
		}
		s.merge(runs, yield)
	}
}

// JobsFiled yields, in key order, the jobs the indexes file under both o
// and st.
func (s *Snapshot) JobsFiled(o IndexedOwner, st IndexedStatus) iter.Seq[Key] {
	return s.indexed(s.byPair, appendPosting(nil, o, st))
}

// JobsByStatus yields, in key order, the jobs the by-status index files
// under st.
func (s *Snapshot) JobsByStatus(st IndexedStatus) iter.Seq[Key] {
	return s.indexed(s.byStatus, appendStatusPart(nil, st))
}

func (s *Snapshot) indexed(parent *bolt.Bucket, value []byte) iter.Seq[Key] {
	return func(yield func(Key) bool) {
		if parent == nil {
			return
		}
		if b := parent.Bucket(value); b != nil {
			s.merge([]*bolt.Cursor{b.Cursor()}, yield)
		}
	}
}

// merge yields, in key order, the job keys of the index buckets that runs
// range over; a job is filed in one bucket of an index, so no key repeats.
// There are as many runs as one Owner has JobStatus values: a few.
func (s *Snapshot) merge(runs []*bolt.Cursor, yield func(Key) bool) {
	heads := make([][]byte, len(runs))
	for i, c := range runs {
		heads[i], _ = c.First()
	}
	for {
		m := -1
		for i, h := range heads {
			if h != nil && (m < 0 || bytes.Compare(h, heads[m]) < 0) {
				m = i
			}
		}
		if m < 0 {
			return
		}
		k, err := decodeKey(heads[m])
		if err != nil {
			s.err = err
			return
		}
		if !yield(k) {
			return
		}
		heads[m], _ = runs[m].Next()
	}
}

// Filing is how the indexes file one job: its effective Owner and
// JobStatus as they see them.
type Filing struct {
	Key    Key
	Owner  IndexedOwner
	Status IndexedStatus
}

// Filings yields how the indexes file the jobs at keys, which must be
// sorted, from their postings alone; keys that name no job are skipped.
// Like JobsAt, it steps through neighbouring keys and seeks across gaps.
func (s *Snapshot) Filings(keys []Key) iter.Seq[Filing] {
	return func(yield func(Filing) bool) {
		if s.postings == nil {
			return
		}
		w := walker{c: s.postings.Cursor()}
		for _, k := range keys {
			p, ok := w.find(k, k)
			if !ok {
				continue
			}
			f := Filing{Key: k}
			op, sp, err := splitPosting(p)
			if err == nil {
				f.Owner, err = decodeOwnerPart(op)
			}
			if err == nil {
				f.Status, err = decodeStatusPart(sp)
			}
			if err != nil {
				s.err = fmt.Errorf("job %s: %w", k, err)
				return
			}
			if !yield(f) {
				return
			}
		}
	}
}

// IndexCount is the number of jobs filed under one Owner and one JobStatus.
type IndexCount struct {
	Owner  IndexedOwner
	Status IndexedStatus
	Jobs   int64
}

// Counts yields the job counts the indexes keep, one per (Owner, JobStatus)
// pair that has jobs.
func (s *Snapshot) Counts() iter.Seq[IndexCount] {
	return func(yield func(IndexCount) bool) {
		if s.counts == nil {
			return
		}
		c := s.counts.Cursor()
		for kb, v := c.First(); kb != nil; kb, v = c.Next() {
			ic, err := decodeCount(kb, v)
			if err != nil {
				s.err = err
				return
			}
			if !yield(ic) {
				return
			}
		}
	}
}

func decodeCount(k, v []byte) (IndexCount, error) {
	op, sp, err := splitPosting(k)
	if err != nil {
		return IndexCount{}, err
	}
	var ic IndexCount
	if ic.Owner, err = decodeOwnerPart(op); err != nil {
		return ic, err
	}
	if ic.Status, err = decodeStatusPart(sp); err != nil {
		return ic, err
	}
	if len(v) != 8 {
		return ic, fmt.Errorf("malformed index count %x", v)
	}
	ic.Jobs = int64(binary.BigEndian.Uint64(v))
	return ic, nil
}

// Err returns the first malformed entry met while iterating, if any.
func (s *Snapshot) Err() error { return s.err }

// AllJobs is the key range that holds every job.
var AllJobs = [2]Key{{Cluster: 1, Proc: 0}, {Cluster: 1<<31 - 1, Proc: 1<<31 - 1}}

// Job is a job ad joined to its cluster ad: its attributes are the cluster
// ad's overlaid by its own (FORMAT.md §3).
type Job struct {
	Key     Key
	Proc    Ad
	Cluster Ad // nil when the job's cluster has no cluster ad
}

// Lookup returns the text of attribute name: the job's own, else its
// cluster ad's.
func (j Job) Lookup(name string) ([]byte, bool) {
	if v, ok := j.Proc.Lookup(name); ok {
		return v, true
	}
	if j.Cluster != nil {
		return j.Cluster.Lookup(name)
	}
	return nil, false
}

// All yields the job's chained attributes in folded-name order; where both
// ads have a name, the job's own value wins.
func (j Job) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		nextC, stopC := iter.Pull2(j.Cluster.All())
		defer stopC()
		cn, cv, cok := nextC()
		for pn, pv := range j.Proc.All() {
			for cok && compareFold(cn, string(pn)) < 0 {
				if !yield(cn, cv) {
					return
				}
				cn, cv, cok = nextC()
			}
			if cok && compareFold(cn, string(pn)) == 0 {
				cn, cv, cok = nextC()
			}
			if !yield(pn, pv) {
				return
			}
		}
		for ; cok; cn, cv, cok = nextC() {
			if !yield(cn, cv) {
				return
			}
		}
	}
}
