package store

import (
	"bytes"
	"fmt"
	"iter"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent read-only view of the active state. It is valid
// only inside the View call that made it, as are the Ads it returns.
//
// A Snapshot is not safe for concurrent use.
type Snapshot struct {
	state                      *bolt.Bucket
	ads                        *bolt.Bucket
	postings, byPair, byStatus *bolt.Bucket
	counts, statusCounts       *bolt.Bucket
	oddIDs, schedulerJobs      *bolt.Bucket
	running                    *bolt.Bucket
	history                    *bolt.Bucket // nil: no job has left yet
	pages                      *pageSource  // for prefetch; nil: none
	older                      string       // the older schema of a file read without its indexes
	err                        error
}

func newSnapshot(tx *bolt.Tx, pages *pageSource, older string) *Snapshot {
	s := &Snapshot{pages: pages, older: older}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return s
	}
	s.history = tx.Bucket(bucketHistory)
	if name := meta.Get(keyActive); name != nil {
		s.state = tx.Bucket(name)
	}
	if s.state != nil {
		s.ads = s.state.Bucket(bucketAds)
	}
	if s.state != nil && older == "" {
		s.postings, s.byPair = s.state.Bucket(bucketPostings), s.state.Bucket(bucketByOwnerStatus)
		s.byStatus, s.counts = s.state.Bucket(bucketByStatus), s.state.Bucket(bucketCounts)
		s.statusCounts, s.oddIDs = s.state.Bucket(bucketStatusCounts), s.state.Bucket(bucketClusterIDOdd)
		s.schedulerJobs, s.running = s.state.Bucket(bucketSchedulerJobs), s.state.Bucket(bucketRunning)
	}
	return s
}

// Indexed reports whether the snapshot's indexes can be read: false for a
// file of an older schema opened with Options.Older, whose reads must scan
// the ads (a read of its indexes fails).
func (s *Snapshot) Indexed() bool { return s.older == "" }

// noIndexes reports whether the snapshot has no indexes to read, failing
// the read that asks (Err) if so.
func (s *Snapshot) noIndexes() bool {
	if s.older != "" {
		s.err = fmt.Errorf("a read of the indexes of a file of schema %s, which this qindex (schema %s) does not read", s.older, SchemaVersion)
		return true
	}
	return false
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
//
// A count that fails its checksum reads as 0 and sets Err.
func (s *Snapshot) JobCount() int64 {
	if s.state == nil {
		return 0
	}
	n, err := getCount(s.state, keyJobs)
	if err != nil {
		s.err = err
	}
	return n
}

// Ad returns the ad stored under k. A job's ad is found through its
// posting, which says the partition it lies in.
func (s *Snapshot) Ad(k Key) (Ad, bool) {
	if s.ads == nil {
		return nil, false
	}
	if !s.Indexed() && k.IsJob() { // no posting to say where it lies
		for e := range s.entries(k, k) {
			return Ad(e.v), true
		}
		return nil, false
	}
	part, stored, err := adPartition(s.postings, k)
	if err != nil {
		s.err = err
	}
	if !stored {
		return nil, false
	}
	a, err := getAd(s.ads, part, k, make([]byte, 0, adKeyLen))
	if err != nil {
		s.err = err
	}
	return a, a != nil
}

// Ads yields every stored ad, jobs or not, in key order.
func (s *Snapshot) Ads() iter.Seq2[Key, Ad] {
	return func(yield func(Key, Ad) bool) {
		for e := range s.entries(Key{Cluster: -1 << 31, Proc: -1 << 31}, Key{Cluster: 1<<31 - 1, Proc: 1<<31 - 1}) {
			if !yield(e.key, Ad(e.v)) {
				return
			}
		}
	}
}

// Jobs yields, in (cluster, proc) order, every job whose key lies in
// [from, to], each joined to its cluster ad. The merge of the partitions
// meets each cluster ad right before its jobs, so chaining costs no extra
// lookup except when the range starts inside a cluster.
func (s *Snapshot) Jobs(from, to Key) iter.Seq[Job] {
	return func(yield func(Job) bool) {
		var cluster Ad
		clusterOf := int64(-1 << 62)
		for e := range s.entries(from, to) {
			if e.key.Proc == -1 {
				cluster, clusterOf = Ad(e.v), e.key.Cluster
				continue
			}
			if !e.key.IsJob() {
				continue
			}
			if clusterOf != e.key.Cluster {
				cluster, _ = s.Ad(e.key.ClusterKey())
				clusterOf = e.key.Cluster
			}
			if !yield(Job{Key: e.key, Proc: Ad(e.v), Cluster: cluster, part: e.part}) {
				return
			}
		}
	}
}

// entry is one ad of the ads bucket, as entries yields it.
type entry struct {
	key  Key
	part partition
	v    []byte
}

// partHead is one partition's cursor in the merge that entries makes.
type partHead struct {
	c    *bolt.Cursor
	part partition
	key  Key
	v    []byte
	live bool
}

// set takes the entry the cursor landed on, if it is still in the
// partition and no later than to.
func (h *partHead) set(kb, v []byte, to Key) error {
	h.live = false
	if len(kb) < 1 || partition(kb[0]) != h.part {
		return nil
	}
	_, k, err := decodeAdKey(kb)
	if err != nil {
		return err
	}
	if k.Compare(to) > 0 {
		return nil
	}
	if h.v != nil && k.Compare(h.key) <= 0 { // a damaged page, or one from elsewhere
		return fmt.Errorf("%w: stored ads out of order in partition %s: %s after %s", ErrDamaged, h.part, k, h.key)
	}
	if h.v, err = openAd(k, v); err != nil {
		return err
	}
	h.key, h.live = k, true
	return nil
}

// entries yields the ads whose keys lie in [from, to] in key order: a merge
// of one cursor per partition in use.
func (s *Snapshot) entries(from, to Key) iter.Seq[entry] {
	return func(yield func(entry) bool) {
		if s.ads == nil {
			return
		}
		var heads []*partHead
		probe := s.ads.Cursor()
		lo := appendAdKey(nil, 0, from)
		for pk, _ := probe.First(); pk != nil; {
			if len(pk) == 0 { // bbolt never writes one: damage
				s.err = fmt.Errorf("%w: an empty key in the ads bucket", ErrDamaged)
				return
			}
			h := &partHead{c: s.ads.Cursor(), part: partition(pk[0])}
			lo[0] = pk[0]
			if from != to {
				s.pages.prefetch(s.ads, wantRange(lo, appendAdKey(nil, h.part, to)))
			}
			kb, v := h.c.Seek(lo)
			if err := h.set(kb, v, to); err != nil {
				s.err = err
				return
			}
			if h.live {
				heads = append(heads, h)
			}
			if h.part == partOther {
				break
			}
			pk, _ = probe.Seek([]byte{byte(h.part + 1)})
		}
		m := newMerge(heads, (*partHead).isLive, comparePartHeads)
		for i := m.Top(); i >= 0; i = m.Top() {
			h := heads[i]
			if !yield(entry{h.key, h.part, h.v}) {
				return
			}
			kb, v := h.c.Next()
			if err := h.set(kb, v, to); err != nil {
				s.err = err
				return
			}
			m.Fix()
		}
	}
}

func (h *partHead) isLive() bool { return h.live }

func comparePartHeads(a, b *partHead) int { return a.key.Compare(b.key) }

// JobsAt yields the jobs refs name, which must be sorted by key, each
// joined to its cluster ad; refs that are not jobs are skipped. A cursor
// per partition walks forward through neighbouring keys and seeks only
// across gaps, which costs less than a lookup per job. A cluster ad lies
// in partMain with the cluster's idle and running jobs, so there one
// cursor finds both: a cluster ad, then its jobs after it, usually on the
// same page.
func (s *Snapshot) JobsAt(refs []JobRef) iter.Seq[Job] {
	return func(yield func(Job) bool) {
		if s.ads == nil {
			return
		}
		s.prefetchJobs(refs)
		var (
			walkers    [256]walker // by partition
			clusterKey = Key{Cluster: -1}
			cluster    Ad
			target     []byte
		)
		walk := func(p partition) *walker {
			w := &walkers[p]
			if w.c == nil {
				w.c = s.ads.Cursor()
			}
			return w
		}
		for _, r := range refs {
			if !r.Key.IsJob() {
				continue
			}
			w := walk(r.part)
			steps := maxSteps
			if ck := r.Key.ClusterKey(); ck != clusterKey {
				clusterKey = ck
				target = appendAdKey(target[:0], partMain, ck)
				cluster = nil
				if v, ok := walk(partMain).find(target, maxSteps); ok {
					var err error
					if cluster, err = openAd(ck, v); err != nil {
						s.err = err
						return
					}
					if r.part == partMain && r.Key.Proc < maxProcWalk {
						// The cursor is on the cluster ad: walk to the job.
						steps = maxProcWalk
					}
				}
			}
			target = appendAdKey(target[:0], r.part, r.Key)
			v, ok := w.find(target, steps)
			if !ok {
				// The indexes are written with the ads they list.
				s.err = fmt.Errorf("%w: the indexes list job %s, which has no stored ad", ErrDamaged, r.Key)
				return
			}
			job, err := openAd(r.Key, v)
			if err != nil {
				s.err = err
				return
			}
			if !yield(Job{Key: r.Key, Proc: job, Cluster: cluster, part: r.part}) {
				return
			}
		}
	}
}

// walker finds sorted keys in one bucket with one cursor: it steps forward
// to a key a few entries ahead and seeks only across longer gaps.
type walker struct {
	c     *bolt.Cursor
	at, v []byte // the entry the cursor is on
}

// maxSteps is how far ahead walker steps before it seeks instead: a step
// costs a cache miss or two, a seek a descent of the tree. From a cluster
// ad, JobsAt walks as far as maxProcWalk entries to a job of the cluster.
const (
	maxSteps    = 4
	maxProcWalk = 8
)

// find moves the cursor to target and returns its value, or false if the
// bucket has no such key: it takes up to steps steps, else seeks. Keys must
// be asked for in increasing order.
func (w *walker) find(target []byte, steps int) ([]byte, bool) {
	// Every key between the cursor's last two positions has been seen, so
	// a target the cursor has passed does not exist.
	for ; w.at != nil && bytes.Compare(w.at, target) < 0 && steps > 0; steps-- {
		w.at, w.v = w.c.Next()
	}
	if w.at == nil || bytes.Compare(w.at, target) < 0 {
		w.at, w.v = w.c.Seek(target)
	}
	return w.v, bytes.Equal(w.at, target)
}

// Err returns the first malformed entry met while iterating, if any.
func (s *Snapshot) Err() error { return s.err }

// AllJobs is the key range that holds every job.
var AllJobs = [2]Key{{Cluster: 1, Proc: 0}, {Cluster: 1<<31 - 1, Proc: 1<<31 - 1}}
