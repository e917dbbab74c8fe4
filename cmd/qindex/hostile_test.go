package main

// Tests of issue 17's hostile inputs, each reproduced as reported: the
// daemon must stay up, answer, and hold the truth afterwards.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qindex/qindex/exporter"
	"github.com/qindex/qindex/ingest/loggen"
)

// TestInvalidUTF8OwnerInMetrics: one invalid UTF-8 byte in an Owner used to
// panic the collector (MustNewConstMetric) and take the daemon down, again
// on every restart.
func TestInvalidUTF8OwnerInMetrics(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	long := strings.Repeat("x", 300)
	text := "107 1 CreationTimestamp 1700000000\n101 01.-1 Job Machine\n103 01.-1 Owner \"bad\xff\xfeowner\"\n" +
		"101 1.0 Job Machine\n103 1.0 ProcId 0\n103 1.0 JobStatus 1\n" +
		"101 1.1 Job Machine\n103 1.1 ProcId 1\n103 1.1 JobStatus 2\n103 1.1 Owner \"bad\xfeowner\"\n" +
		"101 2.0 Job Machine\n103 2.0 Owner \"" + long + "\xe2\x82\xac\"\n103 2.0 JobStatus 1\n"
	if err := os.WriteFile(log, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for run := range 2 { // and again after a restart
		d := startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond,
			listen: "127.0.0.1:0", telemetryPath: "/metrics",
			metrics: exporter.Options{Interval: 10 * time.Millisecond}})
		waitFor(t, "the load", func() bool { return caughtUp(t, status(t, db), log) })
		url := status(t, db).Daemon.Metrics
		waitFor(t, "a collection", func() bool {
			_, ok := value(scrapeMetrics(t, url), "qindex_collector_last_success_timestamp_seconds")
			return ok
		})
		time.Sleep(50 * time.Millisecond) // a few more collections
		m := scrapeMetrics(t, url)
		if v, _ := value(m, "htcondor_queue_jobs", "status", "idle"); v != 2 {
			t.Errorf("run %d: %v idle jobs, want 2", run, v)
		}
		// The two spellings of the bad name differ only in invalid bytes:
		// one label, U+FFFD for each run of them.
		if v, _ := value(m, "htcondor_queue_owner_jobs", "owner", "bad\uFFFDowner", "status", "idle"); v != 1 {
			t.Errorf("run %d: owner bad\\uFFFDowner has %v idle jobs, want 1", run, v)
		}
		if v, _ := value(m, "htcondor_queue_owner_jobs", "owner", "bad\uFFFDowner", "status", "running"); v != 1 {
			t.Errorf("run %d: owner bad\\uFFFDowner has %v running jobs, want 1", run, v)
		}
		// A long name is cut to 128 bytes, at a character boundary.
		if v, _ := value(m, "htcondor_queue_owner_jobs", "owner", long[:128], "status", "idle"); v != 1 {
			t.Errorf("run %d: the long owner's label is not its first 128 bytes", run)
		}
		if f, _ := value(m, "qindex_collector_failures_total"); f != 0 {
			t.Errorf("run %d: %v failed collections", run, f)
		}
		if code := d.stop(t); code != 0 {
			t.Fatalf("run %d: the daemon exited %d:\n%s", run, code, d.stderr.String())
		}
	}
}

// qindexCmd returns this test binary set up to run as the qindex command.
func qindexCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Args[0] = "qindex"
	cmd.Env = append(os.Environ(), "QINDEX_TEST_MAIN=1", "QINDEX_ONLY_MY_JOBS=false")
	return cmd
}

// generatedQueue writes a generated log of about jobs jobs into a new
// directory and returns the paths of the log and of a db beside it.
func generatedQueue(t *testing.T, jobs int) (log, db string, g *loggen.Generator) {
	t.Helper()
	dir := t.TempDir()
	log, db = filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	g = loggen.New(loggen.Config{Seed: 17, TargetJobs: jobs + jobs/2, Owners: 20})
	var b bytes.Buffer
	g.WriteQueue(&b, jobs, false)
	if err := os.WriteFile(log, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return log, db, g
}

// ingestedQueue is generatedQueue with the log replayed into the db.
func ingestedQueue(t *testing.T, jobs int) (log, db string, g *loggen.Generator) {
	t.Helper()
	log, db, g = generatedQueue(t, jobs)
	if _, errOut, code := runCLI(t, "ingest", "--log", log, "--db", db); code != 0 {
		t.Fatal(errOut)
	}
	return log, db, g
}

// dialRequest connects to the daemon of db and sends a raw request.
func dialRequest(t *testing.T, db string, req []byte) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", socketPath(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestStuckReadersDoNotBlockOthers: 32 clients ask for --long answers and
// never read them (a 'qindex q --long | less' left open); a fresh query is
// still answered within 1 s. There used to be 16 slots, held for 60 s each.
func TestStuckReadersDoNotBlockOthers(t *testing.T) {
	log, db, _ := generatedQueue(t, 3000)
	startDaemon(t, log, db, 20*time.Millisecond)
	waitFor(t, "the load", func() bool { return caughtUp(t, status(t, db), log) })
	want, _, _ := runCLI(t, "q", "--db", db, "--totals")

	req, _ := json.Marshal(request{Command: "q", Query: &queryRequest{Args: []string{"-long", "-allusers"}}})
	for range 32 {
		conn := dialRequest(t, db, append(req, '\n'))
		// Each reads the first frame, so its answer is under way.
		conn.Read(make([]byte, 5))
	}
	start := time.Now()
	got, errOut, code := runCLI(t, "q", "--db", db, "--totals")
	if took := time.Since(start); code != 0 || got != want || took > time.Second {
		t.Fatalf("with 32 stuck readers: exit %d after %v: %q %s, want %q", code, took, got, errOut, want)
	}
}

// TestRequestLimits: a request line has a size limit (3 connections of
// endless bytes pushed the daemon to 3.5 GB), and malformed requests are
// refused with a message.
func TestRequestLimits(t *testing.T) {
	log, db, _ := generatedQueue(t, 200)
	startDaemon(t, log, db, 20*time.Millisecond)
	waitFor(t, "the load", func() bool { return caughtUp(t, status(t, db), log) })

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	chunk := bytes.Repeat([]byte("("), 1<<20)
	var wg sync.WaitGroup
	answers := make([]string, 3)
	for i := range answers {
		conn := dialRequest(t, db, []byte(`{"command":"q","query":{"constraint":"`))
		wg.Go(func() {
			// Write until the daemon stops reading and answers; 64 MiB at most.
			go func() {
				for range 64 {
					if _, err := conn.Write(chunk); err != nil {
						return
					}
				}
			}()
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			b, _ := io.ReadAll(conn)
			answers[i] = string(b)
		})
	}
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	for i, a := range answers {
		if !strings.Contains(a, "request larger than 1048576 bytes") {
			t.Errorf("connection %d: answer %q", i, a)
		}
	}
	// The daemon read at most 1 MiB of each: its heap (this process's)
	// grew far less than what was sent.
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 48<<20 {
		t.Errorf("the heap grew by %d MB", grew>>20)
	}
	for _, req := range []string{"{not json\n", "\n", `{"command":"rm"}` + "\n", `{"command":"q"}` + "\n"} {
		b, _ := io.ReadAll(dialRequest(t, db, []byte(req)))
		if !bytes.Contains(b, []byte(`"code":2`)) {
			t.Errorf("request %q: answer %q, want a usage error", req, b)
		}
	}
	// A constraint nested past the limit is a usage error, not a crash.
	deep := strings.Repeat("(", 200_000) + "1" + strings.Repeat(")", 200_000)
	if _, errOut, code := runCLI(t, "q", "--db", db, "--constraint", deep); code != 2 || !strings.Contains(errOut, "nested deeper") {
		t.Errorf("a deep constraint: exit %d, %.200s", code, errOut)
	}
	if out, _, code := runCLI(t, "q", "--db", db, "--totals"); code != 0 || !strings.Contains(out, "jobs;") {
		t.Errorf("after the hostile requests: exit %d %q", code, out)
	}
}

// TestStoppedDaemon: a SIGSTOPped daemon made every query hang for 60 s;
// now the client says within a few seconds that the daemon is not
// answering.
func TestStoppedDaemon(t *testing.T) {
	log, db, _ := generatedQueue(t, 200)
	cmd, stderr := serveProcess(t, "--log", log, "--db", db, "--poll", "20ms", "--web.listen-address", "")
	defer func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("the daemon: %v\n%s", err, stderr.String())
		}
	}()
	waitFor(t, "the daemon's socket", func() bool { _, err := os.Stat(socketPath(db)); return err == nil })
	waitFor(t, "the load", func() bool { return caughtUp(t, status(t, db), log) })
	cmd.Process.Signal(syscall.SIGSTOP)
	// The signal is delivered asynchronously: wait until the kernel says
	// the process is stopped, or a thread still running may answer.
	waitFor(t, "the daemon stopped", func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		_, after, _ := strings.Cut(string(b), ") ")
		return err == nil && strings.HasPrefix(after, "T")
	})
	start := time.Now()
	_, errOut, code := runCLI(t, "q", "--db", db, "--totals")
	if took := time.Since(start); code != 1 || !strings.Contains(errOut, "not answering") || took > answerTimeout+2*time.Second {
		t.Errorf("a stopped daemon: exit %d after %v: %s", code, took, errOut)
	}
}

// TestQueryStopsOnSignals: 'qindex q' ignored Ctrl-C. Its output goes to a
// pipe nobody reads (a pager left open); SIGINT ends it promptly, and so
// does the reader going away (SIGPIPE). With and without a daemon.
func TestQueryStopsOnSignals(t *testing.T) {
	log, db, _ := ingestedQueue(t, 3000)
	for _, withDaemon := range []bool{false, true} {
		if withDaemon {
			startDaemon(t, log, db, 20*time.Millisecond)
		}
		for _, how := range []string{"SIGINT", "SIGPIPE"} {
			cmd := qindexCmd("q", "--db", db, "--long")
			r, w, _ := os.Pipe()
			cmd.Stdout = w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			r.Read(make([]byte, 4096)) // it has begun to answer
			time.Sleep(100 * time.Millisecond)
			start := time.Now()
			if how == "SIGINT" {
				cmd.Process.Signal(os.Interrupt)
			} else {
				r.Close()
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("daemon %v, %s: exit 0", withDaemon, how)
				}
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Errorf("daemon %v, %s: still running after 5 s", withDaemon, how)
			}
			t.Logf("daemon %v, %s: stopped in %v", withDaemon, how, time.Since(start))
			r.Close()
		}
	}
}

// TestEmptiedOrForeignLog: truncating the log to 0 bytes while serving
// used to replace the queue with 0 jobs at once, and a foreign file
// (/etc/passwd) was "ingested" as 0 jobs. Neither is a log: the queue
// stays, the daemon warns, counts and shows it, and takes the log back
// when it is valid again.
func TestEmptiedOrForeignLog(t *testing.T) {
	log, db, g := generatedQueue(t, 500)
	foreign := filepath.Join(filepath.Dir(log), "passwd")
	os.WriteFile(foreign, []byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"), 0o600)
	if _, errOut, code := runCLI(t, "ingest", "--log", foreign, "--db", db); code != 1 || !strings.Contains(errOut, foreign) || !strings.Contains(errOut, "not a job queue log") {
		t.Errorf("ingest of a foreign file: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("ingest of a foreign file created a database")
	}

	d := startDaemonWith(t, serveOptions{log: log, db: db, poll: 10 * time.Millisecond,
		listen: "127.0.0.1:0", telemetryPath: "/metrics", metrics: exporter.Options{Interval: time.Hour}})
	waitFor(t, "the load", func() bool { return caughtUp(t, status(t, db), log) })
	want, _, _ := runCLI(t, "q", "--db", db, "--totals")
	content, _ := os.ReadFile(log)
	url := status(t, db).Daemon.Metrics

	for _, bad := range []struct{ name, content, why string }{
		{"emptied", "", "the file is empty"},
		{"foreign", "root:x:0:0:root:/root:/bin/bash\n", "is not a '107"},
		{"header still being written", "107 2 Creation", "is not complete"},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\n\x03\x00", "is not a '107"},
	} {
		// Emptied in place; the others moved in whole, so that the daemon
		// never sees them half written (an empty file, another reason).
		if bad.content == "" {
			if err := os.Truncate(log, 0); err != nil {
				t.Fatal(err)
			}
		} else {
			tmp := log + ".new"
			if err := os.WriteFile(tmp, []byte(bad.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, log); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, bad.name+": the daemon to say so", func() bool {
			st := status(t, db)
			return st.LogInvalid && strings.Contains(st.Daemon.LastError, bad.why)
		})
		if got, _, _ := runCLI(t, "q", "--db", db, "--totals"); got != want {
			t.Errorf("%s: the queue changed: %q, want %q", bad.name, got, want)
		}
		if v, _ := value(scrapeMetrics(t, url), "qindex_ingest_log_invalid"); v != 1 {
			t.Errorf("%s: qindex_ingest_log_invalid = %v", bad.name, v)
		}
		out, _, _ := runCLI(t, "status", "--db", db)
		if !strings.Contains(out, "not a valid log, the database keeps its last good queue") {
			t.Errorf("%s: status says:\n%s", bad.name, out)
		}
	}
	os.Remove(log)
	os.WriteFile(log, content, 0o600) // a new inode: reloaded
	waitFor(t, "the log taken back", func() bool { st := status(t, db); return !st.LogInvalid && loaded(t, st, log) })
	waitFor(t, "qindex_ingest_log_invalid back to 0", func() bool {
		v, ok := value(scrapeMetrics(t, url), "qindex_ingest_log_invalid")
		return ok && v == 0
	})
	d.stop(t)
	logs := d.stderr.String()
	// One warning per reason (the foreign and the binary file share one).
	if n := strings.Count(logs, "level=WARN msg=\"the log is not a valid job queue log"); n != 4 {
		t.Errorf("%d warnings, want one per change of reason:\n%s", n, logs)
	}
	// One reload: of the good log put back. A reload that began as the log
	// was emptied under it (the poll saw the old size) is refused when it
	// finds the file shrunk, and keeps the queue: it does not count.
	refused := strings.Count(logs, "while it was loaded; the queue is kept")
	if n := strings.Count(logs, "reloading") - refused; n > 1 {
		t.Errorf("a bad file was loaded (%d reloads, %d refused):\n%s", n+refused, refused, logs)
	}
	requireTruth(t, db, log, g)
}

// TestDamageWhileServing damages the daemon's file under it (as a failing
// disk would): the query that meets the damage fails saying so, the daemon
// rebuilds the file from the log while it answers from the damaged one,
// moves the damaged file aside, and ends with the truth. It used to crash
// on its first query or collection, and again on every restart.
func TestDamageWhileServing(t *testing.T) {
	log, db, g := generatedQueue(t, 3000)
	d := startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond,
		listen: "127.0.0.1:0", telemetryPath: "/metrics", metrics: exporter.Options{Interval: time.Hour}})
	waitFor(t, "the load", func() bool { return caughtUp(t, status(t, db), log) })
	want, _, _ := runCLI(t, "q", "--db", db, "--af", "ClusterId,ProcId,Owner,JobStatus")

	// Flip a byte in every 16 KiB page but bbolt's two meta pages: the
	// daemon reads the file through a shared mapping, so it sees them.
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	for off := int64(2 * 16384); off < fi.Size(); off += 16384 {
		b := make([]byte, 1)
		f.ReadAt(b, off+9000)
		b[0] ^= 0x5a
		f.WriteAt(b, off+9000)
	}
	f.Close()

	out, errOut, code := runCLI(t, "q", "--db", db, "--af", "ClusterId,ProcId,Owner,JobStatus")
	if code == 0 || !strings.Contains(errOut, "damaged") {
		t.Fatalf("a query over the damaged file: exit %d, %d bytes, %s", code, len(out), errOut)
	}
	waitFor(t, "the rebuild", func() bool { return strings.Contains(d.stderr.String(), "rebuilt the database") })
	if got, errOut, code := runCLI(t, "q", "--db", db, "--af", "ClusterId,ProcId,Owner,JobStatus"); code != 0 || got != want {
		t.Errorf("after the rebuild: exit %d, %s; the answer differs from the one before the damage", code, errOut)
	}
	if _, err := os.Stat(db + ".damaged"); err != nil {
		t.Errorf("the damaged file was not kept aside: %v", err)
	}
	if st := status(t, db); st.Daemon.Rebuilding != "" || !caughtUp(t, st, log) {
		t.Errorf("status after the rebuild: %+v", st.Daemon)
	}
	// The schedd goes on; so does the rebuilt database.
	fl, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	g.Run(fl, 300)
	fl.Close()
	waitFor(t, "the daemon to catch up", func() bool { return caughtUp(t, status(t, db), log) })
	if code := d.stop(t); code != 0 {
		t.Fatalf("the daemon exited %d:\n%s", code, d.stderr.String())
	}
	requireTruth(t, db, log, g)
}

// makeCycles damages the bbolt file at path so that every branch page
// names itself as its first child: a cursor that descends into one loops
// inside bbolt, its stack growing without end (the 23 GB of issue 17), or
// recurses until its goroutine's stack is exhausted.
func makeCycles(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.LittleEndian.Uint32(b[16+8:])) // page header, magic, version, page size
	n := 0
	for id := 2; (id+1)*pageSize <= len(b); {
		p := b[id*pageSize:]
		flags, count, overflow := binary.LittleEndian.Uint16(p[8:]), binary.LittleEndian.Uint16(p[10:]), binary.LittleEndian.Uint32(p[12:])
		if flags&0x01 != 0 && count > 0 && binary.LittleEndian.Uint64(p) == uint64(id) {
			binary.LittleEndian.PutUint64(p[16+8:], uint64(id)) // element 0: pos, ksize, then its page id
			n++
		}
		id += 1 + int(overflow)
	}
	if n == 0 {
		t.Fatal("no branch page to damage")
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRunawayReadsOfACyclicFile: reads that loop in bbolt on a damaged file
// used to grow without limit (23 GB, ignoring SIGTERM). The watchdog ends
// a command past QINDEX_MAX_MEMORY, saying why; the daemon moves the file
// aside first, so that its next start rebuilds it from the log.
func TestRunawayReadsOfACyclicFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs commands until they pass 256 MiB")
	}
	log, db, g := ingestedQueue(t, 3000)
	makeCycles(t, db)
	run := func(args ...string) (string, time.Duration, error) {
		cmd := qindexCmd(args...)
		cmd.Env = append(cmd.Env, "QINDEX_MAX_MEMORY=256MiB")
		var stderr syncBuffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return stderr.String(), time.Since(start), err
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: still running after 60 s:\n%s", args, stderr.String())
		}
		return "", 0, nil
	}
	for _, q := range [][]string{{"--af", "ClusterId"}, {"--constraint", "JobStatus == 5"}} {
		args := append([]string{"q", "--db", db}, q...)
		stderr, took, err := run(args...)
		if err == nil || !strings.Contains(stderr, "stopping: its") || !strings.Contains(stderr, db+" may be a damaged database") {
			t.Errorf("%v: %v after %v:\n%.500s", args, err, took, stderr)
		}
	}
	// check walks the pages itself, each once, before bbolt does: it
	// reports the cycles instead of going round them.
	out, errOut, code := runCLI(t, "check", "--db", db)
	if code != 1 || !strings.Contains(out, "is referenced twice (a cycle") || !strings.Contains(errOut, "damaged") {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
	stderr, _, err := run("serve", "--log", log, "--db", db, "--poll", "20ms", "--web.listen-address", "127.0.0.1:0", "--collect-interval", "1s")
	if err == nil || !strings.Contains(stderr, "moved the database aside") {
		t.Fatalf("serve: %v:\n%.2000s", err, stderr)
	}
	if _, err := os.Stat(db + ".damaged"); err != nil {
		t.Fatalf("serve did not move the damaged file aside: %v", err)
	}
	// The next start loads the log into a new file.
	d := startDaemon(t, log, db, 20*time.Millisecond)
	waitFor(t, "the rebuild", func() bool { return caughtUp(t, status(t, db), log) })
	d.stop(t)
	requireTruth(t, db, log, g)
}

// TestDamageAtRandomOffsets damages copies of a database at 50 random
// offsets (64 KiB of zeros, 64 random bytes, or one) and runs q, check,
// status and serve on each: none may crash or hang, and no
// answer may be wrong: each is the truth, or fails saying the file is
// damaged; the daemon ends with the truth.
func TestDamageAtRandomOffsets(t *testing.T) {
	if testing.Short() {
		t.Skip("50 damaged copies")
	}
	log, db, g := ingestedQueue(t, 2000)
	queries := [][]string{{"--af", "ClusterId,ProcId,Owner,JobStatus"}, {"--constraint", "JobStatus == 5", "--af", "ClusterId,ProcId,HoldReason"},
		{"alice", "user003", "--af", "ClusterId,ProcId"}, {"--totals"}}
	truth := make([]string, len(queries))
	for i, q := range queries {
		out, errOut, code := runCLI(t, append([]string{"q", "--db", db}, q...)...)
		if code != 0 {
			t.Fatal(errOut)
		}
		truth[i] = out
	}
	pristine, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	// In this process: a panic would end the test binary, a hang the
	// test run, each a failure; TestRunawayReadsOfACyclicFile runs the
	// commands as processes.
	exec1 := func(args ...string) (string, string, int) { return runCLI(t, args...) }
	rng := rand.New(rand.NewPCG(17, 17))
	damagedAnswers := 0
	for i := range 50 {
		copyPath := filepath.Join(t.TempDir(), "q.db")
		b := slices.Clone(pristine)
		off := rng.IntN(len(b))
		what := []string{"64 KiB of zeros", "64 random bytes", "a random byte"}[i%3]
		switch i % 3 {
		case 0:
			clear(b[off:min(len(b), off+65536)])
		case 1:
			for j := off; j < min(len(b), off+64); j++ {
				b[j] = byte(rng.Uint32())
			}
		case 2:
			b[off] ^= byte(1 + rng.IntN(255))
		}
		os.WriteFile(copyPath, b, 0o600)
		where := fmt.Sprintf("copy %d (%s at %d)", i, what, off)

		for qi, q := range queries {
			out, errOut, code := exec1(append([]string{"q", "--db", copyPath}, q...)...)
			out = strings.ReplaceAll(out, copyPath, db) // the banner names the db
			switch {
			case code == 0 && out == truth[qi]:
			case code == 1 && (strings.Contains(errOut, "damaged") || strings.Contains(errOut, "stopping: its")):
				damagedAnswers++
			default:
				t.Errorf("%s: q %v: exit %d, a wrong answer or an unexpected error:\n%.300s", where, q, code, errOut)
			}
		}
		for _, cmd := range [][]string{{"check", "--db", copyPath}, {"status", "--db", copyPath}} {
			if _, errOut, code := exec1(cmd...); code != 0 && code != 1 || code == 1 && strings.Contains(errOut, "internal error") {
				t.Errorf("%s: %v: exit %d:\n%.300s", where, cmd[0], code, errOut)
			}
		}

		// The daemon, with its log: it answers right or says damaged,
		// rebuilds what it finds damaged, and ends with the truth.
		d := startDaemonWith(t, serveOptions{log: log, db: copyPath, poll: 10 * time.Millisecond,
			listen: "127.0.0.1:0", telemetryPath: "/metrics", metrics: exporter.Options{Interval: 10 * time.Millisecond}})
		waitFor(t, where+": the daemon to answer", func() bool {
			out, errOut, code := runCLI(t, append([]string{"q", "--db", copyPath}, queries[0]...)...)
			if code != 0 && !strings.Contains(errOut, "damaged") {
				t.Fatalf("%s: the daemon: exit %d: %s", where, code, errOut)
			}
			if code == 0 && out != truth[0] {
				t.Fatalf("%s: the daemon gave a wrong answer", where)
			}
			return code == 0 && !strings.Contains(d.stderr.String(), "the database is damaged; rebuilding") ||
				strings.Contains(d.stderr.String(), "rebuilt the database")
		})
		if code := d.stop(t); code != 0 {
			t.Fatalf("%s: the daemon exited %d:\n%s", where, code, d.stderr.String())
		}
		if strings.Contains(d.stderr.String(), "rebuilt the database") {
			requireTruth(t, copyPath, log, g)
		}
	}
	t.Logf("%d of %d answers over damaged copies failed saying so; the rest were right", damagedAnswers, 50*len(queries))
}

// TestDeepAndWideValues: a value of 5M nested "1+" terms used to overflow
// the stack of whatever walked it, and an ad of a million attributes took
// 150 s to load. The deep value is a corrupt record (reported, counted,
// skipped); the wide ad loads in linear time; the daemon answers queries
// and collections over both, and its heap stays within 256 MB more than
// the 10 MB line it read.
func TestDeepAndWideValues(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	var b strings.Builder
	b.WriteString("107 1 CreationTimestamp 1700000000\n101 01.-1 Job Machine\n103 01.-1 Owner \"alice\"\n")
	b.WriteString("101 1.0 Job Machine\n103 1.0 JobStatus 1\n103 1.0 Deep " + strings.Repeat("1+", 5_000_000) + "1\n")
	b.WriteString("103 1.0 Parens " + strings.Repeat("(", 3_000_000) + "1" + strings.Repeat(")", 3_000_000) + "\n")
	b.WriteString("101 1.1 Job Machine\n103 1.1 JobStatus 2\n")
	const wide = 200_000
	for _, i := range rand.New(rand.NewPCG(1, 1)).Perm(wide) { // out of name order
		fmt.Fprintf(&b, "103 1.1 Attr%06d %d\n", i, i)
	}
	if err := os.WriteFile(log, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond,
		listen: "127.0.0.1:0", telemetryPath: "/metrics", metrics: exporter.Options{Interval: 10 * time.Millisecond}})
	waitFor(t, "the load", func() bool { return caughtUp(t, status(t, db), log) })
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 256<<20 {
		t.Errorf("the heap grew by %d MB", grew>>20)
	}
	if st := status(t, db); st.Corrupt != 2 {
		t.Errorf("%d corrupt records, want the two deep values", st.Corrupt)
	}
	out, errOut, code := runCLI(t, "q", "--db", db, "--af", "JobStatus,Deep,Parens,Attr000007,Attr199999")
	if want := "1 undefined undefined undefined undefined\n2 undefined undefined 7 199999\n"; code != 0 || out != want {
		t.Errorf("q: exit %d %q %s, want %q", code, out, errOut, want)
	}
	out, _, _ = runCLI(t, "q", "--db", db, "1.1", "--long")
	if n := strings.Count("\n"+out, "\nAttr"); n != wide {
		t.Errorf("q --long shows %d of the %d attributes", n, wide)
	}
	url := status(t, db).Daemon.Metrics
	waitFor(t, "a collection", func() bool {
		v, _ := value(scrapeMetrics(t, url), "htcondor_queue_jobs", "status", "running")
		return v == 1
	})
	if code := d.stop(t); code != 0 {
		t.Fatalf("the daemon exited %d:\n%.2000s", code, d.stderr.String())
	}
}

// TestLoadThatCannotFit: a load that can never fit on the disk (here, a
// file size limit of 16.5 MiB, for a load that needs more) used to be retried at every poll at 100% CPU.
// The daemon backs off: it stays up, says why in status, and uses less
// than a core.
func TestLoadThatCannotFit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a failing daemon for seconds")
	}
	log, db, _ := generatedQueue(t, 40000)
	cmd := exec.Command("bash", "-c", `ulimit -f 16896 && exec "$0" "$@"`, os.Args[0],
		"serve", "--log", log, "--db", db, "--poll", "20ms", "--web.listen-address", "")
	cmd.Env = append(os.Environ(), "QINDEX_TEST_MAIN=1", "QINDEX_ONLY_MY_JOBS=false")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "the daemon's socket", func() bool { _, err := os.Stat(socketPath(db)); return err == nil })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the daemon's log:\n%.3000s", stderr.String())
		}
	})
	waitFor(t, "a failure in status", func() bool {
		st := status(t, db)
		return st.Daemon != nil && st.Daemon.Errors >= 2 && !st.Daemon.NextTry.IsZero()
	})
	time.Sleep(10 * time.Second) // the pauses double: 20 ms, 40 ms, ... at least thrice a failed load's time
	st := status(t, db)
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	wall := time.Since(start)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if err != nil {
		t.Errorf("the daemon: %v\n%.2000s", err, stderr.String())
	}
	if !strings.Contains(st.Daemon.LastError, "file too large") {
		t.Errorf("status gives the last error as %q", st.Daemon.LastError)
	}
	// Retried at every poll, the load (which sorts and writes on two
	// goroutines) kept more than a core busy; each pause is now at least
	// thrice the failed load's time.
	if cpu > wall*9/10 {
		t.Errorf("%v of CPU in %v: no backoff", cpu, wall)
	}
	t.Logf("%d failed loads, %v of CPU in %v", st.Daemon.Errors, cpu, wall)
}

// TestFailedFirstIngestLeavesNoFile: an ingest that cannot finish a new
// database (here a file size limit stops it: bbolt grows a file by 16 MiB
// at its first commit, and by more as a load goes on) removes it.
func TestFailedFirstIngestLeavesNoFile(t *testing.T) {
	log, db, _ := generatedQueue(t, 40000)
	for _, limit := range []struct{ kib, what string }{{"8192", "open db " + db}, {"24576", "ingest " + log + " into " + db}} {
		cmd := exec.Command("bash", "-c", `ulimit -f `+limit.kib+` && exec "$0" "$@"`, os.Args[0], "ingest", "--log", log, "--db", db)
		cmd.Env = append(os.Environ(), "QINDEX_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), limit.what) {
			t.Fatalf("ingest under a file size limit of %s KiB: %v: %s", limit.kib, err, out)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("a failed first ingest left %s behind: %s", db, out)
		}
	}
}

// TestIngestRefusesWhatIsNotALog: files that are not job queue logs are
// refused with exit 1 and a message naming them, and no database is
// created for them.
func TestIngestRefusesWhatIsNotALog(t *testing.T) {
	dir := t.TempDir()
	garbage := "107 1 CreationTimestamp 1700000000\n"
	for i := range 10 {
		garbage += fmt.Sprintf("\x00\x01binary %d\xff\n", i)
	}
	for _, tt := range []struct{ name, content, why string }{
		{"empty", "", "the file is empty"},
		{"passwd", "root:x:0:0:root:/root:/bin/bash\n", "is not a '107"},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00\n\x03\x00\x3e\x00", "is not a '107"},
		{"header then garbage", garbage, "none of the 8 lines after its header is a record"},
		{"missing", "", "no such file"},
	} {
		log := filepath.Join(dir, tt.name+".log")
		if tt.name != "missing" {
			os.WriteFile(log, []byte(tt.content), 0o644)
		}
		db := filepath.Join(dir, tt.name+".db")
		_, errOut, code := runCLI(t, "ingest", "--log", log, "--db", db)
		if code != 1 || !strings.Contains(errOut, log) || !strings.Contains(errOut, tt.why) {
			t.Errorf("%s: exit %d: %s", tt.name, code, errOut)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("%s: a database was created", tt.name)
		}
	}
}
