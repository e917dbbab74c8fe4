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
	err                        error
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
		s.statusCounts, s.oddIDs = s.state.Bucket(bucketStatusCounts), s.state.Bucket(bucketClusterIDOdd)
		s.schedulerJobs = s.state.Bucket(bucketSchedulerJobs)
	}
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
// of one cursor per partition in use, in a heap by key. A cluster's ads
// mostly lie in one partition, so the cursor on top usually stays there
// for the cluster's next ad at the cost of two comparisons.
func (s *Snapshot) entries(from, to Key) iter.Seq[entry] {
	return func(yield func(entry) bool) {
		if s.ads == nil {
			return
		}
		var heads headHeap
		probe := s.ads.Cursor()
		lo := appendAdKey(nil, 0, from)
		for pk, _ := probe.First(); pk != nil; {
			h := &partHead{c: s.ads.Cursor(), part: partition(pk[0])}
			lo[0] = pk[0]
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
		heads.init()
		for len(heads) > 0 {
			h := heads[0]
			if !yield(entry{h.key, h.part, h.v}) {
				return
			}
			kb, v := h.c.Next()
			if err := h.set(kb, v, to); err != nil {
				s.err = err
				return
			}
			if !h.live {
				heads[0] = heads[len(heads)-1]
				heads = heads[:len(heads)-1]
			}
			heads.down(0)
		}
	}
}

// headHeap is a min-heap of live partition heads by key.
type headHeap []*partHead

func (hs headHeap) init() {
	for i := len(hs)/2 - 1; i >= 0; i-- {
		hs.down(i)
	}
}

// down restores the heap order below i after hs[i]'s key grew.
func (hs headHeap) down(i int) {
	for {
		m, l := i, 2*i+1
		if l < len(hs) && hs[l].key.Compare(hs[m].key) < 0 {
			m = l
		}
		if r := l + 1; r < len(hs) && hs[r].key.Compare(hs[m].key) < 0 {
			m = r
		}
		if m == i {
			return
		}
		hs[i], hs[m] = hs[m], hs[i]
		i = m
	}
}

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

// JobKeys yields, in order, the jobs in [from, to], from the postings
// alone: no ad is read.
func (s *Snapshot) JobKeys(from, to Key) iter.Seq[JobRef] {
	return func(yield func(JobRef) bool) {
		if s.postings == nil {
			return
		}
		c := s.postings.Cursor()
		for kb, p := c.Seek(appendKey(nil, from)); kb != nil; kb, p = c.Next() {
			k, err := decodeKey(kb)
			if err != nil {
				s.err = err
				return
			}
			if k.Compare(to) > 0 {
				return
			}
			part, err := postingPartition(p)
			if err != nil {
				s.err = fmt.Errorf("job %s: %w", k, err)
				return
			}
			if !yield(JobRef{Key: k, part: part}) {
				return
			}
		}
	}
}

// OddClusterIDs yields, in key order, the jobs whose effective ClusterId is
// present and is not the integer literal of their key's cluster: the only
// jobs outside cluster n for which ClusterId == n can be true.
func (s *Snapshot) OddClusterIDs() iter.Seq[JobRef] {
	return s.jobSet(bucketClusterIDOdd, s.oddIDs)
}

// SchedulerJobs yields, in key order, the jobs whose effective JobUniverse
// is 7 (scheduler, as DAGMan's) or a value only evaluation can tell: a
// superset of the jobs condor_q's totals leave out.
func (s *Snapshot) SchedulerJobs() iter.Seq[JobRef] {
	return s.jobSet(bucketSchedulerJobs, s.schedulerJobs)
}

// jobSet yields the jobs listed in set, a bucket of job keys, in key order.
// Every job listed has a posting: an entry without one is damage.
func (s *Snapshot) jobSet(name []byte, set *bolt.Bucket) iter.Seq[JobRef] {
	return func(yield func(JobRef) bool) {
		if set == nil || s.postings == nil {
			return
		}
		c := set.Cursor()
		for kb, _ := c.First(); kb != nil; kb, _ = c.Next() {
			k, err := decodeKey(kb)
			if err == nil {
				var part partition
				if part, err = postingPartition(s.postings.Get(kb)); err == nil {
					if !yield(JobRef{Key: k, part: part}) {
						return
					}
					continue
				}
			}
			s.err = fmt.Errorf("%w: %s/ lists %s, which is not a filed job: %v", ErrDamaged, name, keyText(kb), err)
			return
		}
	}
}

// JobsByOwner yields, in key order, the jobs the indexes file under o,
// whatever their JobStatus: a merge of o's (Owner, JobStatus) buckets,
// which counts/ lists side by side.
func (s *Snapshot) JobsByOwner(o IndexedOwner) iter.Seq[JobRef] {
	return func(yield func(JobRef) bool) {
		if s.counts == nil || s.byPair == nil {
			return
		}
		prefix := appendPostingPrefix(nil, o)
		var runs []indexRun
		c := s.counts.Cursor()
		for p, _ := c.Seek(prefix); p != nil && bytes.HasPrefix(p, prefix); p, _ = c.Next() {
			part, err := postingPartition(p)
			if err != nil || len(p) != len(prefix)+statusPartLen {
				s.err = fmt.Errorf("malformed index count key %q", p)
				return
			}
			if b := s.byPair.Bucket(p); b != nil {
				runs = append(runs, indexRun{c: b.Cursor(), part: part})
			}
		}
		s.merge(runs, yield)
	}
}

// JobsFiled yields, in key order, the jobs the indexes file under both o
// and st.
func (s *Snapshot) JobsFiled(o IndexedOwner, st IndexedStatus) iter.Seq[JobRef] {
	return s.indexed(s.byPair, appendPosting(nil, o, st), statusPartition(st))
}

// JobsByStatus yields, in key order, the jobs the by-status index files
// under st.
func (s *Snapshot) JobsByStatus(st IndexedStatus) iter.Seq[JobRef] {
	return s.indexed(s.byStatus, appendStatusPart(nil, st), statusPartition(st))
}

// indexed yields the jobs of the bucket of value under parent, whose ads
// lie in partition part.
func (s *Snapshot) indexed(parent *bolt.Bucket, value []byte, part partition) iter.Seq[JobRef] {
	return func(yield func(JobRef) bool) {
		if parent == nil {
			return
		}
		if b := parent.Bucket(value); b != nil {
			s.merge([]indexRun{{c: b.Cursor(), part: part}}, yield)
		}
	}
}

// indexRun is a cursor over one index bucket, whose jobs all lie in one
// partition.
type indexRun struct {
	c    *bolt.Cursor
	part partition
}

// merge yields, in key order, the jobs of the index buckets that runs
// range over; a job is filed in one bucket of an index, so no key repeats.
// There are as many runs as one Owner has JobStatus values: a few.
func (s *Snapshot) merge(runs []indexRun, yield func(JobRef) bool) {
	heads := make([][]byte, len(runs))
	for i, r := range runs {
		heads[i], _ = r.c.First()
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
		if !yield(JobRef{Key: k, part: runs[m].part}) {
			return
		}
		heads[m], _ = runs[m].c.Next()
	}
}

// Filing is how the indexes file one job: its effective Owner and
// JobStatus as they see them.
type Filing struct {
	JobRef
	Owner  IndexedOwner
	Status IndexedStatus
}

// Filings yields how the indexes file the jobs refs name, which must be
// sorted by key, from their postings alone; refs that name no job are
// skipped. Like JobsAt, it steps through neighbouring keys and seeks
// across gaps.
func (s *Snapshot) Filings(refs []JobRef) iter.Seq[Filing] {
	return func(yield func(Filing) bool) {
		if s.postings == nil {
			return
		}
		w := walker{c: s.postings.Cursor()}
		var target []byte
		for _, r := range refs {
			target = appendKey(target[:0], r.Key)
			p, ok := w.find(target, maxSteps)
			if !ok {
				continue
			}
			f := Filing{JobRef: r}
			op, sp, err := splitPosting(p)
			if err == nil {
				f.Owner, err = decodeOwnerPart(op)
			}
			if err == nil {
				f.Status, err = decodeStatusPart(sp)
			}
			if err != nil {
				s.err = fmt.Errorf("job %s: %w", r.Key, err)
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
// pair that has jobs, in the order of their owner parts.
func (s *Snapshot) Counts() iter.Seq[IndexCount] {
	return s.countsFrom(nil)
}

// OwnerCounts yields the job counts of owner o, one per JobStatus it has
// jobs in: a seek, not a pass over every owner.
func (s *Snapshot) OwnerCounts(o IndexedOwner) iter.Seq[IndexCount] {
	return s.countsFrom(appendPostingPrefix(nil, o))
}

// countsFrom yields the counts whose keys begin with prefix.
func (s *Snapshot) countsFrom(prefix []byte) iter.Seq[IndexCount] {
	return func(yield func(IndexCount) bool) {
		if s.counts == nil {
			return
		}
		c := s.counts.Cursor()
		for kb, v := c.Seek(prefix); kb != nil && bytes.HasPrefix(kb, prefix); kb, v = c.Next() {
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

// StatusCount is the number of jobs filed under one JobStatus, whatever
// their Owner.
type StatusCount struct {
	Status IndexedStatus
	Jobs   int64
}

// StatusCounts yields the job counts per JobStatus, one per status that has
// jobs, literal numbers first and in numeric order: a few entries, however
// many owners the queue has.
func (s *Snapshot) StatusCounts() iter.Seq[StatusCount] {
	return func(yield func(StatusCount) bool) {
		if s.statusCounts == nil {
			return
		}
		c := s.statusCounts.Cursor()
		for kb, v := c.First(); kb != nil; kb, v = c.Next() {
			st, err := decodeStatusPart(kb)
			var n int64
			if err == nil {
				n, err = decodeCountValue(kb, v)
			}
			if err != nil {
				s.err = err
				return
			}
			if !yield(StatusCount{Status: st, Jobs: n}) {
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
	ic.Jobs, err = decodeCountValue(k, v)
	return ic, err
}

// Err returns the first malformed entry met while iterating, if any.
func (s *Snapshot) Err() error { return s.err }

// AllJobs is the key range that holds every job.
var AllJobs = [2]Key{{Cluster: 1, Proc: 0}, {Cluster: 1<<31 - 1, Proc: 1<<31 - 1}}
