package store

// arena holds copies of the keys and values handed to bbolt. bbolt keeps
// references to them until the transaction ends, so everything given to Put
// must stay untouched until then; after a commit the chunks are reused.
type arena struct {
	chunks [][]byte
	cur    int // first chunk that may have room
	size   int // bytes kept since the last reset
}

const arenaChunk = 1 << 20

// keep copies the concatenation of parts into the arena and returns the copy.
func (a *arena) keep(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	for a.cur < len(a.chunks) && cap(a.chunks[a.cur])-len(a.chunks[a.cur]) < n {
		a.cur++
	}
	if a.cur == len(a.chunks) {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, n)))
	}
	c := &a.chunks[a.cur]
	start := len(*c)
	for _, p := range parts {
		*c = append(*c, p...)
	}
	a.size += n
	return (*c)[start:len(*c):len(*c)]
}

// reset makes the arena's memory reusable; copies handed out before must no
// longer be in use. Up to 64 standard chunks are kept for reuse.
func (a *arena) reset() {
	kept := a.chunks[:0]
	for _, c := range a.chunks {
		if cap(c) == arenaChunk && len(kept) < 64 {
			kept = append(kept, c[:0])
		}
	}
	clear(a.chunks[len(kept):])
	a.chunks, a.cur, a.size = kept, 0, 0
}
