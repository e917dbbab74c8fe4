package store

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Loader builds a new state from a whole log's worth of operations, in two
// passes.
//
// A Writer updates ads where they are, so a long log makes it read, rewrite
// and re-page the same ads again and again. A Loader instead records each
// operation as it comes, sorts the operations by key in runs of bounded
// size (spilled to unlinked temporary files beside the database), and at
// Commit merges the runs, applies each key's operations in log order to an
// empty ad with the same rules as a Writer (see adState), and puts the
// final ads in key order: every page is written once, in order.
//
// A full run is sorted and spilled by a goroutine of the loader's own while
// the caller fills the next one, so the two halves of the memory bound
// alternate between recording and spilling.
//
// The jobs the log destroyed go into the history, which is keyed by when
// they left: Commit meets them by job, sorts them by time in runs of their
// own (departureSort), and appends them once the ads are written.
//
// Nothing a Loader writes to its state is visible to readers, and no
// position is recorded, until the last commit of Commit promotes the
// state; the history, which lies outside the states, shows the departures
// from the commits before (recording one twice is a no-op). A load cut
// short by an error, a cancellation or a crash leaves a state without a
// position, which Target reports as Reloading; the next load starts over.
type Loader struct {
	db         *DB
	maxRecords int // operations in a run before it is spilled
	maxBytes   int // bytes both runs hold; also bounds a commit
	run        *run

	// The spiller goroutine receives full runs on full and hands them back,
	// emptied, on free. It alone touches spills, spillBuf and spillErr
	// until done is closed; failed tells the caller early that it should
	// stop and collect the error.
	free     chan *run
	full     chan *run
	done     chan struct{}
	failed   atomic.Bool
	spills   []*os.File
	spillBuf *bufio.Writer
	spillErr error

	// left sorts the jobs the log saw leave by when they left, for
	// Commit to write the history in that order.
	left departureSort

	stats LoadStats
}

// LoadStats describe the memory a Loader's Commit held, for tests and
// diagnostics: each is bounded by the Limits it was given, whatever the
// size of the log.
type LoadStats struct {
	Runs          int   // sorted runs merged
	ReadBuffers   int   // bytes of the runs' read buffers
	PeakTxPages   int64 // the most bytes bbolt allocated for one transaction's pages
	Transactions  int   // transactions committed
	PairsFlushed  int   // flushes of the queued (Owner, JobStatus) filings
	PeakPairQueue int   // the most bytes those filings held
	Jobs          int64 // jobs loaded
	DepartureRuns int   // sorted runs of the jobs that left merged into the history
}

// Stats returns what the last Commit held.
func (l *Loader) Stats() LoadStats { return l.stats }

// NewLoader begins a reload: it creates an empty state beside the active
// one, dropping any unfinished reload, and returns a loader for it. A run of
// operations is sorted and spilled once it holds l.Records operations or
// l.Bytes bytes; l.Bytes also bounds the ad data of each transaction of
// Commit, so a load holds a small multiple of l.Bytes at most. Zero fields
// take DefaultLimits.
func (db *DB) NewLoader(l Limits) (*Loader, error) {
	l = l.orDefault()
	if err := db.beginReload(); err != nil {
		return nil, fmt.Errorf("db %s: begin a reload: %w", db.path, err)
	}
	ld := &Loader{db: db, maxRecords: l.Records, maxBytes: max(l.Bytes, 2)}
	ld.run = ld.newRun()
	ld.left = departureSort{dir: filepath.Dir(db.path), max: ld.maxBytes / 16}
	return ld, nil
}

// The operations a Loader records.
const (
	loadNewAd byte = iota + 1
	loadDestroyAd
	loadSetAttr
	loadDeleteAttr
	// loadLeave marks, among a cluster ad's operations, the point where one
	// of its jobs (the name: its proc, 8 bytes) was destroyed: the cluster
	// ad as it stands there is what the job's history entry overlays.
	loadLeave
)

// NewAd records the creation of ad k with the given MyType.
func (l *Loader) NewAd(k Key, myType string) error {
	return l.add(k, loadNewAd, []byte(myType), nil)
}

// DestroyAd records the removal of ad k.
func (l *Loader) DestroyAd(k Key) error {
	if k.IsJob() {
		proc := binary.BigEndian.AppendUint64(nil, uint64(k.Proc))
		if err := l.add(k.ClusterKey(), loadLeave, proc, nil); err != nil {
			return err
		}
	}
	return l.add(k, loadDestroyAd, nil, nil)
}

// SetAttr records the setting of attribute name of ad k to the value text.
// Secret attributes are dropped here.
func (l *Loader) SetAttr(k Key, name, value []byte) error {
	if IsSecret(name) {
		return nil
	}
	return l.add(k, loadSetAttr, name, value)
}

// DeleteAttr records the removal of attribute name from ad k.
func (l *Loader) DeleteAttr(k Key, name []byte) error {
	return l.add(k, loadDeleteAttr, name, nil)
}

func (l *Loader) add(k Key, op byte, name, value []byte) error {
	if int64(int32(k.Cluster)) != k.Cluster || int64(int32(k.Proc)) != k.Proc {
		return fmt.Errorf("db %s: key %s out of the 32-bit range of log keys", l.db.path, k)
	}
	l.run.add(keyBits(k), op, name, value)
	if len(l.run.refs) >= l.maxRecords || l.run.size() >= l.maxBytes/2 || len(l.run.chunks) >= maxChunks {
		return l.handOff()
	}
	return nil
}

// newRun returns an empty run with room for the references of a full one
// (a run is spilled at maxBytes/2, each reference counted as 32 bytes): grown
// by doubling, they would copy themselves a few times per run. Memory the
// run does not fill is never touched, so it costs a small load nothing.
func (l *Loader) newRun() *run {
	return &run{refs: make([]runRef, 0, min(l.maxRecords, l.maxBytes/2/32)+1)}
}

// handOff gives the full run to the spiller and takes an empty one.
func (l *Loader) handOff() error {
	if l.failed.Load() {
		return l.stopSpiller()
	}
	if l.full == nil {
		if l.spillErr != nil { // a spiller failed and stopped
			return l.spillErr
		}
		l.free, l.full, l.done = make(chan *run, 2), make(chan *run, 1), make(chan struct{})
		l.free <- l.newRun()
		go l.spiller()
	}
	l.full <- l.run
	l.run = <-l.free
	return nil
}

// stopSpiller waits for the spiller to write every run handed to it.
// The first error it met stays: a load that lost a run cannot finish.
func (l *Loader) stopSpiller() error {
	if l.full != nil {
		close(l.full)
		<-l.done
		l.full, l.free = nil, nil // the spare run's memory goes with free
	}
	return l.spillErr
}

func (l *Loader) spiller() {
	defer close(l.done)
	for r := range l.full {
		if l.spillErr == nil {
			if l.spillErr = l.spill(r); l.spillErr != nil {
				l.failed.Store(true)
			}
		}
		r.reset()
		l.free <- r
	}
}

// spill sorts r and writes it to a temporary file.
func (l *Loader) spill(r *run) error {
	if l.spillBuf == nil {
		l.spillBuf = bufio.NewWriterSize(nil, 1<<20)
	}
	f, err := spillRun(filepath.Dir(l.db.path), r, l.spillBuf)
	if f != nil {
		l.spills = append(l.spills, f)
	}
	if err != nil {
		return fmt.Errorf("db %s: %w", l.db.path, err)
	}
	return nil
}

// Close releases the loader's temporary files and memory. Call it after
// Commit, or instead of it to abandon the load.
func (l *Loader) Close() {
	l.stopSpiller()
	for _, f := range l.spills {
		f.Close()
	}
	l.spills, l.spillBuf, l.run = nil, nil, &run{}
	l.left.close()
}

// Due reports false: a Loader commits once, when its caller has recorded
// the whole log, and bounds its memory itself until then.
func (l *Loader) Due() bool { return false }

// Commit merges the recorded operations into the state and commits it with
// pos, making it the active state. It commits in several transactions to
// bound memory; only the last one makes the state visible. Cancelling ctx
// abandons the load, leaving the active state as it was.
func (l *Loader) Commit(ctx context.Context, pos Position) error {
	if err := l.stopSpiller(); err != nil {
		return err
	}
	var cursors []cursor
	if len(l.spills) > 0 {
		// The last run joins the others on disk, and its memory goes to
		// the merge and the writes.
		if err := l.spill(l.run); err != nil {
			return err
		}
		l.run = &run{}
	} else {
		l.run.sort()
		cursors = append(cursors, &memCursor{run: l.run})
	}
	// The runs' read buffers share an eighth of the memory bound.
	spilled, bufSize, err := readSpilled(l.spills, l.maxBytes/8)
	if err != nil {
		return fmt.Errorf("db %s: %w", l.db.path, err)
	}
	cursors = append(cursors, spilled...)
	l.stats = LoadStats{Runs: len(cursors), ReadBuffers: bufSize * len(l.spills)}
	m := merger{cursors: cursors}
	if err := m.start(); err != nil {
		return fmt.Errorf("db %s: read back a sorted run: %w", l.db.path, err)
	}

	// Two goroutines: this one writes to bbolt what the other merges,
	// applies and encodes, a chunk at a time. Two chunks alternate, so a
	// chunk is reused only after the commit of the transaction that
	// referenced it.
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	free, full := make(chan *loadChunk, 2), make(chan *loadChunk, 1)
	for range 2 { // each at its full size at once: a chunk grown by doubling copies itself
		free <- &loadChunk{buf: make([]byte, 0, l.maxBytes/8+l.maxBytes/64)}
	}
	var produceErr error
	go func() {
		defer close(full)
		produceErr = l.produce(ctx, stop.Done(), &m, free, full)
	}()
	b := loadBatch{db: l.db, ix: &indexer{}, pairs: newPairQueue(), limit: l.maxBytes / 8, stats: &l.stats, created: pos.Generation.Created}
	defer b.rollback()
	var jobs int64
	for c := range full { // until the producer is done, even after an error
		if err == nil {
			if err = b.write(c, &jobs); err != nil {
				cancel()
			}
		}
		c.reset()
		free <- c
	}
	switch {
	case err != nil:
		return err
	case produceErr != nil:
		return produceErr
	}
	if err := b.pairs.flush(&b); err != nil {
		return fmt.Errorf("db %s: index by owner and status: %w", l.db.path, err)
	}
	if err := l.writeDepartures(ctx, &b); err != nil {
		return fmt.Errorf("db %s: history: %w", l.db.path, err)
	}
	if err := b.recordUnobserved(); err != nil {
		return fmt.Errorf("db %s: history: %w", l.db.path, err)
	}
	if err := b.begin(); err != nil {
		return err
	}
	if err := b.ix.flush(); err != nil {
		return fmt.Errorf("db %s: index counts: %w", l.db.path, err)
	}
	l.stats.Jobs = jobs
	if err := finishState(b.tx, b.state, jobs, pos, true); err != nil {
		return fmt.Errorf("db %s: %w", l.db.path, err)
	}
	return b.commit()
}

// produce merges the runs, applies each key's operations, and sends the
// encoded ads and the postings of jobs on full in chunks taken from free,
// until the end, ctx's cancellation or stop's closing.
func (l *Loader) produce(ctx context.Context, stop <-chan struct{}, m *merger, free <-chan *loadChunk, full chan<- *loadChunk) error {
	var (
		c       = <-free
		st      adState
		enc     []byte // the ad of the key at hand, encoded
		posting []byte
		// The last cluster ad met: ads come in key order, so a cluster's
		// ad comes right before its jobs.
		cluster   = int64(-1)
		clusterAd []byte
		// For the history: the last ad a key's operations destroyed, and
		// the cluster of the last cluster ad met.
		gone        bool
		goneType    string
		goneAttrs   []Attr
		histCluster = int64(-1)
		// The cluster ad as each of its jobs left: versions of it, and
		// the version each proc saw (a cluster ad seldom changes, so
		// jobs share versions).
		versions [][]Attr
		leftAt   = make(map[int64]int)
		now      = time.Now().Unix()
		leftAd   []byte // the merged ad of the job at hand that left
	)
	hooks := &applyHooks{
		destroy: func(a *adState) {
			gone, goneType, goneAttrs = true, a.myType, append(goneAttrs[:0], a.sorted()...)
		},
		leave: func(a *adState, proc int64) {
			var cur []Attr
			if a.exists {
				cur = a.sorted()
			}
			if n := len(versions); n == 0 || !slices.Equal(versions[n-1], cur) {
				versions = append(versions, slices.Clone(cur))
			}
			leftAt[proc] = len(versions) - 1
		},
	}
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		key, ops, ok, err := m.next()
		if err != nil {
			return fmt.Errorf("db %s: read back a sorted run: %w", l.db.path, err)
		}
		if !ok {
			break
		}
		k := keyFromBits(key)
		if k.Kind() == KindCluster {
			clear(versions)
			versions = versions[:0]
			clear(leftAt)
		}
		gone = false
		st.apply(ops, hooks)
		switch {
		case k.Kind() == KindCluster:
			histCluster = k.Cluster
		case k.IsJob() && gone:
			var cl []Attr
			if v, ok := leftAt[k.Proc]; ok && histCluster == k.Cluster {
				cl = versions[v]
			}
			lv := newLeaving(leftAd[:0], k, goneType, goneAttrs, cl, now)
			leftAd = lv.ad
			if err := l.left.add(&lv); err != nil {
				return fmt.Errorf("db %s: %w", l.db.path, err)
			}
		}
		if st.exists {
			enc = appendAd(enc[:0], k, st.myType, st.sorted())
			posting, part, m := posting[:0], partMain, marks(0)
			switch {
			case k.Kind() == KindCluster:
				cluster, clusterAd = k.Cluster, append(clusterAd[:0], enc...)
			case k.IsJob():
				j := Job{Key: k, Proc: Ad(enc)}
				if cluster == k.Cluster {
					j.Cluster = Ad(clusterAd)
				}
				posting, part, m = postingOf(posting, j)
			}
			c.add(k, part, enc, posting, m)
		}
		if len(c.buf) >= l.maxBytes/8 {
			var ok bool
			if c, ok = handOff(c, full, free, stop); !ok {
				return context.Canceled
			}
		}
	}
	if len(c.items) > 0 {
		full <- c
	}
	return nil
}

// handOff passes a producer's filled batch b to its writer on full and
// returns an empty one from free; ok is false once stop is closed (the
// writer failed).
func handOff[T any](b T, full chan<- T, free <-chan T, stop <-chan struct{}) (next T, ok bool) {
	full <- b
	select {
	case next = <-free:
		return next, true
	case <-stop:
		return next, false
	}
}

// loadChunk is a batch of encoded ads on their way from a Loader's producer
// to bbolt: for each, its key, its encoding and, for a job, its posting, one
// after the other in buf.
type loadChunk struct {
	buf   []byte
	items []loadItem
}

// loadItem locates one ad in a chunk: its ads bucket key (partition and
// key) at buf[start:start+adKeyLen], the ad up to adEnd, the posting (empty
// for an ad that is not a job) up to end; marks names the job sets a job
// belongs in.
type loadItem struct {
	start, adEnd, end int
	marks             marks
}

func (c *loadChunk) add(k Key, part partition, ad, posting []byte, m marks) {
	start := len(c.buf)
	c.buf = appendAdKey(c.buf, part, k)
	c.buf = append(c.buf, ad...)
	adEnd := len(c.buf)
	c.buf = append(c.buf, posting...)
	c.items = append(c.items, loadItem{start, adEnd, len(c.buf), m})
}

func (c *loadChunk) reset() {
	c.buf, c.items = c.buf[:0], c.items[:0]
}

// applyHooks see what a Loader's apply passes: each ad just before it is
// destroyed, and a cluster ad where one of its jobs left.
type applyHooks struct {
	destroy func(a *adState)
	leave   func(a *adState, proc int64)
}

// apply resets a to a missing ad and applies ops, a key's recorded
// operations in log order (entries as run.add encodes them), to it.
func (a *adState) apply(ops string, h *applyHooks) {
	clear(a.attrs)
	*a = adState{attrs: a.attrs[:0]}
	for len(ops) > 0 {
		op := ops[0]
		var name, value string
		name, ops = readString(ops[1:])
		value, ops = readString(ops)
		switch op {
		case loadNewAd:
			a.newAd(name)
		case loadDestroyAd:
			if a.exists && h != nil {
				h.destroy(a)
			}
			a.destroy()
		case loadLeave:
			if h != nil && len(name) == 8 {
				h.leave(a, int64(binary.BigEndian.Uint64([]byte(name))))
			}
		case loadSetAttr:
			a.set(name, value)
		case loadDeleteAttr:
			a.delete(name)
		}
	}
}

// readString reads a uvarint-prefixed string from s. The input comes from
// the loader's own encoding, so it is well formed.
func readString(s string) (field, rest string) {
	var n uint64
	var shift uint
	i := 0
	for ; ; i++ {
		c := s[i]
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
	}
	return s[i+1 : i+1+int(n)], s[i+1+int(n):]
}

// loadBatch is the write transaction a Loader's Commit fills.
type loadBatch struct {
	db    *DB
	tx    *bolt.Tx
	state *bolt.Bucket
	ads   *bolt.Bucket
	ix    *indexer
	pairs *pairQueue // jobs to file in by-pair, in bulk (see pairQueue)
	arena arena
	order []int32 // the items of a chunk in the order write puts their ads
	limit int     // bytes a by-pair flush may queue, and hold in a transaction
	stats *LoadStats
	// created is the CreationTimestamp of the queue loaded, which names
	// the jobs its history entries record.
	created int64
}

func (b *loadBatch) begin() error {
	if b.tx != nil {
		return nil
	}
	tx, st, err := b.db.beginState(true)
	if err != nil {
		return err
	}
	b.tx, b.state, b.ads = tx, st, st.Bucket(bucketAds)
	// Ads arrive in key order within each partition: fill pages almost
	// full, leaving a little room for the ads to grow as the log goes on.
	b.ads.FillPercent = 0.9
	deltas := b.ix.deltas // count changes accumulate across the load's transactions
	b.ix = newIndexer(st, &b.arena)
	if deltas != nil {
		b.ix.deltas = deltas
	}
	b.ix.pairs = b.pairs
	b.ix.postings.FillPercent = 0.9
	b.ix.fill = 0.9
	return nil
}

// write puts the ads of c, files its jobs and commits. bbolt references
// c's bytes until then.
//
// The ads go in partition by partition. In key order they would land at
// as many points of one node as the chunk has partitions, and bbolt, which
// splits nodes only at commit, would shift the node's tail at every one.
func (b *loadBatch) write(c *loadChunk, jobs *int64) error {
	if err := b.begin(); err != nil {
		return err
	}
	b.order = b.order[:0]
	for i := range c.items {
		b.order = append(b.order, int32(i))
	}
	partOf := func(i int32) byte { return c.buf[c.items[i].start] }
	slices.SortStableFunc(b.order, func(i, j int32) int { return cmp.Compare(partOf(i), partOf(j)) })
	for _, i := range b.order {
		it := c.items[i]
		kb := c.buf[it.start : it.start+adKeyLen]
		if err := b.ads.Put(kb, c.buf[it.start+adKeyLen:it.adEnd]); err != nil {
			return fmt.Errorf("db %s: put %s: %w", b.db.path, keyText(kb[1:]), err)
		}
	}
	// The indexes are keyed by job: they go in key order.
	for _, it := range c.items {
		kb := c.buf[it.start : it.start+adKeyLen]
		if it.end == it.adEnd {
			continue
		}
		k, _ := decodeKey(kb[1:])
		*jobs++
		if err := b.ix.file(k, c.buf[it.adEnd:it.end], it.marks, true); err != nil {
			return fmt.Errorf("db %s: index %s: %w", b.db.path, k, err)
		}
	}
	if b.pairs.size() >= b.limit {
		if err := b.pairs.flush(b); err != nil {
			return fmt.Errorf("db %s: index by owner and status: %w", b.db.path, err)
		}
	}
	if b.tx == nil {
		return nil
	}
	return b.commit()
}

func (b *loadBatch) commit() error {
	err := b.tx.Commit()
	b.stats.PeakTxPages = max(b.stats.PeakTxPages, txPageBytes(b.tx))
	b.stats.Transactions++
	b.tx, b.state, b.ads = nil, nil, nil
	b.arena.reset()
	if err != nil {
		return fmt.Errorf("db %s: commit: %w", b.db.path, err)
	}
	return nil
}

func (b *loadBatch) rollback() {
	if b.tx != nil {
		b.tx.Rollback()
		b.tx = nil
	}
}

// departureSort sorts the jobs a load saw leave by the time they left, in
// runs of bounded size spilled to unlinked files, so that Commit writes
// the history's entries in their own order: appended, each leaf once and
// full. In the order a load meets them (by job) they fell all over the
// history, a leaf each, and a transaction held a page per departure.
type departureSort struct {
	dir    string // where runs are spilled
	max    int    // bytes a run holds in memory
	run    run
	spills []*os.File
	buf    *bufio.Writer
	enc    []byte
}

// add records l. Its ad is copied.
func (d *departureSort) add(l *leaving) error {
	d.enc = appendLeaving(d.enc[:0], l)
	d.run.add(uint64(l.left)^1<<63, 0, d.enc, nil)
	if d.run.size() < d.max && len(d.run.chunks) < maxChunks {
		return nil
	}
	return d.spill()
}

// spill sorts the run in memory and writes it to a file.
func (d *departureSort) spill() error {
	if d.buf == nil {
		d.buf = bufio.NewWriterSize(nil, 256<<10)
	}
	f, err := spillRun(d.dir, &d.run, d.buf)
	if f != nil {
		d.spills = append(d.spills, f)
	}
	d.run.reset()
	return err
}

// cursors returns cursors over the runs, whose read buffers share
// bufBytes. When some were spilled the last one joins them, and its
// memory goes to the writes.
func (d *departureSort) cursors(bufBytes int) ([]cursor, error) {
	var cs []cursor
	if len(d.spills) == 0 {
		d.run.sort()
		cs = append(cs, &memCursor{run: &d.run})
	} else {
		if err := d.spill(); err != nil {
			return nil, err
		}
		d.run = run{}
	}
	spilled, _, err := readSpilled(d.spills, bufBytes)
	return append(cs, spilled...), err
}

func (d *departureSort) close() {
	for _, f := range d.spills {
		f.Close()
	}
	d.spills, d.run = nil, run{}
}

// writeDepartures records the jobs the log saw leave in the history, in
// the order they left. As with the ads, a goroutine merges the sorted runs
// and decodes the departures into batches while this one writes them, a
// transaction each. The chunks and the read buffers of the ads are
// released by then, so a batch may hold a quarter of the memory bound.
func (l *Loader) writeDepartures(ctx context.Context, b *loadBatch) error {
	cursors, err := l.left.cursors(l.maxBytes / 8)
	if err != nil {
		return err
	}
	l.stats.DepartureRuns = len(cursors)
	m := merger{cursors: cursors}
	if err := m.start(); err != nil {
		return fmt.Errorf("read back the departures: %w", err)
	}
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	free, full := make(chan *departures, 2), make(chan *departures, 1)
	free <- &departures{}
	free <- &departures{}
	var readErr error
	go func() {
		defer close(full)
		readErr = l.readDepartures(ctx, stop.Done(), &m, free, full)
	}()
	for d := range full { // until the reader is done, even after an error
		if err == nil {
			if err = b.begin(); err == nil {
				err = recordLeft(b.tx, &b.arena, d.jobs, b.created, time.Now().Unix())
			}
			if err == nil {
				err = b.commit()
			}
			if err != nil {
				cancel()
			}
		}
		d.reset()
		free <- d
	}
	if err != nil {
		return err
	}
	return readErr
}

// readDepartures merges the sorted runs of departures and sends them on
// full in batches taken from free, until the end, ctx's cancellation or
// stop's closing.
func (l *Loader) readDepartures(ctx context.Context, stop <-chan struct{}, m *merger, free <-chan *departures, full chan<- *departures) error {
	batch := <-free
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		_, entries, ok, err := m.next()
		if err != nil {
			return fmt.Errorf("read back the departures: %w", err)
		}
		if !ok {
			break
		}
		for len(entries) > 0 { // the departures of one second, in the order the load met them
			var enc string
			enc, entries = readString(entries[1:]) // an op byte, unused
			_, entries = readString(entries)       // an empty value
			lv, err := readLeaving([]byte(enc))    // a copy, which the batch keeps
			if err != nil {
				return fmt.Errorf("read back the departures: %w", err)
			}
			batch.add(lv, l.db.pageSize)
			if batch.bytes >= l.maxBytes/4 || len(batch.jobs) >= historyBatch {
				var ok bool
				if batch, ok = handOff(batch, full, free, stop); !ok {
					return context.Canceled
				}
			}
		}
	}
	if len(batch.jobs) > 0 {
		full <- batch
	}
	return nil
}
