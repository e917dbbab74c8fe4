package store

// least is the one sorted merge in this package: given the heads of a few
// sorted runs, it returns the index of the head with the least key, the
// earliest run on a tie, or -1 when no head is live. The caller yields
// that head and advances its run. Every merge here has few runs (the
// partitions in use, an owner's JobStatus buckets, the Loader's spilled
// runs), so a linear pass costs no more than a heap and keeps no order to
// repair.
func least[H any](heads []H, live func(H) bool, cmp func(a, b H) int) int {
	m := -1
	for i, h := range heads {
		if live(h) && (m < 0 || cmp(h, heads[m]) < 0) {
			m = i
		}
	}
	return m
}
