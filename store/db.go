package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of the layout docs/STORE.md describes. A
// file of another version is refused, never rewritten; one of an older
// version that differs from it only in its indexes can be read without
// them (Options.Older).
const SchemaVersion = "12"

// readsOlder reports whether this qindex reads a file of schema version v,
// an older one, but for its state's indexes: v lays out the ads, the
// position, the job count and the history as SchemaVersion does. A schema
// that changes more than the indexes empties this list.
func readsOlder(v string) bool { return v == "11" }

var (
	bucketMeta          = []byte("meta")
	bucketAds           = []byte("ads")
	bucketPostings      = []byte("postings")
	bucketByOwnerStatus = []byte("by-owner-status")
	bucketByStatus      = []byte("by-status")
	bucketCounts        = []byte("counts")
	bucketStatusCounts  = []byte("status-counts")
	bucketClusterIDOdd  = []byte("cluster-id-odd")
	bucketSchedulerJobs = []byte("scheduler-jobs")
	bucketRunning       = []byte("running")

	stateBuckets = [][]byte{bucketAds, bucketPostings, bucketByOwnerStatus, bucketByStatus, bucketCounts, bucketStatusCounts, bucketClusterIDOdd, bucketSchedulerJobs, bucketRunning}

	keySchema   = []byte("schema")
	keyActive   = []byte("active")
	keyLoading  = []byte("loading")
	keyNext     = []byte("next")
	keyPosition = []byte("position")
	keyJobs     = []byte("jobs")
)

// ErrNotExist is returned by Open, wrapped, when a read-only open names a
// file that does not exist.
var ErrNotExist = fs.ErrNotExist

// ErrLocked is returned by Open, wrapped, when another process holds the
// file and did not let go within Options.Timeout.
var ErrLocked = errors.New("database is locked by another process")

// Options control Open.
type Options struct {
	// ReadOnly opens an existing file for reading only; it is never created.
	ReadOnly bool
	// Timeout bounds the wait for the file lock; 0 waits one second.
	Timeout time.Duration
	// NoSync skips fsync on commit. A crash of the machine (not of the
	// process) may then lose recent commits or leave pages of different
	// commits; use it only for a file that is rebuilt from the log after
	// such a crash (the daemon's marker, cmd/qindex/unsynced.go), and call
	// Sync at the end.
	NoSync bool
	// Mode is the permissions of a file Open creates (0: 0644, readable by
	// every local user, as condor_q's queue is; it holds no secrets).
	Mode fs.FileMode
	// Older lets a ReadOnly open take a file of an older schema version
	// whose indexes alone differ from this one's (readsOlder). Its
	// snapshots have no indexes (Snapshot.Indexed), so every read scans
	// the ads: the daemon answers from such a file while it rebuilds it
	// after an upgrade.
	Older bool
}

// DefaultMode is the permissions Open gives a new file by default.
const DefaultMode fs.FileMode = 0o644

// pageSize is the bbolt page size of new files. Larger pages mean fewer,
// larger writes per commit; see docs/BENCHMARKS.md for the measurements
// behind the choice.
var pageSize = 16384

// DB is an open qindex database.
type DB struct {
	bolt     *bolt.DB
	path     string
	pageSize int
	older    string      // the file's schema version, when Options.Older let an older one in
	pages    *pageSource // nil if the file could not be opened a second time
	// writeCost is what an ad a Writer touched last cost at commit (see
	// batch.learn), kept for the next Writer: a daemon makes one a poll.
	writeCost atomic.Int64
}

// Open opens the qindex database at path, creating it (with o.Mode) unless
// o.ReadOnly. A file that is not a qindex database, or one of another
// schema version, is refused with an error and left untouched.
func Open(path string, o Options) (*DB, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && o.ReadOnly:
		return nil, fmt.Errorf("open db %s: %w (create it with 'qindex ingest')", path, ErrNotExist)
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("open db %s: is a directory", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open db %s: %w", path, err)
	}
	switch {
	case err == nil && fi.Size() == 0 && o.ReadOnly:
		return nil, fmt.Errorf("open db %s: the file is empty, not a qindex database (a creation that was cut short?); remove it, or let 'qindex ingest' or 'qindex serve' create it", path)
	case err == nil && fi.Size() > 0:
		if err := checkMagic(path, fi.Size()); err != nil {
			return nil, err
		}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	mode := o.Mode
	if mode == 0 {
		mode = DefaultMode
	}
	var b *bolt.DB
	err = Guard(func() error {
		var err error
		b, err = bolt.Open(path, mode, &bolt.Options{
			ReadOnly:     o.ReadOnly,
			Timeout:      timeout,
			NoSync:       o.NoSync,
			FreelistType: bolt.FreelistMapType, PageSize: pageSize, InitialMmapSize: 1 << 30,
		})
		return err
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open db %s: %w (is 'qindex serve' or 'qindex ingest' running on it?)", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, ErrDamaged):
		// The first page holds bbolt's magic (checkMagic), so this was a
		// bbolt file: its meta pages or freelist are damaged.
		return nil, fmt.Errorf("open db %s: %w: %v", path, ErrDamaged, err)
	case err != nil:
		return nil, fmt.Errorf("open db %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, pageSize: b.Info().PageSize}
	if f, err := os.Open(path); err == nil { // for prefetch's reads and advice
		db.pages = &pageSource{f: f, pageSize: db.pageSize}
	}
	if err := Guard(func() error { return db.checkSchema(!o.ReadOnly, o.ReadOnly && o.Older) }); err != nil {
		db.Close()
		if !strings.HasPrefix(err.Error(), "open db ") {
			err = fmt.Errorf("open db %s: %w", path, err)
		}
		return nil, err
	}
	return db, nil
}

// checkMagic refuses, before bbolt opens it, a file that does not start
// with a bbolt meta page (bbolt's own errors for such files vary with their
// size and page size), and one shorter than its meta pages say it is (a
// copy cut short), which bbolt would fault on.
func checkMagic(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open db %s: %w", path, err)
	}
	defer f.Close()
	// A page header (16 bytes), then the meta: magic, version, page size,
	// flags, root bucket (16), freelist page, high-water page id, ...
	var meta [64]byte
	if _, err := io.ReadFull(f, meta[:]); err != nil || binary.LittleEndian.Uint32(meta[16:]) != boltMagic {
		return fmt.Errorf("open db %s: not a qindex database (not a bbolt file)", path)
	}
	ps := int64(binary.LittleEndian.Uint32(meta[24:]))
	if ps < 1024 || ps > 1<<20 {
		return fmt.Errorf("open db %s: %w: its first page says pages of %d bytes", path, ErrDamaged, ps)
	}
	pages := binary.LittleEndian.Uint64(meta[56:])
	var meta1 [64]byte
	if _, err := f.ReadAt(meta1[:], ps); err == nil && binary.LittleEndian.Uint32(meta1[16:]) == boltMagic {
		pages = min(pages, binary.LittleEndian.Uint64(meta1[56:])) // the older meta's, so as never to call a whole file short
	}
	if pages <= 1<<40 && size < int64(pages)*ps {
		return fmt.Errorf("open db %s: %w: the file is truncated: %d bytes, where its pages need %d (a copy cut short?)", path, ErrDamaged, size, int64(pages)*ps)
	}
	return nil
}

const boltMagic = 0xED0CDAED

// checkSchema verifies the schema version, taking an older one this qindex
// reads without its indexes if older is set; init creates the metadata of
// an empty file.
func (db *DB) checkSchema(init, older bool) error {
	var empty bool
	err := db.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			k, _ := tx.Cursor().First()
			empty = k == nil
			if !empty {
				return fmt.Errorf("open db %s: not a qindex database (a bbolt file without qindex metadata)", db.path)
			}
			return nil
		}
		switch v := string(meta.Get(keySchema)); {
		case v == SchemaVersion:
		case older && readsOlder(v):
			db.older = v
		default:
			return &SchemaError{Path: db.path, Found: v, Older: readsOlder(v)}
		}
		return nil
	})
	if err != nil || !empty || !init {
		return err
	}
	return db.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return meta.Put(keySchema, []byte(SchemaVersion))
	})
}

// SchemaError is returned by Open for a qindex database of another schema
// version, which this qindex cannot read: one written by an older (or
// newer) qindex. The log it was replayed from can rebuild it.
type SchemaError struct {
	Path  string
	Found string // the file's schema version
	// Older says that Options.Older would open the file: only its
	// indexes differ from this qindex's.
	Older bool
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("open db %s: qindex schema version %q, this qindex reads version %q; 'qindex serve' rebuilds it from the log, or rebuild it with 'qindex ingest' into a new file", e.Path, e.Found, SchemaVersion)
}

// Schema returns the file's schema version: SchemaVersion, or the older
// one Options.Older let in.
func (db *DB) Schema() string {
	if db.older != "" {
		return db.older
	}
	return SchemaVersion
}

// Path returns the file the database was opened from.
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error {
	err := db.bolt.Close() // waits for the read transactions, which prefetch through pages
	if db.pages != nil {
		db.pages.f.Close()
	}
	return err
}

// Sync flushes the file to disk (needed after writes made with NoSync).
func (db *DB) Sync() error { return db.bolt.Sync() }

// View calls fn with a consistent read-only snapshot of the active state.
func (db *DB) View(fn func(*Snapshot) error) error {
	return db.view(func(tx *bolt.Tx) error {
		return fn(newSnapshot(tx, db.pages, db.older))
	})
}

// Target describes where a catch-up starts: the active state, which a
// Writer continues, and whether a reload was left unfinished.
type Target struct {
	// Position is where in the log the active state stands.
	Position Position
	// Exists is false when the database holds no state at all yet.
	Exists bool
	// Reloading is true when a load was begun and never finished (a crash,
	// an error, a cancellation). Its state has no position and cannot be
	// continued; the next NewLoader drops it.
	Reloading bool
}

// Target reports the active state's position and whether a reload was left
// unfinished.
func (db *DB) Target() (Target, error) {
	var t Target
	err := db.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		t.Reloading = meta.Get(keyLoading) != nil
		name := meta.Get(keyActive)
		if name == nil {
			return nil
		}
		st := tx.Bucket(name)
		if st == nil {
			return fmt.Errorf("db %s: state %q named in meta is missing", db.path, name)
		}
		t.Exists = true
		var err error
		t.Position, err = readPosition(st)
		return err
	})
	return t, err
}

// beginReload creates an empty state for a Loader, replacing any unfinished
// one. Readers keep seeing the active state until the loader's last commit
// promotes the new one.
func (db *DB) beginReload() error {
	return db.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if old := meta.Get(keyLoading); old != nil {
			if err := tx.DeleteBucket(old); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return fmt.Errorf("drop unfinished reload %s: %w", old, err)
			}
		}
		var n uint64 = 1
		if v := meta.Get(keyNext); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		name := []byte(fmt.Sprintf("state.%d", n))
		st, err := tx.CreateBucket(name)
		if err != nil {
			return fmt.Errorf("create state %s: %w", name, err)
		}
		for _, b := range stateBuckets {
			if _, err := st.CreateBucket(b); err != nil {
				return fmt.Errorf("create %s/%s: %w", name, b, err)
			}
		}
		if err := meta.Put(keyNext, binary.BigEndian.AppendUint64(nil, n+1)); err != nil {
			return err
		}
		return meta.Put(keyLoading, name)
	})
}

// stateBucket returns the active state, or with loading the one being
// loaded.
func stateBucket(tx *bolt.Tx, loading bool) (*bolt.Bucket, error) {
	meta := tx.Bucket(bucketMeta)
	key, what := keyActive, "active"
	if loading {
		key, what = keyLoading, "loading"
	}
	name := meta.Get(key)
	if name == nil {
		return nil, fmt.Errorf("no %s state", what)
	}
	st := tx.Bucket(name)
	if st == nil {
		return nil, fmt.Errorf("%s state %q named in meta is missing", what, name)
	}
	return st, nil
}

// beginState begins a write transaction on the active state, or with
// loading the one being loaded: what a Writer and a Loader each begin with.
func (db *DB) beginState(loading bool) (*bolt.Tx, *bolt.Bucket, error) {
	tx, err := db.bolt.Begin(true)
	if err != nil {
		return nil, nil, fmt.Errorf("db %s: begin write: %w", db.path, err)
	}
	st, err := stateBucket(tx, loading)
	if err != nil {
		tx.Rollback()
		return nil, nil, fmt.Errorf("db %s: %w", db.path, err)
	}
	return tx, st, nil
}

// promote makes the loading state active and drops the previous active one.
func promote(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	name := meta.Get(keyLoading)
	if name == nil {
		return nil
	}
	name = append([]byte(nil), name...)
	if old := meta.Get(keyActive); old != nil {
		if err := tx.DeleteBucket(old); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return fmt.Errorf("drop replaced state %s: %w", old, err)
		}
	}
	if err := meta.Put(keyActive, name); err != nil {
		return err
	}
	return meta.Delete(keyLoading)
}

// getCount returns the count stored under k in b, 0 if there is none.
func getCount(b *bolt.Bucket, k []byte) (int64, error) {
	v := b.Get(k)
	if v == nil {
		return 0, nil
	}
	return decodeCountValue(k, v)
}

// finishState records, in the transaction that writes a group or the end of
// a load, the state's job count and position, and with promote makes a
// reload's state the active one.
func finishState(tx *bolt.Tx, st *bolt.Bucket, jobs int64, pos Position, promoteIt bool) error {
	if err := st.Put(keyJobs, appendCountValue(nil, keyJobs, jobs)); err != nil {
		return fmt.Errorf("put job count: %w", err)
	}
	pb, err := json.Marshal(pos)
	if err != nil {
		return fmt.Errorf("encode position: %w", err)
	}
	if err := st.Put(keyPosition, pb); err != nil {
		return fmt.Errorf("put position: %w", err)
	}
	if promoteIt {
		return promote(tx)
	}
	return nil
}
