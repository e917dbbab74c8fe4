package store

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/qindex/qindex/store/storetest"
)

// FuzzParseExpr: any text parses, or fails with a short message, without
// exhausting the stack; a tree it accepts nests at most MaxExprDepth. The
// literal readers that spare the parser agree with strconv on it.
//
// Found by fuzzing (testdata/fuzz/FuzzParseExpr): the 80 characters an
// error quotes grow fourfold when they are invalid UTF-8 (\xbe); a bound
// of 300 bytes was too tight, the message is still bounded.
func FuzzParseExpr(f *testing.F) {
	for _, text := range []string{`1`, `"C:\Users\alice"`, `"C:\condor\"`, `"a\"b"`, `((JobStatus == 4) && (time() - CompletionDate) < 864000)`,
		`{ "a", "b" }`, `[ x = 1; y = x ]`, `a ? b : c`, `-1.5e3`, `MY.Owner =?= "x"`, `strcat("a\", "b")`, `f(g(h(1)))[2].x`,
		strings.Repeat("(", 1200), strings.Repeat("1+", 1100) + "1", `"unterminated`, `'quoted name' + 1`} {
		f.Add(text)
	}
	for _, text := range []string{`-0`, `-42`, `007`, `9223372036854775807`, `-9223372036854775809`, `1e999`, `123456789012345678901234567890`} {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkLiteralReaders(t, text)
		e, err := ParseExpr(text)
		if err != nil {
			if len(err.Error()) > 500 {
				t.Fatalf("an error of %d bytes", len(err.Error()))
			}
			return
		}
		if d := Depth(e); d > MaxExprDepth {
			t.Fatalf("a tree %d deep accepted", d)
		}
	})
}

// FuzzOldSyntaxString: a string literal of the log is the characters
// between its quotes, backslashes included (only \" is an escape), and a
// backslash that ends it is its own (FORMAT.md §2).
func FuzzOldSyntaxString(f *testing.F) {
	for _, s := range []string{`C:\Users\alice`, `C:\condor\execute\`, `\`, `a\tb\n`, `\\`, ``, `x y  z`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []byte(s) {
			if c < 0x20 || c > 0x7e || c == '"' {
				return // the schedd writes neither control characters nor bare quotes
			}
		}
		if got := evalString(t, `"`+s+`"`); got != s {
			t.Fatalf("%q read as %q", `"`+s+`"`, got)
		}
	})
}

// FuzzOpen: any bytes opened as a database are refused, or read (every
// job, the counts, the index reads, the checks) without a panic, as the
// daemon opens them (an older schema read without its indexes, too); a
// file whose pages do not form trees is reported, never walked by bbolt.
func FuzzOpen(f *testing.F) {
	valid := fuzzSeedDB(f)
	f.Add(valid)
	older := filepath.Join(f.TempDir(), "older.db")
	os.WriteFile(older, valid, 0o600)
	storetest.MakeOlder(f, older, "11")
	if b, err := os.ReadFile(older); err == nil {
		f.Add(b)
	}
	f.Add(valid[:len(valid)/2])
	f.Add([]byte("root:x:0:0:root:/root:/bin/bash\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "q.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(path, Options{ReadOnly: true, Older: true})
		if err != nil {
			return
		}
		defer db.Close()
		if n, err := db.CheckPages(func(string) {}); n > 0 || err != nil {
			return
		}
		db.View(func(s *Snapshot) error {
			s.Position()
			s.JobCount()
			for j := range s.Jobs(AllJobs[0], AllJobs[1]) {
				j.Lookup("Owner")
				s.Ad(j.Key)
			}
			for range s.StatusCounts() {
			}
			for c := range s.Counts() {
				for range s.JobsByOwner(c.Owner) {
				}
				for range s.JobsFiled(c.Owner, c.Status) {
				}
				refs := slices.Collect(s.JobsByStatus(c.Status))
				for range s.Filings(refs) {
				}
			}
			s.Check(func(string) {})
			return s.Err()
		})
		db.CheckPages(func(string) {})
	})
}

// fuzzSeedDB returns the bytes of a small valid database.
func fuzzSeedDB(f *testing.F) []byte {
	path := filepath.Join(f.TempDir(), "seed.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	var ops []string
	for c := 1; c <= 3; c++ {
		ops = append(ops, "new "+itoa(c)+".-1 Job", "set "+itoa(c)+".-1 Owner \"u"+itoa(c)+"\"")
		for p := 0; p < 3; p++ {
			k := itoa(c) + "." + itoa(p)
			ops = append(ops, "new "+k+" Job", "set "+k+" JobStatus "+itoa(1+(c+p)%5))
		}
	}
	load(f, db, Position{}, ops...)
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func itoa(n int) string { return string(rune('0' + n)) }

// checkLiteralReaders requires IntLiteral and NumberLiteral to give what
// strconv gives for the texts LiteralKind calls integers and reals, and
// nothing for the others.
func checkLiteralReaders(t *testing.T, text string) {
	kind := LiteralKind(text)
	n, ok := IntLiteral(text)
	wantN, err := strconv.ParseInt(text, 10, 64)
	if wantOK := kind == KindInt && err == nil; ok != wantOK || ok && n != wantN {
		t.Errorf("IntLiteral(%q) = %d, %v; want %d, %v", text, n, ok, wantN, wantOK)
	}
	f, literal, ok := NumberLiteral(text)
	wantF, err := strconv.ParseFloat(text, 64)
	isNumber := kind == KindInt || kind == KindReal
	if wantOK := isNumber && err == nil; literal != isNumber || ok != wantOK || isNumber && math.Float64bits(f) != math.Float64bits(wantF) {
		t.Errorf("NumberLiteral(%q) = %v, %v, %v; want %v, %v, %v", text, f, literal, ok, wantF, isNumber, wantOK)
	}
}
