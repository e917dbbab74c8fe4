package store

import (
	"fmt"
	"slices"
	"strings"
)

// pairQueue holds a Loader's filings in the (Owner, JobStatus) index until
// it is full, then puts them bucket by bucket.
//
// A load files jobs in key order, and consecutive jobs belong to any of
// thousands of (Owner, JobStatus) buckets. Filed as they come, every commit
// would rewrite a leaf of nearly every bucket, and bbolt would hold all of
// those nodes and pages in memory until the commit: at a million jobs, as
// many pages as the ads themselves, twice the time, and a heap that grows
// with the queue. Queued and sorted by bucket, each flush appends to each
// bucket once, in key order.
type pairQueue struct {
	ids   map[string]uint32 // posting -> index in names
	names []string
	items []pairItem // in the order filed, which is key order
}

// pairItem is one job to file under the posting names[pair].
type pairItem struct {
	key  uint64 // keyBits of the job
	pair uint32
}

// pairItemLen is the memory one queued filing takes.
const pairItemLen = 16

// pairPutLen is the memory bbolt holds for each put until the commit: a
// node entry (64 bytes), the key, and a share of the pages written.
const pairPutLen = 128

func newPairQueue() *pairQueue {
	return &pairQueue{ids: make(map[string]uint32)}
}

// add queues job k under posting p; jobs come in key order.
func (q *pairQueue) add(k Key, p []byte) {
	id, ok := q.ids[string(p)]
	if !ok {
		id = uint32(len(q.names))
		q.names = append(q.names, string(p))
		q.ids[q.names[id]] = id
	}
	q.items = append(q.items, pairItem{keyBits(k), id})
}

// size is the memory the queued filings take.
func (q *pairQueue) size() int { return len(q.items) * pairItemLen }

// flush puts the queued filings into their buckets under the load's by-pair
// bucket, a bucket at a time in the order of their names, committing b's
// transaction whenever its puts would hold b.limit bytes, and empties the
// queue.
func (q *pairQueue) flush(b *loadBatch) error {
	if len(q.items) == 0 {
		return nil
	}
	b.stats.PairsFlushed++
	b.stats.PeakPairQueue = max(b.stats.PeakPairQueue, q.size())
	// A counting sort by the rank of each posting's name: stable, so each
	// bucket's jobs stay in key order.
	order := make([]uint32, len(q.names))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(q.names[a], q.names[b]) })
	start := make([]int, len(q.names)+1) // by rank
	rank := make([]uint32, len(q.names)) // by id
	for r, id := range order {
		rank[id] = uint32(r)
	}
	for _, it := range q.items {
		start[rank[it.pair]+1]++
	}
	for r := 1; r < len(start); r++ {
		start[r] += start[r-1]
	}
	sorted := make([]pairItem, len(q.items))
	for _, it := range q.items {
		r := rank[it.pair]
		sorted[start[r]] = it
		start[r]++
	}

	var kb []byte
	puts, perCommit := 0, max(1, b.limit/pairPutLen)
	for i := 0; i < len(sorted); {
		if err := b.begin(); err != nil {
			return err
		}
		id := sorted[i].pair
		p := []byte(q.names[id])
		bucket, err := b.ix.valueBucket(b.ix.byPair, p, true)
		if err != nil {
			return err
		}
		for ; i < len(sorted) && sorted[i].pair == id && puts < perCommit; i++ {
			k := keyFromBits(sorted[i].key)
			kb = appendKey(kb[:0], k)
			if err := bucket.Put(b.arena.keep(kb), nil); err != nil {
				return fmt.Errorf("index %s under %q: %w", k, p, err)
			}
			puts++
		}
		if puts == perCommit {
			if err := b.commit(); err != nil {
				return err
			}
			puts = 0
		}
	}
	q.items = q.items[:0]
	return nil
}
