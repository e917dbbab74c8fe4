package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Verify reads the whole file and reports the first damage it finds, as an
// error wrapping ErrDamaged: bbolt's page structure (every page reachable
// or free, keys in order), every stored ad, and the indexes and counts
// against the ads. A file damaged in ways bbolt itself cannot survive
// (pages past its end, garbage pointers) is reported, not crashed on.
func (db *DB) Verify() error {
	fi, err := os.Stat(db.path)
	if err != nil {
		return fmt.Errorf("verify db %s: %w", db.path, err)
	}
	return db.view(func(tx *bolt.Tx) error {
		if fi.Size() < tx.Size() {
			return fmt.Errorf("verify db %s: %w: the file has %d bytes, its pages need %d", db.path, ErrDamaged, fi.Size(), tx.Size())
		}
		problems, err := db.pageProblems(tx)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return fmt.Errorf("verify db %s: %w: %s", db.path, ErrDamaged, strings.Join(problems[:min(5, len(problems))], "; "))
		}
		if err := checkContent(tx); err != nil {
			return fmt.Errorf("verify db %s: %w: %v", db.path, ErrDamaged, err)
		}
		return nil
	})
}

// CheckPages checks the file's pages, reporting each problem, and returns
// how many there were: first that the pages of every bucket form a tree
// (walkPages, which a cycle cannot lead round), then, if they do, bbolt's
// own consistency check (every page reachable once or free, keys in order).
func (db *DB) CheckPages(report func(problem string)) (int, error) {
	n := 0
	err := db.view(func(tx *bolt.Tx) error {
		problems, err := db.pageProblems(tx)
		for _, p := range problems {
			report("pages: " + p)
		}
		n = len(problems)
		return err
	})
	return n, err
}

// pageProblems returns the problems CheckPages reports, at most
// maxPageProblems of bbolt's.
func (db *DB) pageProblems(tx *bolt.Tx) ([]string, error) {
	f, err := os.Open(db.path)
	if err != nil {
		return nil, fmt.Errorf("check db %s: %w", db.path, err)
	}
	defer f.Close()
	if problems := walkPages(f, tx, db.pageSize); len(problems) > 0 {
		return problems, nil
	}
	var problems []string
	for err := range tx.Check() {
		if len(problems) < maxPageProblems {
			problems = append(problems, err.Error())
		}
	}
	return problems, nil
}

// checkContent validates the metadata, every ad of the active state, and
// its indexes.
func checkContent(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("no metadata")
	}
	if meta.Get(keyActive) == nil {
		return nil // nothing loaded yet
	}
	s := newSnapshot(tx, nil)
	if s.state == nil || s.ads == nil {
		return errors.New("the active state is missing")
	}
	if _, err := readPosition(s.state); err != nil {
		return err
	}
	c := s.ads.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		_, key, err := decodeAdKey(k)
		if err != nil {
			return err
		}
		a, err := openAd(key, v)
		if err != nil {
			return err
		}
		if err := a.Validate(); err != nil {
			return fmt.Errorf("ad %s: %w", key, err)
		}
	}
	var first string
	n, err := s.Check(func(p string) {
		if first == "" {
			first = p
		}
	})
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d index problems, the first: %s", n, first)
	}
	return nil
}

// Serving describes the daemon that has the database open, as it recorded
// itself when it started.
type Serving struct {
	PID   int       `json:"pid"`
	Boot  string    `json:"boot"` // the machine's boot id at the time
	Since time.Time `json:"since"`
}

var keyServing = []byte("serving")

// MarkServing records s in the file, until ClearServing. A record found at
// start means the previous daemon did not stop cleanly.
func (db *DB) MarkServing(s Serving) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return db.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyServing, b) })
}

// ClearServing removes the record of MarkServing, at a clean stop.
func (db *DB) ClearServing() error {
	return db.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyServing) })
}

// LastServing returns the record of MarkServing, if there is one.
func (db *DB) LastServing() (Serving, bool, error) {
	var s Serving
	found := false
	err := db.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyServing)
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &s)
	})
	return s, found, err
}
