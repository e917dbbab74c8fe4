package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/qindex/qindex/store"
)

// env is a log file and a db in a temporary directory.
type env struct {
	t     *testing.T
	log   string
	db    *store.DB
	trace *bytes.Buffer
	// lateCheck leaves checking the indexes to the test, for tests that
	// catch up hundreds of times.
	lateCheck bool
}

func newEnv(t *testing.T, content string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, log: filepath.Join(dir, "job_queue.log"), trace: &bytes.Buffer{}}
	e.write(content)
	db, err := store.Open(filepath.Join(dir, "q.db"), store.Options{NoSync: true}) // durability is not what these tests test
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	return e
}

func (e *env) write(content string) {
	e.t.Helper()
	if err := os.WriteFile(e.log, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) append(content string) {
	e.t.Helper()
	f, err := os.OpenFile(e.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) catchUp(limits store.Limits) Summary {
	e.t.Helper()
	logger := slog.New(slog.NewTextHandler(e.trace, nil))
	sum, err := CatchUp(context.Background(), e.db, Options{Log: e.log, Limits: limits, Logger: logger})
	if err != nil {
		e.t.Fatal(err)
	}
	if !e.lateCheck {
		checkIndexes(e.t, e.db)
	}
	return sum
}

// checkIndexes fails the test if the indexes disagree with the ads; every
// catch-up in these tests is followed by it.
func checkIndexes(t testing.TB, db *store.DB) {
	t.Helper()
	err := db.View(func(s *store.Snapshot) error {
		if !s.Loaded() {
			return nil
		}
		n, err := s.Check(func(p string) { t.Errorf("check: %s", p) })
		if err == nil && n > 0 {
			err = fmt.Errorf("%d differences between the indexes and the ads", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// state renders every stored ad, one per line: "key MyType: Name=Value; ...".
func (e *env) state() string {
	e.t.Helper()
	return dumpState(e.t, e.db)
}

func dumpState(t testing.TB, db *store.DB) string {
	t.Helper()
	var sb strings.Builder
	err := db.View(func(s *store.Snapshot) error {
		for k, a := range s.Ads() {
			sb.WriteString(k.String() + " " + a.MyType() + ":")
			for n, v := range a.All() {
				sb.WriteString(" " + string(n) + "=" + string(v) + ";")
			}
			sb.WriteString("\n")
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

const header = "107 1 CreationTimestamp 1763853165\n"

func TestCatchUpSemantics(t *testing.T) {
	tests := []struct {
		name    string
		log     string
		want    string
		corrupt int64
		records int64
	}{
		{
			name: "a string that ends in a backslash is kept (FORMAT.md §2)",
			log:  header + "101 1.0 Job Machine\n103 1.0 Iwd \"C:\\condor\\execute\\\"\n",
			want: "1.0 Job: Iwd=\"C:\\condor\\execute\\\";\n", records: 3,
		},
		{
			name: "records outside a transaction apply at once",
			log:  header + "101 1.0 Job Machine\n103 1.0 A 1\n",
			want: "1.0 Job: A=1;\n", records: 3,
		},
		{
			name: "a transaction applies at its 106",
			log:  header + "105 \n101 01.-1 Job Machine\n103 1.-1 Owner \"alice\"\n106 \n",
			want: "1.-1 Job: Owner=\"alice\";\n", records: 5,
		},
		{
			name: "an open transaction at the end is not applied",
			log:  header + "101 1.0 Job Machine\n105 \n103 1.0 A 1\n102 1.0\n",
			want: "1.0 Job:\n", records: 2,
		},
		{
			name: "105 and 106 without trailing space, 106 with a comment",
			log:  header + "105\n101 1.0 Job Machine\n106\n105 \n103 1.0 A 1\n106 #done\n",
			want: "1.0 Job: A=1;\n", records: 7,
		},
		{
			name: "nested 105 and unmatched 106 are ignored",
			log:  header + "106 \n105 \n101 1.0 Job Machine\n105 \n103 1.0 A 1\n106 \n103 1.0 B 2\n",
			want: "1.0 Job: A=1; B=2;\n", records: 8,
		},
		{
			name: "crlf and a torn last line",
			log:  header + "101 1.0 Job Machine\r\n103 1.0 A \"x\"\r\n103 1.0 B 2",
			want: "1.0 Job: A=\"x\";\n", records: 3,
		},
		{
			name: "keys are numbers, only the schedd's rules create ads",
			log: header + "103 1.0 Early 1\n101 01.-1 Job Machine\n101 1.-1 Other Machine\n103 1.-1 A 1\n" +
				"101 0001.0 Job Machine\n103 1.00 B 2\n104 1.0 Missing\n102 7.7\n",
			want: "1.-1 Job: A=1;\n1.0 Job: B=2;\n", records: 9,
		},
		{
			name: "secrets never reach the store",
			log:  header + "101 1.0 Job Machine\n103 1.0 ClaimId \"secret\"\n103 1.0 _condor_privFoo 1\n103 1.0 TransferKey \"k\"\n103 1.0 A 1\n",
			want: "1.0 Job: A=1;\n", records: 6,
		},
		{
			name: "corrupt records are skipped and counted",
			log: header + "101 1.0 Job Machine\n999 bogus\n103 1.0 A (1 +\n103 1.0 B\n\n103 1.0 C 3\n107 2 CreationTimestamp 5\n" +
				"103 1.0 D \x00\n105 \nxyz\n103 1.0 E 5\n106 \n",
			want: "1.0 Job: C=3; E=5;\n", corrupt: 7, records: 13,
		},
		{
			name: "a later set replaces regardless of case; values are verbatim",
			log:  header + "101 1.0 Job Machine\n103 1.0 Cmd \"C:\\Users\\alice\"\n103 1.0 CMD \"C:\\Users\\bob\"\n103 1.0 Args \"a  b\"\n",
			want: "1.0 Job: Args=\"a  b\"; Cmd=\"C:\\Users\\bob\";\n", records: 5,
		},
	}
	// Each case runs through both ways of applying a log: loaded whole from
	// the start (store.Loader), and tailed after a first catch-up that saw
	// only the header (store.Writer); each with default limits and with one
	// operation per sorted run or group commit.
	for _, tt := range tests {
		for _, mode := range []string{"load", "tail"} {
			for _, limits := range []store.Limits{{}, {Records: 1}} {
				t.Run(fmt.Sprintf("%s/%s/%d", tt.name, mode, limits.Records), func(t *testing.T) {
					var e *env
					var sum Summary
					if mode == "load" {
						e = newEnv(t, tt.log)
						sum = e.catchUp(limits)
					} else {
						e = newEnv(t, header)
						first := e.catchUp(limits)
						e.append(strings.TrimPrefix(tt.log, header))
						sum = e.catchUp(limits)
						if sum.Reloaded {
							t.Fatalf("tailing reloaded: %s", sum.Reason)
						}
						sum.Records += first.Records
					}
					if got := e.state(); got != tt.want {
						t.Errorf("state\n%s\nwant\n%s", got, tt.want)
					}
					if sum.Corrupt != tt.corrupt || sum.Records != tt.records {
						t.Errorf("corrupt %d records %d, want %d %d", sum.Corrupt, sum.Records, tt.corrupt, tt.records)
					}
					again := e.catchUp(limits)
					if again.Records != 0 || again.Transactions != 0 || again.Reloaded || again.Corrupt != 0 {
						t.Errorf("a second run replayed something: %+v", again)
					}
					if got := e.state(); got != tt.want {
						t.Errorf("a second run changed the state to\n%s", got)
					}
				})
			}
		}
	}
}

func TestCorruptRecordsNameFileAndLine(t *testing.T) {
	e := newEnv(t, header+"101 1.0 Job Machine\n999 bogus\n105 \n103 1.0 A (\n106 \n")
	e.catchUp(store.Limits{})
	out := e.trace.String()
	for _, want := range []string{"file=" + e.log + " line=3", "file=" + e.log + " line=5", "unknown op code", "unparsable value"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
}

func TestOpenTransactionCompletesLater(t *testing.T) {
	e := newEnv(t, header+"101 1.0 Job Machine\n105 \n103 1.0 A 1\n103 1.0 B (\n")
	first := e.catchUp(store.Limits{})
	if first.Corrupt != 0 {
		t.Errorf("corrupt record inside an open transaction counted before it completes: %+v", first)
	}
	wantOffset := int64(len(header + "101 1.0 Job Machine\n"))
	if first.Position.Offset != wantOffset || first.Position.Line != 2 {
		t.Errorf("position %d line %d, want %d line 2 (before the 105)", first.Position.Offset, first.Position.Line, wantOffset)
	}
	e.append("103 1.0 C 3\n106 \n")
	second := e.catchUp(store.Limits{})
	if got := e.state(); got != "1.0 Job: A=1; C=3;\n" {
		t.Errorf("state %q", got)
	}
	if second.Corrupt != 1 || second.Records != 5 || second.Transactions != 1 || second.Reloaded {
		t.Errorf("second run %+v", second)
	}
	if second.Position.Corrupt != 1 || second.Position.Records != 7 {
		t.Errorf("cumulative counts %+v", second.Position)
	}
}

func TestAppliedTimeMovesOnlyWithTransactions(t *testing.T) {
	e := newEnv(t, header+"101 1.0 Job Machine\n")
	first := e.catchUp(store.Limits{}).Position.Applied
	if first.IsZero() {
		t.Fatal("no applied time after a transaction")
	}
	e.append("999 corrupt\n106 \n")
	if got := e.catchUp(store.Limits{}).Position.Applied; !got.Equal(first) {
		t.Errorf("applied time moved from %v to %v with no transaction applied", first, got)
	}
}

func TestResumeAppliesOnlyNewRecords(t *testing.T) {
	e := newEnv(t, header+"101 1.0 Job Machine\n103 1.0 N 1\n")
	e.catchUp(store.Limits{})
	e.append("103 1.0 N 2\n103 1.0 M 1\n")
	sum := e.catchUp(store.Limits{})
	if sum.Records != 2 || sum.Reloaded || sum.Bytes != int64(len("103 1.0 N 2\n103 1.0 M 1\n")) {
		t.Errorf("resume %+v", sum)
	}
	if got := e.state(); got != "1.0 Job: M=1; N=2;\n" {
		t.Errorf("state %q", got)
	}
}

func TestNewGenerationReloads(t *testing.T) {
	tests := []struct {
		name   string
		next   func(e *env)
		reason string
		want   string
	}{
		{
			name:   "compaction: new seq, new inode",
			reason: "new generation",
			next: func(e *env) {
				tmp := e.log + ".tmp"
				os.WriteFile(tmp, []byte("107 2 CreationTimestamp 1763853165\n101 2.0 Job Machine\n101 02.-1 Job Machine\n103 2.-1 Owner \"b\"\n"), 0o600)
				os.Rename(tmp, e.log)
			},
			want: "2.-1 Job: Owner=\"b\";\n2.0 Job:\n",
		},
		{
			name:   "wiped spool: new creation time",
			reason: "recreated",
			next: func(e *env) {
				os.Remove(e.log)
				e.write("107 1 CreationTimestamp 1800000000\n101 3.0 Job Machine\n")
			},
			want: "3.0 Job:\n",
		},
		{
			name:   "file shorter than the saved offset",
			reason: "shorter",
			next: func(e *env) {
				f, _ := os.OpenFile(e.log, os.O_WRONLY|os.O_TRUNC, 0)
				f.WriteString(header)
				f.Close()
			},
			want: "",
		},
		{
			name:   "last record no longer matches",
			reason: "no longer the last record",
			next: func(e *env) {
				f, _ := os.OpenFile(e.log, os.O_WRONLY|os.O_TRUNC, 0)
				f.WriteString(header + "101 1.0 Job Machine\n103 1.0 A 9\n103 1.0 B 2\n")
				f.Close()
			},
			want: "1.0 Job: A=9; B=2;\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, header+"101 1.0 Job Machine\n103 1.0 A 1\n")
			e.catchUp(store.Limits{})
			tt.next(e)
			sum := e.catchUp(store.Limits{})
			if !sum.Reloaded || !strings.Contains(sum.Reason, tt.reason) {
				t.Errorf("reloaded %v reason %q, want a reload because %q", sum.Reloaded, sum.Reason, tt.reason)
			}
			if !strings.Contains(e.trace.String(), "reloading") {
				t.Errorf("no log line about the reload: %s", e.trace)
			}
			if got := e.state(); got != tt.want {
				t.Errorf("state\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestChunkedAppendsMatchOnePass writes a log in small arbitrary chunks, tearing
// lines and leaving transactions open between catch-ups, and with tiny
// group limits, and requires the same state as one pass over the whole file.
func TestChunkedAppendsMatchOnePass(t *testing.T) {
	log := header +
		"105 \n101 01.-1 Job Machine\n103 1.-1 Owner \"alice\"\n101 1.0 Job Machine\n103 1.0 JobStatus 1\n101 1.1 Job Machine\n106 \n" +
		"103 1.0 JobStatus 2\n105 \n103 1.1 JobStatus 5\n103 1.1 HoldReason \"a  b\"\n106 \n999\n" +
		"105 \n102 1.0\n103 1.-1 Owner \"bob\"\n106 \n105 \n101 2.0 Job Machine\n"
	whole := newEnv(t, log)
	whole.catchUp(store.Limits{})
	want := whole.state()

	for _, chunk := range []int{1, 3, 7, 16} {
		e := newEnv(t, "")
		for i := 0; i < len(log); i += chunk {
			e.append(log[i:min(i+chunk, len(log))])
			if i+chunk < len(header) { // not a log until its header is complete
				_, err := CatchUp(context.Background(), e.db, Options{Log: e.log})
				if !errors.Is(err, ErrNotALog) {
					t.Fatalf("chunks of %d: %d bytes of the header: %v, want ErrNotALog", chunk, i+chunk, err)
				}
				continue
			}
			e.catchUp(store.Limits{Records: 1})
		}
		if got := e.state(); got != want {
			t.Errorf("chunks of %d: state\n%s\nwant\n%s", chunk, got, want)
		}
		tg, _ := e.db.Target()
		if tg.Position.Corrupt != 1 || tg.Position.Records != whole.catchUpPosition().Records {
			t.Errorf("chunks of %d: counts %+v", chunk, tg.Position)
		}
	}
}

func (e *env) catchUpPosition() store.Position {
	tg, err := e.db.Target()
	if err != nil {
		e.t.Fatal(err)
	}
	return tg.Position
}

// TestCancelledCatchUp cancels a load, which must leave nothing visible and
// start over next time, and a tail, which must commit what it applied and
// resume from there.
func TestCancelledCatchUp(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(header)
	for i := range 200 {
		sb.WriteString("105 \n101 1." + strconv.Itoa(i) + " Job Machine\n103 1." + strconv.Itoa(i) + " A " + strconv.Itoa(i) + "\n106 \n")
	}
	whole := newEnv(t, sb.String())
	whole.catchUp(store.Limits{})
	want := whole.state()
	// Each run is cancelled after it has read a few dozen lines.
	cancelled := func() context.Context { return &cancelAfter{Context: context.Background(), n: 40} }

	t.Run("load", func(t *testing.T) {
		e := newEnv(t, sb.String())
		sum, err := CatchUp(cancelled(), e.db, Options{Log: e.log, Limits: store.Limits{Records: 5}})
		if !errors.Is(err, context.Canceled) || !sum.Reloaded {
			t.Fatalf("cancelled load: %+v, %v; want a reload and the context's error", sum, err)
		}
		if got := e.state(); got != "" {
			t.Errorf("a cancelled load is visible:\n%s", got)
		}
		sum = e.catchUp(store.Limits{Records: 5})
		if !strings.Contains(sum.Reason, "interrupted") || sum.Records != whole.catchUpPosition().Records {
			t.Errorf("after a cancelled load: %+v (%s); want the whole log loaded again", sum, sum.Reason)
		}
		if got := e.state(); got != want {
			t.Errorf("state after the load starts over differs from one pass")
		}
	})

	t.Run("tail", func(t *testing.T) {
		e := newEnv(t, header)
		e.catchUp(store.Limits{})
		e.append(strings.TrimPrefix(sb.String(), header))
		sum, err := CatchUp(cancelled(), e.db, Options{Log: e.log, Limits: store.Limits{Records: 5}})
		if !errors.Is(err, context.Canceled) || sum.Reloaded || sum.Records == 0 || sum.Position.Offset >= int64(sb.Len()) {
			t.Fatalf("cancelled tail: %+v, %v; want a partial replay and the context's error", sum, err)
		}
		if got := e.catchUpPosition(); got.Offset != sum.Position.Offset {
			t.Errorf("saved offset %d, want the %d the cancelled run reached", got.Offset, sum.Position.Offset)
		}
		if rest := e.catchUp(store.Limits{Records: 5}); rest.Reloaded || rest.Records+sum.Records+1 != whole.catchUpPosition().Records {
			t.Errorf("resumed run %+v: want the rest of the records, each once", rest)
		}
		if got := e.state(); got != want {
			t.Errorf("resumed state differs from one pass")
		}
	})
}

// cancelAfter is a context whose Err reports cancellation from its n-th
// call on.
type cancelAfter struct {
	context.Context
	n int
}

func (c *cancelAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

func TestCatchUpErrors(t *testing.T) {
	e := newEnv(t, header)
	for _, bad := range []string{filepath.Join(t.TempDir(), "missing.log"), t.TempDir()} {
		if _, err := CatchUp(context.Background(), e.db, Options{Log: bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("CatchUp(%s): %v, want an error naming it", bad, err)
		}
	}
}

// TestRotatedGenerationFinishedFirst compacts a log the db has not fully
// read. When the schedd kept the old file as job_queue.log.<seq>, its rest
// is applied (and committed) before the new generation is loaded; without
// the link, or with a link that is not the saved generation, the new file
// is loaded directly. Either way the final state is the new file's.
func TestRotatedGenerationFinishedFirst(t *testing.T) {
	const first = header + "101 1.0 Job Machine\n103 1.0 A 1\n"
	const rest = "105 \n103 1.0 A 2\n106 \n"
	const snapshot = "107 2 CreationTimestamp 1763853165\n101 1.0 Job Machine\n103 1.0 A 3\n"
	tests := []struct {
		name     string
		rotate   func(e *env) // before the new file is renamed over the log
		wantRest bool
	}{
		{"rotated link kept", func(e *env) { os.Link(e.log, e.log+".1") }, true},
		{"no rotated link", func(e *env) {}, false},
		{"link to another file", func(e *env) { os.WriteFile(e.log+".1", []byte(first+rest), 0o600) }, false},
		{"rotated file truncated", func(e *env) { os.WriteFile(e.log+".1", []byte(header), 0o600) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, first)
			e.catchUp(store.Limits{})
			e.append(rest)
			tt.rotate(e)
			tmp := e.log + ".tmp"
			os.WriteFile(tmp, []byte(snapshot), 0o600)
			os.Rename(tmp, e.log)

			var commits []string
			onCommit := func(p store.Position) {
				commits = append(commits, fmt.Sprintf("seq %d offset %d: %s", p.Generation.Seq, p.Offset, dumpState(t, e.db)))
			}
			sum, err := CatchUp(context.Background(), e.db, Options{Log: e.log, OnCommit: onCommit,
				Logger: slog.New(slog.NewTextHandler(e.trace, nil))})
			if err != nil {
				t.Fatal(err)
			}
			checkIndexes(t, e.db)
			var want []string
			if tt.wantRest {
				want = append(want, fmt.Sprintf("seq 1 offset %d: 1.0 Job: A=2;\n", len(first+rest)))
			}
			want = append(want, fmt.Sprintf("seq 2 offset %d: 1.0 Job: A=3;\n", len(snapshot)))
			if strings.Join(commits, "|") != strings.Join(want, "|") {
				t.Errorf("commits\n%q\nwant\n%q", commits, want)
			}
			if !sum.Reloaded {
				t.Error("the new generation was not loaded")
			}
			if got := strings.Contains(e.trace.String(), "rotated file"); got != tt.wantRest {
				t.Errorf("log mentions the rotated file: %v, want %v:\n%s", got, tt.wantRest, e.trace)
			}
		})
	}
}

// TestLoadOfAFileCutShortKeepsTheQueue: a log truncated in place after the
// load opened it (and read its header) leaves the load with what was left;
// the load fails instead of replacing the queue with it.
func TestLoadOfAFileCutShortKeepsTheQueue(t *testing.T) {
	e := newEnv(t, "107 1 CreationTimestamp 100\n105 \n101 1.0 Job Machine\n103 1.0 JobStatus 1\n106 \n")
	e.catchUp(store.Limits{})
	before := e.state()
	e.write("107 2 CreationTimestamp 200\n105 \n101 1.0 Job Machine\n103 1.0 JobStatus 2\n101 1.1 Job Machine\n106 \n")
	f, size, gen, err := openLog(e.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(e.log, 30); err != nil { // the header and half a line
		t.Fatal(err)
	}
	var sum Summary
	o := Options{Log: e.log}.withDefaults()
	err = replayFile(context.Background(), e.db, o, f, size, store.Position{Generation: gen}, true, &sum)
	if err == nil || !strings.Contains(err.Error(), "shrank from") {
		t.Fatalf("a load of a file cut short: %v", err)
	}
	if got := e.state(); got != before {
		t.Errorf("the queue changed:\n%s\nwant\n%s", got, before)
	}
}
