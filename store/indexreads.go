package store

import (
	"bytes"
	"fmt"
	"iter"

	bolt "go.etcd.io/bbolt"
)

// A Snapshot's reads of the secondary indexes (indexes.go): the jobs filed
// under an Owner, a JobStatus or both, the job sets, the postings and the
// counts. They yield JobRefs, which JobsAt turns into ads.

// JobKeys yields, in order, the jobs in [from, to], from the postings
// alone: no ad is read.
func (s *Snapshot) JobKeys(from, to Key) iter.Seq[JobRef] {
	return func(yield func(JobRef) bool) {
		if s.noIndexes() || s.postings == nil {
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
		if s.noIndexes() || set == nil || s.postings == nil {
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
// which counts/ lists side by side (its running jobs lie in the bucket of
// its idle ones: filedStatus).
func (s *Snapshot) JobsByOwner(o IndexedOwner) iter.Seq[JobRef] {
	return func(yield func(JobRef) bool) {
		if s.noIndexes() || s.counts == nil || s.byPair == nil {
			return
		}
		prefix := appendPostingPrefix(nil, o)
		idle := appendPosting(nil, o, literalStatus(statusIdle))
		running := exactPosting(idle, true)
		var runs []indexRun
		var last []byte
		c := s.counts.Cursor()
		for p, _ := c.Seek(prefix); p != nil && bytes.HasPrefix(p, prefix); p, _ = c.Next() {
			part, err := postingPartition(p)
			if err != nil || len(p) != len(prefix)+statusPartLen {
				s.err = fmt.Errorf("malformed index count key %q", p)
				return
			}
			if bytes.Equal(p, running) {
				p = idle // counted apart, filed together
			}
			if bytes.Equal(p, last) {
				continue
			}
			last = bytes.Clone(p)
			if b := s.byPair.Bucket(p); b != nil {
				s.pages.prefetch(b, wantAll)
				runs = append(runs, indexRun{c: b.Cursor(), part: part})
			}
		}
		s.merge(runs, yield)
	}
}

// JobsFiled yields, in key order, the jobs the indexes file under both o
// and st.
func (s *Snapshot) JobsFiled(o IndexedOwner, st IndexedStatus) iter.Seq[JobRef] {
	jobs := s.indexed(s.byPair, appendPosting(nil, o, filedStatus(st)), statusPartition(st))
	return s.exactly(st, jobs)
}

// JobsByStatus yields, in key order, the jobs the indexes file under st.
func (s *Snapshot) JobsByStatus(st IndexedStatus) iter.Seq[JobRef] {
	if isRunning(st) {
		return s.runningJobs()
	}
	return s.exactly(st, s.indexed(s.byStatus, appendStatusPart(nil, st), statusPartition(st)))
}

// runningJobs yields the jobs running/ lists, in key order.
func (s *Snapshot) runningJobs() iter.Seq[JobRef] {
	return func(yield func(JobRef) bool) {
		if s.noIndexes() || s.running == nil {
			return
		}
		part := statusPartition(literalStatus(statusRunning))
		s.pages.prefetch(s.running, wantAll)
		c := s.running.Cursor()
		for kb, _ := c.First(); kb != nil; kb, _ = c.Next() {
			k, err := decodeKey(kb)
			if err != nil {
				s.err = fmt.Errorf("%w: running/ lists %s: %v", ErrDamaged, keyText(kb), err)
				return
			}
			if !yield(JobRef{Key: k, part: part}) {
				return
			}
		}
	}
}

// exactly keeps, of jobs (in key order) filed under filedStatus(st), those
// whose JobStatus is st: of the idle and running jobs filed together,
// those running/ lists if st is running, the others if it is idle.
func (s *Snapshot) exactly(st IndexedStatus, jobs iter.Seq[JobRef]) iter.Seq[JobRef] {
	if !filedTogether(st) {
		return jobs
	}
	want := isRunning(st)
	return func(yield func(JobRef) bool) {
		if s.noIndexes() || s.running == nil {
			return
		}
		s.pages.prefetch(s.running, wantAll)
		c := s.running.Cursor()
		head, _ := c.First()
		var kb []byte
		for r := range jobs {
			kb = appendKey(kb[:0], r.Key)
			if head != nil && bytes.Compare(head, kb) < 0 {
				head, _ = c.Seek(kb)
			}
			if (head != nil && bytes.Equal(head, kb)) == want && !yield(r) {
				return
			}
		}
	}
}

// indexed yields the jobs of the bucket of value under parent, whose ads
// lie in partition part.
func (s *Snapshot) indexed(parent *bolt.Bucket, value []byte, part partition) iter.Seq[JobRef] {
	return func(yield func(JobRef) bool) {
		if s.noIndexes() || parent == nil {
			return
		}
		if b := parent.Bucket(value); b != nil {
			s.pages.prefetch(b, wantAll)
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
	m := newMerge(heads, func(h []byte) bool { return h != nil }, bytes.Compare)
	for i := m.Top(); i >= 0; i = m.Top() {
		k, err := decodeKey(heads[i])
		if err != nil {
			s.err = err
			return
		}
		if !yield(JobRef{Key: k, part: runs[i].part}) {
			return
		}
		heads[i], _ = runs[i].c.Next()
		m.Fix()
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
		if s.noIndexes() || s.postings == nil {
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
			if err == nil && filedTogether(f.Status) && s.running != nil && contains(s.running, target) {
				f.Status = literalStatus(statusRunning)
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
		if s.noIndexes() || s.counts == nil {
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
		if s.noIndexes() || s.statusCounts == nil {
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
