package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/qindex/qindex/store"
)

// historyFigures measures the history at the size of left entries: it
// generates a log in which left jobs come and go around a queue of left/10
// (2,000 owners, seed 3), ingests it (the load records every departure),
// and times qindex history for one owner, one owner's last day and the
// newest entries, through the indexes warm and cold and with --no-index.
func historyFigures(bin, dir string, left, runs int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	log := filepath.Join(dir, fmt.Sprintf("history-%d.log", left))
	db := filepath.Join(dir, fmt.Sprintf("history-%d.db", left))
	if err := generate(bin, log, "--jobs", strconv.Itoa(left/10), "--left", strconv.Itoa(left), "--owners", "2000", "--seed", "3"); err != nil {
		return err
	}
	fi, err := os.Stat(log)
	if err != nil {
		return err
	}
	os.Remove(db)
	d, peak, err := measure(bin, "ingest", "--log", log, "--db", db)
	if err != nil {
		return err
	}
	dbInfo, err := os.Stat(db)
	if err != nil {
		return err
	}
	st, err := historyStats(db)
	if err != nil {
		return err
	}
	fmt.Printf("\nqindex-bench --history: %s, %d jobs left around a queue of %d (2,000 owners, seed 3), median of %d runs\n",
		bin, st.Entries, left/10, runs)
	fmt.Printf("ingest of its %.0f MB log: %.1f s (%.1f MB/s), peak RssAnon %.0f MiB; db %.0f MB, of which %.0f MB history entries\n",
		float64(fi.Size())/1e6, d.Seconds(), float64(fi.Size())/d.Seconds()/1e6, float64(peak)/(1<<20),
		float64(dbInfo.Size())/1e6, float64(st.Bytes)/1e6)
	cold := dropCaches() == nil
	if !cold {
		fmt.Println("cold reads skipped: the page cache cannot be dropped here (writing /proc/sys/vm/drop_caches needs root)")
	}
	lastDay := strconv.FormatInt(st.Newest-86400, 10)
	fmt.Printf("\n%-42s %8s %20s %20s %22s\n", "qindex history --db DB ...", "entries", "warm: wall (query)", "cold: wall (query)", "--no-index: wall (query)")
	for _, q := range [][]string{
		{"user100"}, // a middling owner
		{"user001"}, // the largest
		{"user001", "-limit", "100"},
		{"user001", "-completedsince", lastDay},
		{"-limit", "100"},
	} {
		args := append([]string{"history", "--db", db, "--explain"}, q...)
		entries, err := matched(bin, args...)
		if err != nil {
			return err
		}
		times := func(n int, before func() error, extra ...string) (string, error) {
			var walls, queries []time.Duration
			for range n {
				if before != nil {
					if err := before(); err != nil {
						return "", err
					}
				}
				w, q, err := timeQuery(bin, append(args, extra...)...)
				if err != nil {
					return "", err
				}
				walls, queries = append(walls, w), append(queries, q)
			}
			return fmt.Sprintf("%7.1f (%6.1f) ms", ms(median(walls)), ms(median(queries))), nil
		}
		warm, err := times(max(runs, 5), nil)
		if err != nil {
			return err
		}
		coldCell := "-"
		if cold {
			if coldCell, err = times(runs, dropCaches); err != nil {
				return err
			}
		}
		scan, err := times(runs, nil, "--no-index")
		if err != nil {
			return err
		}
		fmt.Printf("%-42s %8d %20s %20s %22s\n", fmt.Sprint(q), entries, warm, coldCell, scan)
	}
	return nil
}

// historyStats returns the stats of db's history.
func historyStats(path string) (store.HistoryStats, error) {
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		return store.HistoryStats{}, err
	}
	defer db.Close()
	var st store.HistoryStats
	err = db.View(func(s *store.Snapshot) error {
		st, err = s.HistoryStats()
		return err
	})
	return st, err
}

// matched runs a query with --explain and returns how many it matched.
func matched(bin string, args ...string) (int, error) {
	_, fields, err := explained(bin, args...)
	if err != nil {
		return 0, err
	}
	var n int
	if _, err := fmt.Sscanf(fields["matched"], "%d", &n); err != nil {
		return 0, fmt.Errorf("%s: no count in --explain: %v", bin, err)
	}
	return n, nil
}
