package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Writer applies replayed log operations to the target state (see
// DB.Target) and commits them in groups: each Commit is one bbolt
// transaction covering every operation since the previous one.
//
// Operations follow the schedd's own replay rules (FORMAT.md §4), as
// adState describes them; secret attributes (IsSecret) are never stored.
//
// Between commits, touched ads live decoded in memory, so an ad changed by
// many records is read and written once per commit. The Writer counts what
// that holds, and what its commit will take (batch.learn), against its
// Limits, and Due says when to commit.
type Writer struct {
	db       *DB
	tx       *bolt.Tx
	state    *bolt.Bucket
	ads      *bolt.Bucket
	postings *bolt.Bucket

	cache   map[Key]*pendingAd
	lastKey Key        // the key touched last: consecutive records
	last    *pendingAd // usually name the same ad
	batch   batch      // when the pending changes are due

	arena   arena // copies of keys and values handed to bbolt, kept until commit
	scratch []byte
	dirty   []keyedAd
	names   map[string]string // interned attribute names
	leaving []leaving         // jobs destroyed since the last commit, for the history
	stats   WriteStats
}

// WriteStats describe a Writer's commits, for tests and diagnostics.
type WriteStats struct {
	Commits     int   // commits made
	PeakTxPages int64 // the most bytes bbolt allocated for one commit's pages
	AdCost      int   // the memory counted per ad touched, as last learned
}

// Stats returns what the Writer's commits held so far.
func (w *Writer) Stats() WriteStats {
	s := w.stats
	s.AdCost = w.batch.adCost
	return s
}

type keyedAd struct {
	k Key
	p *pendingAd
}

// pendingAd is an ad touched since the last commit.
type pendingAd struct {
	adState
	stored bool      // present in the database when first touched
	part   partition // the partition it is stored in, if stored
	dirty  bool
	// For a cluster ad, what it contributed to how its jobs are filed when
	// first touched: if that changes, every job of the cluster is filed again.
	clusterFiling []byte
}

// NewWriter returns a writer for the target state whose commits are due
// by l (zero fields take DefaultLimits). It holds no transaction until the
// first operation.
func (db *DB) NewWriter(l Limits) *Writer {
	b := batch{limits: l.orDefault(), adCost: int(db.writeCost.Load())}
	if b.adCost == 0 {
		b.adCost = 4 * db.pageSize // until a commit says what it is
	}
	return &Writer{db: db, cache: make(map[Key]*pendingAd), names: make(map[string]string), batch: b}
}

func (w *Writer) begin() error {
	if w.tx != nil {
		return nil
	}
	tx, st, err := w.db.beginState(false)
	if err != nil {
		return err
	}
	w.tx, w.state, w.ads, w.postings = tx, st, st.Bucket(bucketAds), st.Bucket(bucketPostings)
	return nil
}

// touch returns the pending copy of the ad under k, reading it on first use.
func (w *Writer) touch(k Key) (*pendingAd, error) {
	if w.last != nil && w.lastKey == k {
		return w.last, nil
	}
	if p, ok := w.cache[k]; ok {
		w.lastKey, w.last = k, p
		return p, nil
	}
	if err := w.begin(); err != nil {
		return nil, err
	}
	w.batch.touch()
	p := &pendingAd{}
	part, _, err := w.partition(k)
	if err != nil {
		return nil, err
	}
	v, err := getAd(w.ads, part, k, w.scratch)
	if err != nil {
		return nil, fmt.Errorf("db %s: %w", w.db.path, err)
	}
	if v != nil {
		t, attrs, err := decodeAd(v)
		if err != nil {
			return nil, fmt.Errorf("db %s: ad %s: %w", w.db.path, k, err)
		}
		p.stored, p.part, p.exists, p.myType, p.attrs = true, part, true, t, attrs
		// The decoded copy and its encoding at commit; the pages bbolt
		// rewrites are counted per ad touched (batch.learn).
		w.batch.grow(2*len(v) + 32*len(attrs))
	}
	if k.Proc == -1 {
		p.clusterFiling = p.adState.clusterFiling()
	}
	w.cache[k] = p
	w.lastKey, w.last = k, p
	return p, nil
}

// partition returns the partition the ad k is stored in, and, for a job or
// a cluster ad, whether it is stored at all.
func (w *Writer) partition(k Key) (part partition, stored bool, err error) {
	part, stored, err = adPartition(w.postings, k)
	if err != nil {
		err = fmt.Errorf("db %s: %w", w.db.path, err)
	}
	return part, stored, err
}

// NewAd creates the ad k with the given MyType, unless it exists.
func (w *Writer) NewAd(k Key, myType string) error {
	w.batch.op()
	p, err := w.touch(k)
	if err != nil {
		return err
	}
	if p.newAd(myType) {
		p.dirty = true
	}
	return nil
}

// DestroyAd removes the ad k, if there is one. A job's final effective ad
// goes to the history in the same commit.
func (w *Writer) DestroyAd(k Key) error {
	w.batch.op()
	p, err := w.touch(k)
	if err != nil {
		return err
	}
	if p.exists && k.IsJob() {
		c, err := w.touch(k.ClusterKey())
		if err != nil {
			return err
		}
		var cluster []Attr
		if c.exists {
			cluster = c.sorted()
		}
		l := newLeaving(nil, k, p.myType, p.sorted(), cluster, time.Now().Unix())
		w.leaving = append(w.leaving, l)
		w.batch.grow(3 * len(l.ad))
	}
	if p.destroy() {
		p.dirty = true
	}
	return nil
}

// SetAttr sets attribute name of ad k to the value text, unless the ad is
// missing or the attribute secret.
func (w *Writer) SetAttr(k Key, name, value []byte) error {
	w.batch.op()
	if IsSecret(name) {
		return nil
	}
	p, err := w.touch(k)
	if err != nil || !p.exists {
		return err
	}
	p.set(w.intern(name), string(value))
	p.dirty = true
	// The text, its encoding at commit and its share of a page.
	w.batch.grow(3*(len(name)+len(value)) + 32)
	return nil
}

// DeleteAttr removes attribute name from ad k, if it has one.
func (w *Writer) DeleteAttr(k Key, name []byte) error {
	w.batch.op()
	p, err := w.touch(k)
	if err != nil {
		return err
	}
	if p.delete(string(name)) {
		p.dirty = true
	}
	return nil
}

// intern returns name as a string shared by every ad that uses it. Names
// come from a small vocabulary, so this saves an allocation per record; the
// table is bounded against logs that invent names without end.
func (w *Writer) intern(name []byte) string {
	if s, ok := w.names[string(name)]; ok {
		return s
	}
	s := string(name)
	if len(w.names) < 1<<14 {
		w.names[s] = s
	}
	return s
}

// Due reports whether the changes since the last commit have reached a
// limit: the caller commits at the next transaction boundary.
func (w *Writer) Due() bool { return w.batch.due() }

// Commit writes every pending change and pos in one transaction. ctx is
// not consulted: what was applied is committed, in one short transaction.
func (w *Writer) Commit(_ context.Context, pos Position) error {
	if err := w.begin(); err != nil {
		return err
	}
	if err := w.flush(pos); err != nil {
		w.Rollback()
		return err
	}
	err := w.tx.Commit()
	if err == nil {
		pages := txPageBytes(w.tx)
		w.stats.Commits++
		w.stats.PeakTxPages = max(w.stats.PeakTxPages, pages)
		w.batch.learn(pages)
		w.db.writeCost.Store(int64(w.batch.adCost))
	}
	w.reset()
	if err != nil {
		return fmt.Errorf("db %s: commit: %w", w.db.path, err)
	}
	return nil
}

func (w *Writer) flush(pos Position) error {
	w.dirty = w.dirty[:0]
	for k, p := range w.cache {
		if p.dirty {
			w.dirty = append(w.dirty, keyedAd{k, p})
		}
	}
	slices.SortFunc(w.dirty, func(a, b keyedAd) int { return a.k.Compare(b.k) })
	jobs, err := getCount(w.state, keyJobs)
	if err != nil {
		return fmt.Errorf("db %s: %w", w.db.path, err)
	}
	for _, d := range w.dirty {
		k, p := d.k, d.p
		if k.IsJob() {
			// fileJobs writes jobs, once their cluster ads are written
			// and their partitions known.
			if p.exists != p.stored {
				if p.exists {
					jobs++
				} else {
					jobs--
				}
			}
			continue
		}
		if err := w.putAd(k, p); err != nil {
			return fmt.Errorf("db %s: %w", w.db.path, err)
		}
	}
	if err := w.fileJobs(); err != nil {
		return fmt.Errorf("db %s: update indexes: %w", w.db.path, err)
	}
	if err := recordLeft(w.tx, &w.arena, w.leaving, pos.Generation.Created, time.Now().Unix()); err != nil {
		return fmt.Errorf("db %s: history: %w", w.db.path, err)
	}
	if err := finishState(w.tx, w.state, jobs, pos, false); err != nil {
		return fmt.Errorf("db %s: %w", w.db.path, err)
	}
	return nil
}

// putAd writes the ad k, which is not a job, as p says.
func (w *Writer) putAd(k Key, p *pendingAd) error {
	kb := w.arena.keep(appendAdKey(w.scratch[:0], partMain, k))
	if !p.exists {
		if !p.stored {
			return nil
		}
		if err := w.ads.Delete(kb); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
		return nil
	}
	w.scratch = appendAd(w.scratch[:0], k, p.myType, p.sorted())
	if err := w.ads.Put(kb, w.arena.keep(w.scratch)); err != nil {
		return fmt.Errorf("put %s: %w", k, err)
	}
	return nil
}

// fileJobs writes every dirty job and files it again, and with them every
// job of a cluster whose ad changed what its jobs inherit. A job's ad moves
// to another partition when its filing's JobStatus changes.
func (w *Writer) fileJobs() error {
	ix := newIndexer(w.state, &w.arena)
	var keys []Key
	for _, d := range w.dirty {
		switch {
		case d.k.IsJob():
			keys = append(keys, d.k)
		case d.k.Kind() == KindCluster && !bytes.Equal(d.p.clusterFiling, d.p.adState.clusterFiling()):
			c := ix.postings.Cursor()
			for kb, _ := c.Seek(appendKey(nil, Key{Cluster: d.k.Cluster})); kb != nil; kb, _ = c.Next() {
				k, err := decodeKey(kb)
				if err != nil {
					return err
				}
				if k.Cluster != d.k.Cluster {
					break
				}
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, Key.Compare)
	keys = slices.Compact(keys)
	var (
		cluster    Ad
		clusterKey = Key{Cluster: -1}
		posting    []byte
	)
	for _, k := range keys {
		p := w.cache[k]
		from, stored := partition(0), false
		if p != nil {
			from, stored = p.part, p.stored // as touch found it
		} else {
			var err error
			if from, stored, err = w.partition(k); err != nil {
				return err
			}
		}
		var ad []byte
		dirty := p != nil && p.dirty
		switch {
		case dirty && p.exists:
			ad = w.arena.keep(appendAd(w.scratch[:0], k, p.myType, p.sorted()))
		case !dirty && stored:
			// A job of a changed cluster: it may move.
			v, err := getAd(w.ads, from, k, w.scratch)
			if err != nil {
				return fmt.Errorf("db %s: %w", w.db.path, err)
			}
			if v != nil {
				ad = w.arena.keep(v)
			}
		}
		if ad == nil {
			if err := w.deleteJob(from, stored, k); err != nil {
				return err
			}
			if err := ix.file(k, nil, 0, false); err != nil {
				return err
			}
			continue
		}
		if k.ClusterKey() != clusterKey {
			clusterKey = k.ClusterKey()
			part, ok, err := w.partition(clusterKey)
			if err != nil {
				return err
			}
			cluster = nil
			if ok {
				if cluster, err = getAd(w.ads, part, clusterKey, w.scratch); err != nil {
					return fmt.Errorf("db %s: %w", w.db.path, err)
				}
			}
		}
		var (
			to partition
			m  marks
		)
		posting, to, m = postingOf(posting[:0], Job{Key: k, Proc: Ad(ad), Cluster: cluster})
		if to != from {
			if err := w.deleteJob(from, stored, k); err != nil {
				return err
			}
		}
		if dirty || to != from || !stored {
			if err := w.ads.Put(w.arena.keep(appendAdKey(w.scratch[:0], to, k)), ad); err != nil {
				return fmt.Errorf("put %s: %w", k, err)
			}
		}
		if err := ix.file(k, posting, m, false); err != nil {
			return err
		}
	}
	return ix.flush()
}

// deleteJob removes job k's ad from partition part, if it is stored.
func (w *Writer) deleteJob(part partition, stored bool, k Key) error {
	if !stored {
		return nil
	}
	if err := w.ads.Delete(w.arena.keep(appendAdKey(w.scratch[:0], part, k))); err != nil {
		return fmt.Errorf("delete %s: %w", k, err)
	}
	return nil
}

// Rollback discards every pending change.
func (w *Writer) Rollback() {
	if w.tx != nil {
		w.tx.Rollback()
	}
	w.reset()
}

func (w *Writer) reset() {
	w.tx, w.state, w.ads, w.postings = nil, nil, nil, nil
	clear(w.cache)
	w.last = nil
	clear(w.dirty)
	clear(w.leaving)
	w.leaving = w.leaving[:0]
	w.batch.reset()
	w.arena.reset()
}
