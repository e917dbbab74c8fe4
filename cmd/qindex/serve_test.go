package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qindex/qindex/ingest/loggen"
	"github.com/qindex/qindex/store"
	"github.com/qindex/qindex/store/storetest"

	bolt "go.etcd.io/bbolt"
)

// TestMain lets a test run this binary as the qindex command, to kill it.
func TestMain(m *testing.M) {
	if os.Getenv("QINDEX_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for a daemon's goroutines and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is 'qindex serve' run in this process.
type daemon struct {
	log, db string
	stderr  *syncBuffer
	cancel  context.CancelFunc
	done    chan int
}

func startDaemon(t *testing.T, log, db string, poll time.Duration) *daemon {
	t.Helper()
	return startDaemonWith(t, serveOptions{log: log, db: db, poll: poll})
}

// startDaemonWith runs serve with o, its logger writing to the daemon's
// stderr.
func startDaemonWith(t *testing.T, o serveOptions) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{log: o.log, db: o.db, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	o.logger = newLogger(d.stderr)
	go func() {
		// serve itself, not through the CLI package: see cliMu.
		code := 0
		if err := serve(ctx, o); err != nil {
			fmt.Fprintln(d.stderr, err)
			code = 1
		}
		d.done <- code
	}()
	t.Cleanup(func() { d.stop(t) })
	waitFor(t, "the daemon's socket", func() bool { _, err := os.Stat(socketPath(o.db)); return err == nil })
	return d
}

// stop ends the daemon as SIGTERM does and returns its exit status.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	if d.cancel == nil {
		return 0
	}
	d.cancel()
	d.cancel = nil
	select {
	case code := <-d.done:
		noSecrets(t, "the daemon's log", d.stderr.String())
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not stop")
	}
	return -1
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// status returns qindex status --json for db.
func status(t *testing.T, db string) statusReport {
	t.Helper()
	out, errOut, code := runCLI(t, "status", "--db", db, "--json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var st statusReport
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	return st
}

// caughtUp reports whether the status says db holds all of the log file.
func caughtUp(t *testing.T, st statusReport, log string) bool {
	fi, err := os.Stat(log)
	if err != nil {
		return false
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	return st.Generation.Inode == ino && st.Offset == fi.Size()
}

// loaded reports whether the status says db holds a load of the current
// log file (a fixture ending in an open transaction is never caught up).
func loaded(t *testing.T, st statusReport, log string) bool {
	fi, err := os.Stat(log)
	return err == nil && st.Offset > 0 && st.Generation.Inode == fi.Sys().(*syscall.Stat_t).Ino
}

func copyFixture(t *testing.T, name, to string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDaemonAnswersQueries runs every golden query against a running
// daemon (over its socket) and requires the golden output; after a stop,
// the same queries read the file.
func TestDaemonAnswersQueries(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	copyFixture(t, "queue.log", log)
	d := startDaemon(t, log, db, 20*time.Millisecond)
	waitFor(t, "the first load", func() bool { return loaded(t, status(t, db), log) })

	fi, err := os.Stat(socketPath(db))
	if err != nil || fi.Mode().Perm() != 0o666 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket: %v, mode %v; want a socket every local user may use (0666)", err, fi.Mode())
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("db: %v, mode %v; want one every local user may read (0644)", err, fi.Mode())
	}
	st := status(t, db)
	if st.Daemon == nil || st.Daemon.PID != os.Getpid() || st.Jobs != 7 || st.Offset+st.LagBytes != st.LogSize {
		t.Errorf("status from the daemon: %+v", st)
	}
	golden := func(t *testing.T) {
		for _, q := range goldenQueries {
			out, errOut, code := runCLI(t, append([]string{"q", "--db", db}, q.args...)...)
			out = strings.ReplaceAll(out, db, "q.db") // the banner names the db
			want, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", q.name+".txt"))
			if code != 0 || out != string(want) {
				t.Errorf("%s: exit %d %s\n--- got\n%s--- want\n%s", q.name, code, errOut, out, want)
			}
		}
	}
	golden(t)
	if _, errOut, code := runCLI(t, "q", "--db", db, "--constraint", "Owner =="); code != 2 || !strings.Contains(errOut, "constraint") {
		t.Errorf("bad constraint through the daemon: exit %d: %s", code, errOut)
	}
	if _, errOut, _ := runCLI(t, "q", "--db", db, "--constraint", "JobStatus == 5", "--explain"); !strings.Contains(errOut, "plan: index") {
		t.Errorf("--explain through the daemon: %q", errOut)
	}

	if code := d.stop(t); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, d.stderr)
	}
	if _, err := os.Stat(socketPath(db)); !os.IsNotExist(err) {
		t.Errorf("socket left after a clean stop: %v", err)
	}
	if st := status(t, db); st.Daemon != nil || st.Jobs != 7 {
		t.Errorf("status from the file: %+v", st)
	}
	golden(t)
}

// TestDaemonFollowsALiveLog has the generator write a live log in arbitrary
// byte chunks (torn lines, open transactions) and compact it, with and
// without the rotated link, while queries run against the daemon. Queries
// never fail and never see an empty queue; new transactions reach them;
// at the end the db equals the generator's truth and check is clean.
func TestDaemonFollowsALiveLog(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	g := loggen.New(loggen.Config{Seed: 5, TargetJobs: 2000, Owners: 30})
	var first bytes.Buffer
	g.WriteQueue(&first, 1500, false)
	os.WriteFile(log, first.Bytes(), 0o600)
	const poll = 20 * time.Millisecond
	d := startDaemon(t, log, db, poll)
	waitFor(t, "the first load", func() bool {
		_, err := os.Stat(socketPath(db))
		return err == nil && caughtUp(t, status(t, db), log)
	})

	ctx, stopQueries := context.WithCancel(context.Background())
	var queries sync.WaitGroup
	var queryErrs syncBuffer
	var nQueries int
	queries.Go(func() {
		for ctx.Err() == nil {
			out, errOut, code := runCLI(t, "q", "--db", db, "--af", "ClusterId,ProcId")
			nQueries++
			lines := strings.Split(strings.TrimSpace(out), "\n")
			switch {
			case code != 0:
				fmt.Fprintf(&queryErrs, "exit %d: %s\n", code, errOut)
			case len(lines) < 500:
				fmt.Fprintf(&queryErrs, "a query saw %d jobs\n", len(lines))
			}
		}
	})

	rng := rand.New(rand.NewPCG(5, 5))
	seq := int64(1)
	for round := range 8 {
		var pending bytes.Buffer
		g.Run(&pending, 1500)
		f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		for pending.Len() > 0 {
			f.Write(pending.Next(min(pending.Len(), 1+rng.IntN(30000))))
			time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
		}
		f.Close()
		if round%3 == 2 {
			rotated := round%2 == 0
			compact(t, g, log, seq, rotated)
			seq++
		}
	}
	// One more transaction, after the daemon caught up: it reaches queries.
	waitFor(t, "the daemon to catch up", func() bool { return caughtUp(t, status(t, db), log) })
	var last bytes.Buffer
	g.Run(&last, 1)
	appendFile(t, log, last.Bytes())
	waitFor(t, "the last transaction", func() bool { return caughtUp(t, status(t, db), log) })
	stopQueries()
	queries.Wait()
	if s := queryErrs.String(); s != "" {
		t.Errorf("queries during the run:\n%s", s)
	}
	if nQueries < 5 {
		t.Errorf("only %d queries ran", nQueries)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, d.stderr)
	}
	// Whether a compaction caught the daemon behind depends on timing; the
	// rotated-file step itself is tested in ingest.
	t.Logf("%d queries; generations finished from their rotated file: %d", nQueries, strings.Count(d.stderr.String(), "rotated file"))
	requireTruth(t, db, log, g)
}

// compact does what the schedd does at a rotation (FORMAT.md §5): with
// rotate, link the log to job_queue.log.<seq>; write the snapshot beside
// it; rename it over the log.
func compact(t *testing.T, g *loggen.Generator, log string, seq int64, rotate bool) {
	t.Helper()
	if rotate {
		os.Remove(log + "." + strconv.FormatInt(seq-1, 10))
		if err := os.Link(log, log+"."+strconv.FormatInt(seq, 10)); err != nil {
			t.Fatal(err)
		}
	}
	var snap bytes.Buffer
	if err := g.Compact(&snap); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log+".tmp", snap.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(log+".tmp", log); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// requireTruth checks the stopped daemon's db against the generator: every
// job's chained attributes, each log record consumed exactly once since
// the current file was loaded, qindex check clean, and every job the model
// destroyed in the history once (see requireTruthSeen).
func requireTruth(t *testing.T, dbPath, log string, g *loggen.Generator) {
	t.Helper()
	requireTruthSeen(t, dbPath, log, g, nil)
}

// requireTruthSeen is requireTruth for a daemon that may not have seen
// every job: only the jobs of seen (all, if nil) must be in the history;
// any other job the model destroyed may be missing, as one that came and
// went while no daemon had read its records.
func requireTruthSeen(t *testing.T, dbPath, log string, g *loggen.Generator, seen map[store.Key]bool) {
	t.Helper()
	if out, errOut, code := runCLI(t, "check", "--db", dbPath); code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	db, err := store.Open(dbPath, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(s *store.Snapshot) error {
		pos, _ := s.Position()
		content, _ := os.ReadFile(log)
		if lines := int64(bytes.Count(content, []byte{'\n'})); pos.Records != lines || pos.Offset != int64(len(content)) {
			t.Errorf("position: %d records at offset %d; the file has %d lines, %d bytes (records lost or applied twice)",
				pos.Records, pos.Offset, lines, len(content))
		}
		return nil
	})
	if err := db.View(g.CompareJobs); err != nil {
		t.Error(err)
	}
	// Compactions without a rotated file hide the records before them:
	// the jobs that left there are unobserved, with the last ad seen.
	err = db.View(func(s *store.Snapshot) error {
		recorded := make(map[store.Key]bool)
		for e := range s.History(store.HistoryID{}) {
			recorded[e.Key] = true
		}
		return g.CompareHistorySeen(s, func(k store.Key) (map[string]string, bool) {
			return nil, seen == nil || seen[k] || recorded[k]
		})
	})
	if err != nil {
		t.Error(err)
	}
}

// TestDaemonSurvivesKills kills the daemon (a child process) with SIGKILL
// at random moments while the generator writes and compacts, restarts it,
// and requires the generator's truth at the end, every record consumed
// once, and a clean stop on SIGTERM.
func TestDaemonSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child daemon many times")
	}
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	g := loggen.New(loggen.Config{Seed: 9, TargetJobs: 6000, Owners: 50})
	var first bytes.Buffer
	g.WriteQueue(&first, 4000, false)
	os.WriteFile(log, first.Bytes(), 0o600)

	var stderr syncBuffer
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "serve", "--log", log, "--db", db, "--poll", "10ms", "--history.retention", "0") // the model's jobs left in 2025
		cmd.Args[0] = "qindex"
		cmd.Path = os.Args[0]
		cmd.Env = append(os.Environ(), "QINDEX_TEST_MAIN=1")
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// The first daemon loads the first log whole: the jobs that left in it
	// must be in the history at the end. After it, a daemon killed before
	// it read a job's records, with a compaction that hid them, never saw
	// that job.
	first0 := start()
	waitFor(t, "the first load", func() bool {
		_, err := os.Stat(socketPath(db))
		return err == nil && caughtUp(t, status(t, db), log)
	})
	first0.Process.Kill()
	first0.Wait()
	seen := make(map[store.Key]bool)
	for k := range g.LeftJobs() {
		seen[k] = true
	}
	rng := rand.New(rand.NewPCG(9, 9))
	seq := int64(1)
	kills := 1
	for round := range 14 {
		cmd := start()
		var pending bytes.Buffer
		g.Run(&pending, 2000)
		f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		for pending.Len() > 0 {
			f.Write(pending.Next(min(pending.Len(), 1+rng.IntN(60000))))
		}
		f.Close()
		if round%4 == 1 {
			compact(t, g, log, seq, round%8 == 1)
			seq++
		}
		// Kill it mid-batch, or mid-reload after a compaction.
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		kills++
	}
	cmd := start()
	waitFor(t, "the restarted daemon to catch up", func() bool { return caughtUp(t, status(t, db), log) })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "did not stop cleanly") {
		t.Errorf("no restart noticed the unclean stops:\n%s", stderr.String())
	}
	requireTruthSeen(t, db, log, g, seen)
	logs := stderr.String()
	t.Logf("%d kills, %d restarts resumed, %d reloads begun, %d of them after an interrupted one", kills,
		strings.Count(logs, "did not stop cleanly"), strings.Count(logs, "reloading"), strings.Count(logs, "reload was interrupted"))
}

// TestDaemonAfterAnUncleanStop starts a daemon on the file of one that did
// not stop cleanly: killed (its marker is from this boot), or stopped by a
// machine restart (a marker from another boot), the file then possibly
// holding pages of different commits, as unsynced writes can leave it. A
// kill resumes from the last commit; a machine restart rebuilds from the
// log without trusting the file; a damaged file is moved aside. Each
// ends with the log's queue, a clean stop, and no marker.
func TestDaemonAfterAnUncleanStop(t *testing.T) {
	for _, tt := range []struct {
		name    string
		boot    string // the marker's boot id; "" for none, "this" for this boot
		damage  string
		want    string // in the new daemon's logs
		aside   int    // the file is moved to FILE.damaged: 0 no, 1 yes, 2 either
		resumes bool   // the new daemon reloads nothing
	}{
		{"killed", "this", "", "resuming from its last commit", 0, true},
		{"machine restart", "a boot before a power loss", "", "did not stop before the machine restarted", 0, false},
		{"machine restart, unreadable marker", "garbage", "", "did not stop before the machine restarted", 0, false},
		{"machine restart, pages of two commits", "a boot before a power loss", "mix", "rebuilding", 2, false},
		{"machine restart, file cut short", "a boot before a power loss", "cut short", "the database is damaged", 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log, dbPath := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
			g := loggen.New(loggen.Config{Seed: 3, TargetJobs: 3000})
			var b bytes.Buffer
			g.WriteQueue(&b, 2000, false)
			os.WriteFile(log, b.Bytes(), 0o600)
			if _, errOut, code := runCLI(t, "ingest", "--log", log, "--db", dbPath); code != 0 {
				t.Fatal(errOut)
			}
			older, _ := os.ReadFile(dbPath)
			g.Run(&b, 3000)
			os.WriteFile(log, b.Bytes(), 0o600)
			if _, errOut, code := runCLI(t, "ingest", "--log", log, "--db", dbPath); code != 0 {
				t.Fatal(errOut)
			}
			switch tt.boot {
			case "":
			case "this":
				markUnsynced(dbPath, unsynced{PID: 1, Boot: bootID()})
			case "garbage":
				os.WriteFile(unsyncedPath(dbPath), []byte("\x00{"), 0o644)
			default:
				markUnsynced(dbPath, unsynced{PID: 1, Boot: tt.boot})
			}
			fi, _ := os.Stat(dbPath)
			f, _ := os.OpenFile(dbPath, os.O_RDWR, 0)
			switch tt.damage {
			case "mix": // the older commit's pages, but for bbolt's meta pages
				const page = 16384
				f.WriteAt(older[2*page:min(len(older), int(fi.Size()))], 2*page)
			case "cut short": // well below the pages in use
				if fi.Size() < 1<<20 {
					t.Fatalf("db of %d bytes", fi.Size())
				}
				f.Truncate(256 << 10)
			}
			f.Close()
			d := startDaemon(t, log, dbPath, 20*time.Millisecond)
			// Caught up, and its first catch-up over: the status shows the
			// file's offset as soon as a load commits, its count of
			// reloads only once the catch-up returns.
			var st statusReport
			waitFor(t, "the daemon to catch up", func() bool {
				st = status(t, dbPath)
				return caughtUp(t, st, log) && st.Daemon != nil && !st.Daemon.CaughtUp.IsZero()
			})
			if u, found := lastUnsynced(dbPath); !found || u.Boot != bootID() {
				t.Errorf("while serving, marker %+v, %v", u, found)
			}
			d.stop(t)
			logs := d.stderr.String()
			if !strings.Contains(logs, tt.want) {
				t.Errorf("logs lack %q:\n%s", tt.want, logs)
			}
			if _, err := os.Stat(dbPath + ".damaged"); tt.aside != 2 && (err == nil) != (tt.aside == 1) {
				t.Errorf("moved aside: %v, want %v", err == nil, tt.aside == 1)
			}
			if st.Daemon == nil || (st.Daemon.Reloads == 0) != tt.resumes || tt.resumes && strings.Contains(logs, "rebuilding") {
				t.Errorf("resumes %v, but: %+v\n%s", tt.resumes, st.Daemon, logs)
			}
			if _, found := lastUnsynced(dbPath); found {
				t.Error("the marker survives a clean stop")
			}
			requireTruth(t, dbPath, log, g)
		})
	}
}

// TestDaemonLogTrouble takes the log away, replaces it with a directory,
// and gives it back: the daemon reports the error in status, keeps
// serving what it has, and catches up once the log returns.
func TestDaemonLogTrouble(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	copyFixture(t, "queue.log", log)
	d := startDaemon(t, log, db, 10*time.Millisecond)
	waitFor(t, "the first load", func() bool { return loaded(t, status(t, db), log) })
	content, _ := os.ReadFile(log)

	os.Remove(log)
	waitFor(t, "the error in status", func() bool { st := status(t, db); return st.LogError != "" && st.Daemon.Errors > 0 })
	if out, _, code := runCLI(t, "q", "--db", db, "--totals"); code != 0 || !strings.Contains(out, "Total for query: 7 jobs;") {
		t.Errorf("without its log the daemon answers %d %q", code, out)
	}
	os.Mkdir(log, 0o700)
	waitFor(t, "a directory reported", func() bool { return strings.Contains(status(t, db).LogError, "directory") })
	os.Remove(log)
	os.WriteFile(log, content, 0o600)
	waitFor(t, "the log again", func() bool {
		st := status(t, db)
		return st.LogError == "" && st.Daemon.LastError == "" && loaded(t, st, log)
	})
	d.stop(t)
	logs := d.stderr.String()
	if strings.Count(logs, "catching up failed") > 4 || !strings.Contains(logs, "readable again") {
		t.Errorf("the errors were not logged once each, or the recovery not at all:\n%s", logs)
	}
}

// TestSignals: SIGHUP makes the daemon look at the log at once and keeps
// it running; SIGTERM, even twice at once, leaves no socket behind.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	copyFixture(t, "snapshot.log", log)
	cmd, stderr := serveProcess(t, "--log", log, "--db", db, "--poll", "1h", "--web.listen-address", "")
	defer cmd.Process.Kill()
	waitFor(t, "the socket", func() bool { _, err := os.Stat(socketPath(db)); return err == nil })
	// Read to the end, so that nothing but SIGHUP makes it read what is
	// appended (a load is done before its catch-up reads the log's end).
	waitFor(t, "the first catch-up", func() bool {
		st := status(t, db)
		return st.Daemon != nil && !st.Daemon.CaughtUp.IsZero() && loaded(t, st, log)
	})
	before := status(t, db).Offset

	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("105 \n103 1.0 JobPrio 7\n106 \n")
	f.Close()
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the log looked at after SIGHUP", func() bool { return status(t, db).Offset > before })
	// The daemon's stderr reaches the buffer through a pipe, maybe after
	// the status has shown the new offset.
	waitFor(t, "word of SIGHUP in the daemon's log", func() bool {
		return strings.Contains(stderr.String(), "SIGHUP: looking at the log now")
	})

	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not stop")
	}
	if _, err := os.Stat(socketPath(db)); err == nil {
		t.Errorf("the socket is left behind:\n%s", stderr.String())
	}
}

// TestCommandsBesideTheDaemon: while the log is missing a query says what
// the daemon is doing; once it has loaded, check runs in the daemon and
// ingest says there is nothing to do, both exiting 0.
func TestCommandsBesideTheDaemon(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	d := startDaemon(t, log, db, 20*time.Millisecond)
	defer d.stop(t)
	waitFor(t, "the socket", func() bool { _, err := os.Stat(socketPath(db)); return err == nil })
	for _, args := range [][]string{{"q", "--db", db, "-allusers"}, {"check", "--db", db}} {
		_, errOut, code := runCLI(t, args...)
		if code != 1 || !strings.Contains(errOut, "the daemon has no queue yet: it cannot read the log "+log) {
			t.Errorf("%v without a log: exit %d: %s", args, code, errOut)
		}
	}

	copyFixture(t, "queue.log", log)
	waitFor(t, "the first load", func() bool { return loaded(t, status(t, db), log) })
	out, errOut, code := runCLI(t, "check", "--db", db)
	if code != 0 || !strings.Contains(out, "check: "+db+": 7 jobs and 1 history entry, indexes and counts agree") {
		t.Errorf("check beside the daemon: exit %d: %s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "ingest", "--db", db, "--log", log)
	if code != 0 || !strings.Contains(out, "keeps "+db+" current from "+log+"; nothing to do") {
		t.Errorf("ingest beside the daemon: exit %d: %s%s", code, out, errOut)
	}
}

// TestQueryWaitsForTheFirstLoad: a query asked while the daemon loads a
// large log waits for the load, saying so, and answers.
func TestQueryWaitsForTheFirstLoad(t *testing.T) {
	log, db, _ := generatedQueue(t, 60000)
	d := startDaemon(t, log, db, 20*time.Millisecond)
	defer d.stop(t)
	waitFor(t, "the socket", func() bool { _, err := os.Stat(socketPath(db)); return err == nil })
	out, errOut, code := runCLI(t, "q", "--db", db, "-allusers", "-totals")
	if code != 0 || !strings.Contains(out, "Total for all users: ") {
		t.Fatalf("a query during the first load: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "qindex: the daemon is loading the log "+log) {
		t.Errorf("while waiting, the query said: %q", errOut)
	}
}

// TestServeRebuildsAnOlderSchema: a database an older qindex wrote is kept
// aside and rebuilt from the log, not refused.
func TestServeRebuildsAnOlderSchema(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	copyFixture(t, "queue.log", log)
	if _, errOut, code := runCLI(t, "ingest", "--log", log, "--db", db); code != 0 {
		t.Fatal(errOut)
	}
	want, _, _ := runCLI(t, "q", "--db", db, "-allusers", "-af", "ClusterId", "ProcId", "Owner", "JobStatus")
	b, err := bolt.Open(db, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("8")) })
	b.Close()
	if _, errOut, code := runCLI(t, "q", "--db", db); code != 1 || !strings.Contains(errOut, `schema version "8"`) {
		t.Fatalf("a query of the old file: exit %d: %s", code, errOut)
	}

	d := startDaemon(t, log, db, 20*time.Millisecond)
	defer d.stop(t)
	waitFor(t, "the rebuild", func() bool { st := status(t, db); return st.Daemon != nil && loaded(t, st, log) })
	if got, errOut, code := runCLI(t, "q", "--db", db, "-allusers", "-af", "ClusterId", "ProcId", "Owner", "JobStatus"); code != 0 || got != want {
		t.Errorf("after the rebuild: exit %d %s: %s", code, errOut, got)
	}
	if _, err := os.Stat(db + ".schema-8"); err != nil {
		t.Errorf("the old file was not kept aside: %v", err)
	}
	if !strings.Contains(d.stderr.String(), "the database has another schema version") {
		t.Errorf("the daemon did not say why it rebuilt:\n%s", d.stderr.String())
	}
}

// TestUpgradeAnswersFromTheOlderFile: after an upgrade to a schema that
// changed only the indexes, the daemon rebuilds the file from the log and
// answers from the old one until the swap: the old answers, read without
// its indexes, then the new ones.
func TestUpgradeAnswersFromTheOlderFile(t *testing.T) {
	log, db, g := ingestedQueue(t, 2000)
	af := []string{"q", "--db", db, "-allusers", "-af", "ClusterId", "ProcId", "Owner", "JobStatus"}
	totals := []string{"q", "--db", db, "-allusers", "-totals"}
	wantJobs, _, _ := runCLI(t, af...)
	wantTotals, _, _ := runCLI(t, totals...)
	storetest.MakeOlder(t, db, "11")
	// The schedd went on during the upgrade, and its log cannot be read
	// for now: the rebuild waits for it.
	fl, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	g.Run(fl, 300)
	fl.Close()
	if err := os.Rename(log, log+".away"); err != nil {
		t.Fatal(err)
	}

	d := startDaemon(t, log, db, 20*time.Millisecond)
	defer d.stop(t)
	waitFor(t, "the socket", func() bool { _, err := os.Stat(socketPath(db)); return err == nil })
	if got, errOut, code := runCLI(t, af...); code != 0 || got != wantJobs {
		t.Errorf("during the rebuild: exit %d %s; the jobs differ from the older file's", code, errOut)
	}
	if got, errOut, code := runCLI(t, totals...); code != 0 || got != wantTotals {
		t.Errorf("totals during the rebuild: exit %d %s:\n%s\nwant:\n%s", code, errOut, got, wantTotals)
	}
	st := status(t, db)
	if st.Daemon == nil || !strings.Contains(st.Daemon.Rebuilding, "has schema 11 and is being rebuilt from the log for schema "+store.SchemaVersion) {
		t.Errorf("status during the rebuild: %+v", st.Daemon)
	}
	if st.Jobs == 0 || st.JobsByStatus["idle"]+st.JobsByStatus["running"]+st.JobsByStatus["held"] == 0 {
		t.Errorf("status counts during the rebuild: %d jobs, %v", st.Jobs, st.JobsByStatus)
	}
	if out, errOut, code := runCLI(t, "check", "--db", db); code == 0 || !strings.Contains(errOut, "rebuilds it") {
		t.Errorf("check during the rebuild: exit %d: %s%s", code, out, errOut)
	}

	if err := os.Rename(log+".away", log); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rebuild", func() bool { return strings.Contains(d.stderr.String(), "rebuilt the database") })
	if got, _, code := runCLI(t, af...); code != 0 || got == wantJobs {
		t.Errorf("after the rebuild: exit %d; the answer is still the older file's", code)
	}
	if _, err := os.Stat(schemaPath(db, "11")); err != nil {
		t.Errorf("the older file was not kept aside: %v", err)
	}
	if strings.Contains(d.stderr.String(), "pruning the history failed") {
		t.Errorf("the daemon tried to write the older file:\n%s", d.stderr.String())
	}
	if st := status(t, db); st.Daemon.Rebuilding != "" || !caughtUp(t, st, log) {
		t.Errorf("status after the rebuild: %+v", st.Daemon)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("the daemon exited %d:\n%s", code, d.stderr.String())
	}
	requireTruth(t, db, log, g)
}

// TestSIGHUPDuringARebuild: a rebuild that waits for a log it cannot read
// looks at it again on SIGHUP, as the follower does, not at its next poll.
func TestSIGHUPDuringARebuild(t *testing.T) {
	log, db, _ := ingestedQueue(t, 200)
	storetest.MakeOlder(t, db, "11")
	if err := os.Rename(log, log+".away"); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := serveProcess(t, "--log", log, "--db", db, "--poll", "1h", "--web.listen-address", "")
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitFor(t, "the rebuild to fail on the missing log", func() bool {
		return strings.Contains(stderr.String(), "catching up failed")
	})
	if err := os.Rename(log+".away", log); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the rebuild after SIGHUP", func() bool { return strings.Contains(stderr.String(), "rebuilt the database") })
	// Without the signal, the next try comes after the backoff: 30 s.
	if took := time.Since(sent); took > 10*time.Second {
		t.Errorf("the rebuild came %s after SIGHUP, at its next try", took.Round(time.Second))
	}
}

// serveProcess starts 'qindex serve' with args as a process of its own,
// keeping its stderr.
func serveProcess(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := qindexCmd(append([]string{"serve"}, args...)...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stderr
}
