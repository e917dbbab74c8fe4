package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// scaleFigures measures how ingest and reads grow with the queue: for
// queues of jobs/8, jobs/2 and jobs jobs (2,000 owners, seed 3), a fresh
// ingest's rate and peak RssAnon, the database's size, and the held jobs
// and a scan warm and cold. A cold read is also compared with reading as
// many bytes of the file sequentially (the bytes it brought into the page
// cache), by the query's own time as --explain reports it: the process's
// start, which reads the binary from disk too, is in the table's times. Then the daemon at the largest size: the lag while the log grows
// at 5 MB/s, and queries while it reloads a compaction of that queue.
func scaleFigures(bin, dir string, jobs, runs int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cold := dropCaches() == nil
	fmt.Printf("qindex-bench --scale: %s, queues of %d, %d and %d jobs (2,000 owners, seed 3), median of %d runs\n",
		bin, jobs/8, jobs/2, jobs, runs)
	if !cold {
		fmt.Println("cold reads skipped: the page cache cannot be dropped here (writing /proc/sys/vm/drop_caches needs root)")
	}
	fmt.Printf("\n%8s %8s %8s %8s %10s %8s %22s %22s\n", "jobs", "log MB", "ingest", "MB/s", "RssAnon", "db MB",
		"held: warm / cold", "scan: warm / cold")
	type coldRead struct {
		name            string
		warm, cold, seq time.Duration // query times, and the sequential read
		bytes, jobs     int64
	}
	var colds []coldRead
	var log, db string
	for _, n := range []int{jobs / 8, jobs / 2, jobs} {
		log = filepath.Join(dir, fmt.Sprintf("scale-%d.log", n))
		db = filepath.Join(dir, fmt.Sprintf("scale-%d.db", n))
		if err := generate(bin, log, "--jobs", strconv.Itoa(n), "--owners", "2000", "--seed", "3"); err != nil {
			return err
		}
		fi, err := os.Stat(log)
		if err != nil {
			return err
		}
		d, peak, err := freshIngest(bin, log, db, runs)
		if err != nil {
			return err
		}
		dbInfo, err := os.Stat(db)
		if err != nil {
			return err
		}
		reads := []struct {
			name  string
			flags []string
		}{
			{"held", []string{"--constraint", "JobStatus == 5"}},
			{"scan", []string{"--constraint", "RequestMemory > 4096 && JobStatus == 1", "--no-index"}},
		}
		var cells [2]string
		for i, r := range reads {
			args := append([]string{"q", "--db", db, "-allusers", "--af", "ClusterId,ProcId", "--explain"}, r.flags...)
			var warm, warmQuery []time.Duration
			for range max(runs, 5) {
				d, q, err := timeQuery(bin, args...)
				if err != nil {
					return err
				}
				warm, warmQuery = append(warm, d), append(warmQuery, q)
			}
			cells[i] = fmt.Sprintf("%7.0f ms /    -", ms(median(warm)))
			if !cold {
				continue
			}
			var c, s, cw []time.Duration
			var read int64
			for range runs {
				if err := dropCaches(); err != nil {
					return err
				}
				w, d, err := timeQuery(bin, args...)
				if err != nil {
					return err
				}
				cw = append(cw, w)
				if read, err = residentBytes(db); err != nil {
					return err
				}
				seq, err := readSequentially(db, read)
				if err != nil {
					return err
				}
				c, s = append(c, d), append(s, seq)
			}
			colds = append(colds, coldRead{r.name, median(warmQuery), median(c), median(s), read, int64(n)})
			cells[i] = fmt.Sprintf("%7.0f ms / %5.2f s", ms(median(warm)), median(cw).Seconds())
		}
		fmt.Printf("%8d %8.0f %7.2fs %8.1f %6.0f MiB %8.0f %22s %22s\n", n, float64(fi.Size())/1e6, d.Seconds(),
			float64(fi.Size())/d.Seconds()/1e6, float64(peak)/(1<<20), float64(dbInfo.Size())/1e6, cells[0], cells[1])
	}
	if err := daemonAtScale(bin, dir, log, jobs, runs); err != nil {
		return err
	}
	if cold {
		fmt.Printf("\n%-6s %8s %10s %10s %14s %14s %12s %16s\n", "read", "jobs", "warm", "cold", "bytes it read", "those, in order",
			"cold/order", "(cold-warm)/order")
		for _, c := range colds {
			fmt.Printf("%-6s %8d %8.2f s %8.2f s %11.0f MB %12.2f s %11.2fx %15.2fx\n", c.name, c.jobs, c.warm.Seconds(), c.cold.Seconds(),
				float64(c.bytes)/1e6, c.seq.Seconds(), c.cold.Seconds()/c.seq.Seconds(), (c.cold-c.warm).Seconds()/c.seq.Seconds())
		}
	}
	return nil
}

// dropCaches empties the page cache, so that the next read comes from the
// disk.
func dropCaches() error {
	unix.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

// residentBytes returns how much of the file at path is in the page cache.
func residentBytes(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return 0, err
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(m)
	ps := os.Getpagesize()
	vec := make([]byte, (len(m)+ps-1)/ps)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, fmt.Errorf("mincore %s: %w", path, errno)
	}
	var n int64
	for _, v := range vec {
		n += int64(v & 1)
	}
	return n * int64(ps), nil
}

// readSequentially drops the page cache and returns how long reading the
// first n bytes of the file at path in order takes.
func readSequentially(path string, n int64) (time.Duration, error) {
	if err := dropCaches(); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	if _, err := io.CopyBuffer(io.Discard, io.LimitReader(f, n), make([]byte, 1<<20)); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return time.Since(start), nil
}

// daemonAtScale measures the daemon on the queue of jobs jobs whose log is
// log: the lag while 50 MB more arrive at 1, 2, 3 and 5 MB/s, and how fast
// it applies them when they arrive at once; its collections and scrapes;
// and queries while it reloads a compaction of that queue.
func daemonAtScale(bin, dir, log string, jobs, runs int) error {
	live := filepath.Join(dir, "scale-live.log")
	db := filepath.Join(dir, "scale-daemon.db")
	fmt.Printf("\ndaemon (qindex serve) on the queue of %d jobs\n", jobs)
	// The 5 MB/s, and below it, to find the rate a daemon keeps
	// within 2 s of; then everything at once, the most it can follow.
	for _, rate := range []float64{1e6, 2e6, 3e6, 5e6, 0} {
		if err := tailLag(bin, log, live, db, 50e6, rate); err != nil {
			return err
		}
	}
	if err := exporterFigures(bin, live, db, runs, 10); err != nil {
		return err
	}

	snap := filepath.Join(dir, fmt.Sprintf("scale-%d-snapshot.log", jobs))
	if err := generate(bin, snap, "--jobs", strconv.Itoa(jobs), "--owners", "2000", "--seed", "3", "--compact"); err != nil {
		return err
	}
	cmd, _, err := startServe(bin, live, db, 20*time.Millisecond)
	if err != nil {
		return err
	}
	defer stopServe(cmd)
	if err := waitStatus(bin, db, 5*time.Minute, func(st status) bool { return st.Daemon != nil && !st.Daemon.CaughtUp.IsZero() && st.LagBytes == 0 }); err != nil {
		return err
	}
	if err := copyFile(snap, live+".tmp"); err != nil {
		return err
	}
	start := time.Now()
	if err := os.Rename(live+".tmp", live); err != nil {
		return err
	}
	ino := inode(live)
	var walls []time.Duration
	failed := 0
	for {
		if st, err := getStatus(bin, db); err == nil && st.Generation.Inode == ino && st.LagBytes == 0 {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("the daemon did not reload %s within 5 minutes", snap)
		}
		w, _, err := timeQuery(bin, "q", "--db", db, "user001", "--af", "ClusterId,ProcId", "--explain")
		if err != nil {
			failed++
			continue
		}
		walls = append(walls, w)
	}
	reload := time.Since(start)
	if len(walls) == 0 {
		return fmt.Errorf("no query answered during the reload (%d failed)", failed)
	}
	sorted := slices.Clone(walls)
	slices.Sort(sorted)
	fmt.Printf("%-46s %9.1f ms max   (p50 %.1f ms; %d answered, %d failed, during a reload of %.1f s)\n",
		"q user001 while a compaction reloads", ms(sorted[len(sorted)-1]), ms(sorted[len(sorted)/2]), len(walls), failed, reload.Seconds())
	return nil
}
