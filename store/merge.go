package store

// merge is the one sorted merge in this package: a min-heap over the heads
// of sorted runs, by key and then by run, so that equal keys come out in
// the order of their runs. The caller owns the heads: it reads the least at
// Top, advances that run, and calls Fix. Scans merge the partitions in use,
// an owner's query merges its JobStatus buckets, and a Loader merges its
// sorted runs, dozens of them for a large log: a heap costs O(log k) an
// entry where a linear pass would cost O(k).
type merge[H any] struct {
	heads []H
	live  func(H) bool
	cmp   func(a, b H) int
	heap  []int // indexes of live heads, in heap order
}

// newMerge returns a merge of heads, of which those live reports false
// are already at their end.
func newMerge[H any](heads []H, live func(H) bool, cmp func(a, b H) int) *merge[H] {
	m := &merge[H]{heads: heads, live: live, cmp: cmp}
	for i, h := range heads {
		if live(h) {
			m.heap = append(m.heap, i)
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return m
}

// Top returns the index of the head with the least key, the earliest run on
// a tie, or -1 when every run has ended.
func (m *merge[H]) Top() int {
	if len(m.heap) == 0 {
		return -1
	}
	return m.heap[0]
}

// Fix restores the order after the caller advanced the run at Top, dropping
// it if it has ended.
func (m *merge[H]) Fix() {
	if !m.live(m.heads[m.heap[0]]) {
		last := len(m.heap) - 1
		m.heap[0] = m.heap[last]
		m.heap = m.heap[:last]
	}
	m.down(0)
}

func (m *merge[H]) less(i, j int) bool {
	a, b := m.heap[i], m.heap[j]
	if c := m.cmp(m.heads[a], m.heads[b]); c != 0 {
		return c < 0
	}
	return a < b
}

func (m *merge[H]) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(m.heap) {
			return
		}
		s := l
		if r := l + 1; r < len(m.heap) && m.less(r, l) {
			s = r
		}
		if !m.less(s, i) {
			return
		}
		m.heap[i], m.heap[s] = m.heap[s], m.heap[i]
		i = s
	}
}
