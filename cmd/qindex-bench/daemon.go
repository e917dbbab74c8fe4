package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// status is the part of 'qindex status --json' the daemon figures need.
type status struct {
	Generation struct {
		Inode uint64 `json:"inode"`
	} `json:"generation"`
	Offset   int64 `json:"applied_offset"`
	LagBytes int64 `json:"lag_bytes"`
	Daemon   *struct {
		CaughtUp time.Time `json:"caught_up"`
		Metrics  string    `json:"metrics"`
	} `json:"daemon"`
}

func getStatus(bin, db string) (status, error) {
	var st status
	out, err := exec.Command(bin, "status", "--db", db, "--json").Output()
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	return st, json.Unmarshal(out, &st)
}

func inode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// startServe starts the daemon, its metrics on a free port, and returns it
// with the time it was started.
func startServe(bin, log, db string, poll time.Duration, flags ...string) (*exec.Cmd, time.Time, error) {
	cmd := exec.Command(bin, append([]string{"serve", "--log", log, "--db", db, "--poll", poll.String(),
		"--web.listen-address", "127.0.0.1:0"}, flags...)...)
	cmd.Stderr = io.Discard
	start := time.Now()
	return cmd, start, cmd.Start()
}

func stopServe(cmd *exec.Cmd) error {
	cmd.Process.Signal(syscall.SIGTERM)
	return cmd.Wait()
}

// waitStatus polls status (as often as a status process allows) until ok.
func waitStatus(bin, db string, limit time.Duration, ok func(status) bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if st, err := getStatus(bin, db); err == nil && ok(st) {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("daemon on %s: no such status within %s", db, limit)
}

// daemonFigures measures issue 4's targets: restart to caught up, a
// compaction snapshot's reload by the running daemon, and the lag while
// the log grows at 5 MB/s.
func daemonFigures(bin, dir, log, snap string, runs, scrapers int) error {
	live := filepath.Join(dir, "live.log")
	db := filepath.Join(dir, "daemon.db")
	fmt.Printf("\ndaemon (qindex serve)\n")

	// Restart with nothing new.
	if err := copyFile(log, live); err != nil {
		return err
	}
	os.Remove(db)
	if _, _, err := measure(bin, "ingest", "--log", live, "--db", db); err != nil {
		return err
	}
	var times []time.Duration
	for range runs {
		cmd, start, err := startServe(bin, live, db, time.Second)
		if err != nil {
			return err
		}
		err = waitStatus(bin, db, time.Minute, func(st status) bool { return st.Daemon != nil && !st.Daemon.CaughtUp.IsZero() && st.LagBytes == 0 })
		times = append(times, time.Since(start))
		if stopErr := stopServe(cmd); err != nil || stopErr != nil {
			return fmt.Errorf("serve: %v %v", err, stopErr)
		}
	}
	fmt.Printf("%-46s %9.1f ms   (start to a status that says caught up; runs: %s)\n",
		"restart, 125k-job db, nothing new", ms(median(times)), durations(times))

	// Reload of a compaction snapshot by the running daemon.
	fi, err := os.Stat(snap)
	if err != nil {
		return err
	}
	times = times[:0]
	for range runs {
		copyFile(log, live)
		os.Remove(db)
		measure(bin, "ingest", "--log", live, "--db", db)
		cmd, _, err := startServe(bin, live, db, 20*time.Millisecond)
		if err != nil {
			return err
		}
		if err := waitStatus(bin, db, time.Minute, func(st status) bool { return st.Daemon != nil && !st.Daemon.CaughtUp.IsZero() }); err != nil {
			return err
		}
		if err := copyFile(snap, live+".tmp"); err != nil {
			return err
		}
		start := time.Now()
		os.Rename(live+".tmp", live)
		ino := inode(live)
		err = waitStatus(bin, db, 5*time.Minute, func(st status) bool { return st.Generation.Inode == ino && st.LagBytes == 0 })
		times = append(times, time.Since(start))
		stopServe(cmd)
		if err != nil {
			return err
		}
	}
	d := median(times)
	fmt.Printf("%-46s %9.1f MB/s   (%.1f MB in %.2f s, rename to caught up, 20 ms poll)\n",
		"reload of the compaction snapshot", float64(fi.Size())/d.Seconds()/1e6, float64(fi.Size())/1e6, d.Seconds())

	// Tailing a log that grows at 5 MB/s.
	if err := tailLag(bin, log, live, db, 0, 5e6); err != nil {
		return err
	}
	return exporterFigures(bin, live, db, runs, scrapers)
}

// tailLag serves log but for its last tail bytes (its second half if tail
// is 0), appends them at rate bytes a second, and reports how long each
// appended slice took to be applied, and the rate the appends reached
// (should the daemon's load on the disk or the cores hold the writer back,
// as it would the schedd). A rate of 0 appends them at once and reports how fast the
// daemon applied them: the most it can follow.
func tailLag(bin, log, live, db string, tail int, rate float64) error {
	content, err := os.ReadFile(log)
	if err != nil {
		return err
	}
	half := len(content) / 2
	if tail > 0 && tail < half {
		half = len(content) - tail
	}
	for content[half-1] != '\n' {
		half++
	}
	if err := os.WriteFile(live, content[:half], 0o600); err != nil {
		return err
	}
	os.Remove(db)
	cmd, _, err := startServe(bin, live, db, time.Second)
	if err != nil {
		return err
	}
	defer stopServe(cmd)
	if err := waitStatus(bin, db, 5*time.Minute, func(st status) bool { return st.Daemon != nil && !st.Daemon.CaughtUp.IsZero() }); err != nil {
		return err
	}
	const slice = 50 * time.Millisecond
	type written struct {
		end int64
		at  time.Time
	}
	var mu sync.Mutex
	var slices_ []written
	f, err := os.OpenFile(live, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	done := make(chan struct{})
	var lags []time.Duration
	go func() {
		defer close(done)
		next := 0
		for {
			st, err := getStatus(bin, db)
			now := time.Now()
			mu.Lock()
			if err == nil {
				for next < len(slices_) && slices_[next].end <= st.Offset {
					lags = append(lags, now.Sub(slices_[next].at))
					next++
				}
			}
			finished := next == len(slices_) && len(slices_) > 0 && slices_[len(slices_)-1].end == int64(len(content))
			mu.Unlock()
			if finished {
				return
			}
			// A status is a process: asked for more often, it takes
			// a core of the two from the daemon it measures.
			time.Sleep(100 * time.Millisecond)
		}
	}()
	begin := time.Now()
	off := int64(half)
	perSlice := int(rate * slice.Seconds())
	if rate <= 0 {
		perSlice = len(content)
	}
	for i := 0; off < int64(len(content)); i++ {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * slice)))
		end := min(off+int64(perSlice), int64(len(content)))
		w.Write(content[off:end])
		w.Flush()
		mu.Lock()
		slices_ = append(slices_, written{end, time.Now()})
		mu.Unlock()
		off = end
	}
	writeTime := time.Since(begin) // the appends alone: the rate reached
	f.Close()
	<-done
	slices.Sort(lags)
	mb := float64(len(content)-half) / 1e6
	if rate <= 0 {
		applied := lags[len(lags)-1]
		fmt.Printf("%-46s %9.2f MB/s  (%.1f MB appended at once, applied in %.2f s, 1 s poll, status sampled every ~110 ms)\n",
			"what the daemon applies, behind", mb/applied.Seconds(), mb, applied.Seconds())
		return nil
	}
	fmt.Printf("%-46s %9.2f s max   (p50 %.2f s; %.1f MB appended in %.1f s, %.1f MB/s, 1 s poll, status sampled every ~110 ms)\n",
		fmt.Sprintf("lag while the log grows at %g MB/s", rate/1e6), lags[len(lags)-1].Seconds(), lags[len(lags)/2].Seconds(),
		mb, writeTime.Seconds(), mb/writeTime.Seconds())
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

func durations(ds []time.Duration) string {
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.0f", ms(d))
	}
	return s + " ms"
}
