package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Check recomputes the active state's indexes, counts and job count from its
// ads, and the history's indexes and stats from its entries, and compares
// them with what is stored. It calls report for each
// difference and returns how many there were. Memory stays bounded by the
// number of distinct (Owner, JobStatus) pairs, not by the number of jobs.
func (s *Snapshot) Check(report func(problem string)) (int, error) {
	if s.state == nil {
		return 0, fmt.Errorf("no active state to check")
	}
	if !s.Indexed() {
		return 0, fmt.Errorf("the file has schema %s, whose indexes this qindex (schema %s) does not read: there is nothing to check until 'qindex serve' rebuilds it", s.older, SchemaVersion)
	}
	for _, b := range []*bolt.Bucket{s.ads, s.postings, s.byPair, s.byStatus, s.counts, s.statusCounts, s.oddIDs, s.schedulerJobs, s.running} {
		if b == nil {
			return 0, fmt.Errorf("the active state lacks one of its buckets")
		}
	}
	n := 0
	problem := func(format string, args ...any) {
		n++
		report(fmt.Sprintf(format, args...))
	}

	// Postings against the ads, by a merge of two cursors in key order.
	want := make(map[string]int64) // counts, from the ads
	var jobs int64
	pc := s.postings.Cursor()
	pk, pv := pc.First()
	sets := []*jobSetCheck{
		{name: "cluster-id-odd", mark: markOddID, c: s.oddIDs.Cursor(),
			why: func(j Job) string {
				id, _ := j.Lookup("ClusterId")
				return fmt.Sprintf("ClusterId %s is not its cluster's", id)
			}},
		{name: "scheduler-jobs", mark: markScheduler, c: s.schedulerJobs.Cursor(),
			why: func(j Job) string { u, _ := j.Lookup("JobUniverse"); return fmt.Sprintf("JobUniverse %s may be 7", u) }},
		{name: "running", mark: markRunning, c: s.running.Cursor(),
			why: func(Job) string { return "JobStatus 2" }},
	}
	for _, set := range sets {
		set.k, _ = set.c.First()
	}
	var posting []byte
	last := Key{Cluster: -1}
	for job := range s.Jobs(Key{Cluster: 1, Proc: -1}, AllJobs[1]) {
		if job.Key == last {
			problem("job %s: stored in two partitions", job.Key)
			continue
		}
		last = job.Key
		jobs++
		kb := appendKey(nil, job.Key)
		for pk != nil && bytes.Compare(pk, kb) < 0 {
			problem("posting for %s, which is not a job", keyText(pk))
			pk, pv = pc.Next()
		}
		var (
			part partition
			m    marks
		)
		posting, part, m = postingOf(posting[:0], job)
		for _, set := range sets {
			for set.k != nil && bytes.Compare(set.k, kb) < 0 {
				problem("%s: entry for %s, which is not a job", set.name, keyText(set.k))
				set.k, _ = set.c.Next()
			}
			listed := set.k != nil && bytes.Equal(set.k, kb)
			if listed {
				set.k, _ = set.c.Next()
			}
			switch {
			case listed && m&set.mark == 0:
				problem("job %s: in %s, but does not belong there", job.Key, set.name)
			case !listed && m&set.mark != 0:
				problem("job %s: %s, but the job is missing from %s", job.Key, set.why(job), set.name)
			}
		}
		want[string(exactPosting(posting, m&markRunning != 0))]++
		if part != job.part {
			problem("job %s: stored in partition %s, its filing %s puts it in %s", job.Key, job.part, postingText(posting), part)
		}
		switch {
		case pk == nil || !bytes.Equal(pk, kb):
			problem("job %s: no posting (want %s)", job.Key, postingText(posting))
			continue
		case !bytes.Equal(pv, posting):
			problem("job %s: filed as %s, want %s", job.Key, postingText(pv), postingText(posting))
		}
		pk, pv = pc.Next()
	}
	if s.err != nil {
		return n, s.err
	}
	for ; pk != nil; pk, _ = pc.Next() {
		problem("posting for %s, which is not a job", keyText(pk))
	}
	for _, set := range sets {
		for ; set.k != nil; set.k, _ = set.c.Next() {
			problem("%s: entry for %s, which is not a job", set.name, keyText(set.k))
		}
	}
	switch got, err := getCount(s.state, keyJobs); {
	case err != nil:
		problem("job count: %v", err)
	case got != jobs:
		problem("job count %d, want %d", got, jobs)
	}

	// Index entries against the stored postings, both ways.
	pc = s.postings.Cursor()
	for kb, pv := pc.First(); kb != nil; kb, pv = pc.Next() {
		if _, err := postingPartition(pv); err != nil {
			problem("job %s: %v", keyText(kb), err)
			continue
		}
		_, sp, _ := splitPosting(pv)
		if b := s.byPair.Bucket(pv); b == nil || b.Get(kb) == nil {
			problem("job %s: missing from by-owner-status under %s", keyText(kb), postingText(pv))
		}
		switch b := s.byStatus.Bucket(sp); {
		case b == nil || b.Get(kb) == nil:
			problem("job %s: missing from by-status under %s", keyText(kb), partText(nil, sp))
		case len(b.Get(kb)) != 0:
			problem("job %s: by-status holds %x, want an empty value", keyText(kb), b.Get(kb))
		}
	}
	checkIndex := func(name string, parent *bolt.Bucket, part func(posting []byte) []byte) {
		c := parent.Cursor()
		for value, v := c.First(); value != nil; value, v = c.Next() {
			b := parent.Bucket(value)
			if v != nil || b == nil {
				problem("%s: stray entry %q", name, value)
				continue
			}
			empty := true
			bc := b.Cursor()
			for kb, _ := bc.First(); kb != nil; kb, _ = bc.Next() {
				empty = false
				pv := s.postings.Get(kb)
				switch {
				case pv == nil:
					problem("%s: entry for %s, which has no posting", name, keyText(kb))
				case !bytes.Equal(part(pv), value):
					problem("%s: %s filed under %s, its posting says %s", name, keyText(kb), indexPartText(name, value), postingText(pv))
				}
			}
			if empty {
				problem("%s: empty bucket for %s", name, indexPartText(name, value))
			}
		}
	}
	checkIndex("by-owner-status", s.byPair, func(p []byte) []byte { return p })
	checkIndex("by-status", s.byStatus, func(p []byte) []byte { _, sp, _ := splitPosting(p); return sp })

	// Counts against the ads, and their sums by status against
	// status-counts/.
	wantByStatus := make(map[string]int64)
	for k, w := range want {
		_, sp, _ := splitPosting([]byte(k)) // postingOf made k
		wantByStatus[string(sp)] += w
	}
	compareCounts := func(b *bolt.Bucket, want map[string]int64, text func([]byte) string) {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			got, err := decodeCountValue(k, v)
			if err != nil {
				got = -1
			}
			if w := want[string(k)]; got != w {
				problem("count of %s: %d, want %d", text(k), got, w)
			}
			delete(want, string(k))
		}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			problem("count of %s: missing, want %d", text([]byte(k)), want[k])
		}
	}
	compareCounts(s.counts, want, postingText)
	compareCounts(s.statusCounts, wantByStatus, func(sp []byte) string { return partText(nil, sp) })
	s.checkHistory(problem)
	return n, nil
}

func keyText(kb []byte) string {
	if k, err := decodeKey(kb); err == nil {
		return k.String()
	}
	return fmt.Sprintf("%q", kb)
}

// postingText renders a posting (or a counts/ key) for a report.
func postingText(p []byte) string {
	op, sp, err := splitPosting(p)
	if err != nil {
		return fmt.Sprintf("%q", p)
	}
	return partText(op, sp)
}

func partText(op, sp []byte) string {
	var out []string
	if op != nil {
		if o, err := decodeOwnerPart(op); err == nil {
			out = append(out, "Owner "+o.String())
		} else {
			out = append(out, fmt.Sprintf("%q", op))
		}
	}
	if sp != nil {
		if st, err := decodeStatusPart(sp); err == nil {
			out = append(out, "JobStatus "+st.String())
		} else {
			out = append(out, fmt.Sprintf("%q", sp))
		}
	}
	if len(out) == 2 {
		return out[0] + ", " + out[1]
	}
	return out[0]
}

func indexPartText(index string, part []byte) string {
	if index == "by-owner-status" {
		return postingText(part)
	}
	return partText(nil, part)
}

// jobSetCheck is Check's merge of one job set (cluster-id-odd/,
// scheduler-jobs/, running/) with the jobs, in key order.
type jobSetCheck struct {
	name string
	mark marks
	c    *bolt.Cursor
	k    []byte // the cursor's current key
	why  func(Job) string
}
