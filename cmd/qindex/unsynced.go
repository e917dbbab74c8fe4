package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/qindex/qindex/store"
)

// The daemon commits without fsync: the database is derived from the log,
// which the schedd syncs, and a sync per commit made a daemon following a
// 1 MB/s log on a million-job queue write 140 MB/s to its disk (each
// change rewrites a page of each bucket it touches; docs/BENCHMARKS.md).
// The kernel writes the pages back in its own time. A killed daemon loses
// nothing (its writes are in the page cache); a machine that stops before
// they reach the disk can leave a file whose pages come from different
// commits, which nothing could tell from a sound one. So while it runs,
// the daemon keeps a marker beside the file (FILE.unsynced: its pid and
// the machine's boot id, written and synced before its first commit); a
// clean stop syncs the file and removes the marker, and a daemon that
// finds a marker from another boot rebuilds the file from the log.

// unsynced is the content of the marker.
type unsynced struct {
	PID   int       `json:"pid"`
	Boot  string    `json:"boot"` // the machine's boot id at the time
	Since time.Time `json:"since"`
}

// unsyncedPath is where the marker of the database at db lies.
func unsyncedPath(db string) string { return db + ".unsynced" }

// openUnsynced opens the database at path as the daemon does: commits are
// not synced.
func openUnsynced(path string, acc access) (*store.DB, error) {
	return store.Open(path, store.Options{Mode: acc.fileMode(), NoSync: true})
}

// markUnsynced writes the marker of the database at db, durably (the file
// and its directory synced), before the daemon's first commit.
func markUnsynced(db string, u unsynced) error {
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	path := unsyncedPath(db)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("mark %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mark %s: %w", path, err)
	}
	return nil
}

// lastUnsynced reads the marker of the database at db, if there is one. A
// marker that cannot be read says that the previous daemon's writes may
// not be on disk, from an unknown boot.
// It reads maxMarker bytes at most: the file is untrusted, and a marker is
// a hundred.
func lastUnsynced(db string) (u unsynced, found bool) {
	f, err := os.Open(unsyncedPath(db))
	if errors.Is(err, fs.ErrNotExist) {
		return u, false
	}
	if err != nil {
		return unsynced{}, true
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMarker+1))
	if err != nil || len(b) > maxMarker || json.Unmarshal(b, &u) != nil {
		return unsynced{}, true
	}
	return u, true
}

// maxMarker is the most bytes lastUnsynced reads of a marker.
const maxMarker = 4096

// clearUnsynced syncs db and then removes its marker, at a clean stop.
func clearUnsynced(db *store.DB, path string) error {
	if err := db.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := os.Remove(unsyncedPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir syncs a directory, so that a file created or renamed in it is
// found after a machine restart.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) { // some file systems cannot sync a directory
		return err
	}
	return nil
}
