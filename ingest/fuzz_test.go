package ingest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/qindex/qindex/store"
)

// FuzzParseRecord: any line parses or fails with a short message; a set
// has a name without separators and a value.
func FuzzParseRecord(f *testing.F) {
	for _, line := range []string{"101 01.-1 Job Machine", "102 1.0", `103 1.0 Cmd "C:\Users\alice"`, "104 1.0 Foo",
		"105 ", "106 #c", "107 3 CreationTimestamp 1700000000", "103 1.0 ClaimId\t\"s\"", "103\t1.0\tA\t1", "999 1.0",
		"103 1.0 A \x00", "103 1.0", "101 2147483648.0 Job Machine", "103 -0.-0 A 1", ""} {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRecord(line)
		if err != nil {
			if len(err.Error()) > 500 {
				t.Fatalf("an error of %d bytes", len(err.Error()))
			}
			return
		}
		if r.Op == OpSetAttr && (len(r.Name) == 0 || len(r.Value) == 0 || bytes.ContainsAny(r.Name, " \t")) {
			t.Fatalf("103 parsed as name %q value %q", r.Name, r.Value)
		}
	})
}

// FuzzReplay: replaying any log does not panic, and replaying a prefix of
// it, then resuming on the whole, reaches the state and position of one
// replay of the whole (torn lines, open transactions and all).
func FuzzReplay(f *testing.F) {
	f.Add([]byte(header+"105 \n101 01.-1 Job Machine\n103 1.-1 Owner \"alice\"\n101 1.0 Job Machine\n103 1.0 JobStatus 1\n106 \n"+
		"103 1.0 JobStatus 2\n105 \n103 1.0 HoldReason \"a  b\"\n106 \n999\n102 1.0\n"), uint16(80))
	f.Add([]byte(header+"101 1.0 Job Machine\n103 1.0 Iwd \"C:\\x\\\"\n103 1.0 R ((x == 1) && y)\n105\n105\n104 1.0 R\n106\n"), uint16(40))
	f.Add([]byte("107 1 CreationTimestamp 1\n101 1.0 Job Machine\r\n103 1.0 A 1\r\n106\n"), uint16(3))
	f.Add([]byte("not a log\n"), uint16(2))
	f.Fuzz(func(t *testing.T, log []byte, cut uint16) {
		if len(log) > 1<<16 {
			return
		}
		cutAt := int(cut) % (len(log) + 1)
		replay := func(db *store.DB, path string) (Summary, error) {
			return CatchUp(context.Background(), db, Options{Log: path})
		}
		whole, wholeDB := fuzzEnv(t, log)
		_, wholeErr := replay(wholeDB, whole)

		parts, partsDB := fuzzEnv(t, log[:cutAt])
		replay(partsDB, parts) // a prefix may not be a log yet
		if err := os.WriteFile(parts, log, 0o600); err != nil {
			t.Fatal(err)
		}
		_, partsErr := replay(partsDB, parts)
		if (wholeErr == nil) != (partsErr == nil) {
			t.Fatalf("one replay: %v; prefix of %d bytes, then the rest: %v", wholeErr, cutAt, partsErr)
		}
		if wholeErr != nil {
			return
		}
		if a, b := dumpState(t, wholeDB), dumpState(t, partsDB); a != b {
			t.Fatalf("one replay:\n%s\nprefix of %d bytes, then the rest:\n%s", a, cutAt, b)
		}
		p1, _ := wholeDB.Target()
		p2, _ := partsDB.Target()
		a, b := p1.Position, p2.Position
		if a.Offset != b.Offset || a.Records != b.Records || a.Corrupt != b.Corrupt || a.Transactions != b.Transactions {
			t.Fatalf("positions differ: one replay %+v, in two %+v", a, b)
		}
		checkIndexes(t, partsDB)
	})
}

// fuzzEnv writes content to a log in a new directory and opens a db beside.
func fuzzEnv(t *testing.T, content []byte) (string, *store.DB) {
	dir := t.TempDir()
	log := filepath.Join(dir, "job_queue.log")
	if err := os.WriteFile(log, content, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "q.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return log, db
}
