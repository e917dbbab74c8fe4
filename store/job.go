package store

import "iter"

// Job is a job ad joined to its cluster ad: its attributes are the cluster
// ad's overlaid by its own (FORMAT.md §3).
type Job struct {
	Key     Key
	Proc    Ad
	Cluster Ad        // nil when the job's cluster has no cluster ad
	part    partition // the partition Proc was read from
}

// Lookup returns the text of attribute name: the job's own, else its
// cluster ad's.
func (j Job) Lookup(name string) ([]byte, bool) {
	h := nameHash(name)
	if v, ok := j.Proc.lookup(name, h); ok {
		return v, true
	}
	if j.Cluster != nil {
		return j.Cluster.lookup(name, h)
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

// JobFields reads a fixed set of attributes of one job after another, each
// the job's own value else its cluster ad's, as Lookup does: one pass over
// each job's ad, and one over a cluster ad for all its jobs when they come
// in key order, as a scan yields them.
type JobFields struct {
	names     []string
	clusterOf Key // whose cluster ad cluster holds
	cluster   [][]byte
	proc      [][]byte
}

// NewJobFields returns a JobFields of names, which must be in lower case
// and sorted; Text takes an index into them.
func NewJobFields(names []string) *JobFields {
	return &JobFields{names: names, clusterOf: Key{Cluster: -1}, cluster: make([][]byte, len(names)), proc: make([][]byte, len(names))}
}

// Load reads job's fields. The texts Text returns alias job's ads.
func (f *JobFields) Load(job Job) {
	if ck := job.Key.ClusterKey(); ck != f.clusterOf {
		f.clusterOf = ck
		job.Cluster.LookupSorted(f.names, f.cluster) // a nil ad has none
	}
	job.Proc.LookupSorted(f.names, f.proc)
}

// Text returns the text of field i of the job Load read last.
func (f *JobFields) Text(i int) ([]byte, bool) {
	if v := f.proc[i]; v != nil {
		return v, true
	}
	v := f.cluster[i]
	return v, v != nil
}
