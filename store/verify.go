package store

import (
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

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
