package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		in   string
		want Key
		kind Kind
		bad  bool
	}{
		{in: "1.0", want: Key{1, 0}, kind: KindJob},
		{in: "01.-1", want: Key{1, -1}, kind: KindCluster},
		{in: "023605.-1", want: Key{23605, -1}, kind: KindCluster},
		{in: "0.0", want: Key{0, 0}, kind: KindHeader},
		{in: "0.2", want: Key{0, 2}, kind: KindOwnerRecord},
		{in: "1.-2", want: Key{1, -2}, kind: KindClusterPrivate},
		{in: "7.-100", want: Key{7, -100}, kind: KindJobSet},
		{in: "0.-1", want: Key{0, -1}, kind: KindOther},
		{in: "12.345", want: Key{12, 345}, kind: KindJob},
		{in: "1", bad: true},
		{in: "1.", bad: true},
		{in: ".1", bad: true},
		{in: "a.b", bad: true},
		{in: "1.0.0", bad: true},
		{in: "1.0x", bad: true},
		{in: "99999999999.0", bad: true},
		{in: "-.1", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseKey([]byte(tt.in))
		if tt.bad {
			if err == nil {
				t.Errorf("ParseKey(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want || got.Kind() != tt.kind {
			t.Errorf("ParseKey(%q) = %v, %v (kind %d); want %v (kind %d)", tt.in, got, err, got.Kind(), tt.want, tt.kind)
		}
	}
}

func TestAdCodec(t *testing.T) {
	attrs := []Attr{{"Args", `"a  b"`}, {"ClusterId", "1"}, {"cmd", `"C:\Users\alice\x.exe"`}, {"JobStatus", "2"}, {"owner", `"alice"`}}
	a := Ad(appendAd(nil, Key{Cluster: 1, Proc: 0}, "Job", attrs))
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if a.MyType() != "Job" || a.Len() != 5 {
		t.Errorf("MyType %q Len %d", a.MyType(), a.Len())
	}
	for _, tt := range []struct{ name, want string }{
		{"OWNER", `"alice"`}, {"Owner", `"alice"`}, {"cmd", `"C:\Users\alice\x.exe"`}, {"CMD", `"C:\Users\alice\x.exe"`},
		{"args", `"a  b"`}, {"jobstatus", "2"}, {"ClusterID", "1"},
	} {
		v, ok := a.Lookup(tt.name)
		if !ok || string(v) != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.name, v, ok, tt.want)
		}
	}
	for _, missing := range []string{"", "Own", "Owners", "zzz", "AAA"} {
		if v, ok := a.Lookup(missing); ok {
			t.Errorf("Lookup(%q) = %q, want missing", missing, v)
		}
	}
	myType, back, err := decodeAd(a)
	if err != nil || myType != "Job" || !slices.Equal(back, attrs) {
		t.Errorf("decodeAd = %q %v %v", myType, back, err)
	}
	var names []string
	for n := range a.All() {
		names = append(names, string(n))
	}
	if strings.Join(names, ",") != "Args,ClusterId,cmd,JobStatus,owner" {
		t.Errorf("All order: %v", names)
	}
	wrongHash := slices.Clone(a)
	wrongHash[1+adSumLen+1+len("Job")+1+4*len(attrs)]++ // the first hash, after the version, checksum, MyType, n and the offsets
	for _, bad := range []Ad{nil, {}, {9}, a[:len(a)-3], {adFormat, 0, 0, 0, 0, 200}, {adFormat - 1, 0, 0, 0, 0, 0, 0}, wrongHash,
		// Two attributes' tables need 12 bytes after their count; 11 follow it.
		{adFormat, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%v) accepted a malformed ad", []byte(bad))
		}
	}
	empty := Ad(appendAd(nil, Key{Cluster: 1, Proc: -1}, "", nil))
	if empty.Len() != 0 || empty.MyType() != "" {
		t.Errorf("empty ad: %d %q", empty.Len(), empty.MyType())
	}
	seeds := map[uint32]Key{}
	for c := int64(-2); c < 300; c++ {
		for p := int64(-100); p < 300; p++ {
			k := Key{Cluster: c, Proc: p}
			if other, dup := seeds[keySeed(k)]; dup {
				t.Fatalf("keys %v and %v share a seed", k, other)
			}
			seeds[keySeed(k)] = k
		}
	}
	// The checksum binds the bytes to the key: any change to either fails.
	k := Key{Cluster: 1, Proc: 0}
	if _, err := openAd(k, a); err != nil {
		t.Errorf("openAd of an intact ad: %v", err)
	}
	if _, err := openAd(Key{Cluster: 1, Proc: 1}, a); !errors.Is(err, ErrDamaged) {
		t.Errorf("openAd under another key: %v", err)
	}
	for i := range a {
		for _, flip := range []byte{1, 0x80} {
			bad := slices.Clone(a)
			bad[i] ^= flip
			if _, err := openAd(k, bad); !errors.Is(err, ErrDamaged) {
				t.Fatalf("byte %d changed by %#x: openAd accepted it", i, flip)
			}
		}
	}
	for _, cut := range []int{0, 1, 5, len(a) - 1} {
		if _, err := openAd(k, a[:cut]); !errors.Is(err, ErrDamaged) {
			t.Errorf("cut to %d bytes: openAd accepted it", cut)
		}
	}
}

// TestLookupHashCollision stores two names whose hashes collide: a lookup
// of either must compare the name, not trust the hash.
func TestLookupHashCollision(t *testing.T) {
	seen := make(map[uint16]string)
	var x, y string
	for i := 0; x == ""; i++ {
		name := fmt.Sprintf("Attr%d", i)
		if other, ok := seen[nameHash(name)]; ok {
			x, y = other, name
		}
		seen[nameHash(name)] = name
	}
	attrs := []Attr{{x, "1"}, {y, "2"}}
	slices.SortFunc(attrs, func(a, b Attr) int { return compareFold(a.Name, b.Name) })
	a := Ad(appendAd(nil, Key{Cluster: 1, Proc: 0}, "Job", attrs))
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, want := range attrs {
		if v, ok := a.Lookup(strings.ToUpper(want.Name)); !ok || string(v) != want.Value {
			t.Errorf("Lookup(%q) = %q, %v; want %q", want.Name, v, ok, want.Value)
		}
	}
	if v, ok := a.Lookup("Attr"); ok {
		t.Errorf("Lookup(Attr) = %q, want missing", v)
	}
}

// TestHashIndex compares the word-at-a-time scan with a scan of one hash at
// a time, over tables of every length up to three words and a tail, with
// the values where a borrow between lanes could fake a match.
func TestHashIndex(t *testing.T) {
	values := []uint16{0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x0100}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 14 {
		for range 200 {
			hashes := make([]byte, 2*n)
			for i := range n {
				binary.LittleEndian.PutUint16(hashes[2*i:], values[rng.IntN(len(values))])
			}
			for _, h := range values {
				for from := range n + 1 {
					want := -1
					for i := from; i < n; i++ {
						if binary.LittleEndian.Uint16(hashes[2*i:]) == h {
							want = i
							break
						}
					}
					if got := hashIndex(hashes, h, from); got != want {
						t.Fatalf("hashIndex(%x, %#x, %d) = %d, want %d", hashes, h, from, got, want)
					}
				}
			}
		}
	}
}

func TestLookupSorted(t *testing.T) {
	a := Ad(appendAd(nil, Key{Cluster: 1}, "Job", []Attr{{"Args", `"x"`}, {"ClusterId", "1"}, {"JobStatus", "2"}, {"owner", `"alice"`}, {"QDate", "5"}}))
	for _, c := range []struct {
		names []string
		want  []string // "-" for absent
	}{
		{nil, nil},
		{[]string{"args"}, []string{`"x"`}},
		{[]string{"a", "args", "b", "jobstatus", "qdate", "z"}, []string{"-", `"x"`, "-", "2", "5", "-"}},
		{[]string{"clusterid", "clusterids", "jobstatus", "owner", "qdate"}, []string{"1", "-", "2", `"alice"`, "5"}},
		{[]string{"aaa", "zzz"}, []string{"-", "-"}},
		{[]string{"own", "owner", "ownerx"}, []string{"-", `"alice"`, "-"}},
	} {
		vals := make([][]byte, len(c.names))
		for i := range vals {
			vals[i] = []byte("stale")
		}
		a.LookupSorted(c.names, vals)
		for i, name := range c.names {
			got := "-"
			if vals[i] != nil {
				got = string(vals[i])
			}
			// The one-pass answer must be Lookup's.
			if want, ok := a.Lookup(name); got != c.want[i] || ok != (got != "-") || ok && string(want) != got {
				t.Errorf("LookupSorted(%v): %s = %q, want %q", c.names, name, got, c.want[i])
			}
		}
	}
	vals := [][]byte{[]byte("stale")}
	Ad(nil).LookupSorted([]string{"owner"}, vals)
	if vals[0] != nil {
		t.Error("LookupSorted on a malformed ad left a value")
	}
}

func TestIsSecret(t *testing.T) {
	for _, n := range []string{"Capability", "capability", "ChildClaimIds", "ClaimId", "CLAIMID", "ClaimIdList", "ClaimIds", "TransferKey", "_condor_priv", "_CONDOR_PRIVATE_x", "_condor_privAttr"} {
		if !IsSecret(n) {
			t.Errorf("IsSecret(%q) = false", n)
		}
	}
	for _, n := range []string{"Claim", "ClaimIdx", "Owner", "_condor", "condor_priv", "TransferKeys", "PublicClaimId"} {
		if IsSecret(n) {
			t.Errorf("IsSecret(%q) = true", n)
		}
	}
}

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "q.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()

	missing := filepath.Join(dir, "missing.db")
	if _, err := Open(missing, Options{ReadOnly: true}); !errors.Is(err, ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("read-only open of a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("read-only open created the file")
	}

	text := filepath.Join(dir, "text.db")
	content := bytes.Repeat([]byte("this is not a database\n"), 1000)
	os.WriteFile(text, content, 0o644)
	if _, err := Open(text, Options{}); err == nil || !strings.Contains(err.Error(), "not a qindex database") {
		t.Errorf("open of a text file: %v", err)
	}
	if got, _ := os.ReadFile(text); !bytes.Equal(got, content) {
		t.Error("open of a text file changed it")
	}

	foreign := filepath.Join(dir, "foreign.db")
	b, _ := bolt.Open(foreign, 0o600, nil)
	b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	b.Close()
	before, _ := os.ReadFile(foreign)
	if _, err := Open(foreign, Options{}); err == nil || !strings.Contains(err.Error(), "not a qindex database") {
		t.Errorf("open of another bbolt file: %v", err)
	}
	if after, _ := os.ReadFile(foreign); !bytes.Equal(before, after) {
		t.Error("open of another bbolt file changed it")
	}

	other := filepath.Join(dir, "v1.db") // schema 1 had no indexes
	db, err := Open(other, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("1")) })
	db.Close()
	before, _ = os.ReadFile(other)
	if _, err := Open(other, Options{}); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Errorf("open of another schema version: %v", err)
	}
	if after, _ := os.ReadFile(other); !bytes.Equal(before, after) {
		t.Error("open of another schema version changed it")
	}
}

func TestNewFileMode(t *testing.T) {
	_, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != DefaultMode {
		t.Errorf("new db mode %v, want %v", fi.Mode().Perm(), DefaultMode)
	}
	path = filepath.Join(t.TempDir(), "private.db")
	db, err := Open(path, Options{Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("db created with mode 0600: %v %v", fi.Mode().Perm(), err)
	}
}

// TestEmptyAndTruncatedFiles: an empty file is not opened for reading,
// a truncated one is damage, each with a sentence saying so.
func TestEmptyAndTruncatedFiles(t *testing.T) {
	db, path := openTemp(t)
	load(t, db, Position{}, "new 1.0 Job", "set 1.0 JobStatus 1")
	db.Close()
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	used := int(binary.LittleEndian.Uint64(whole[56:])) * 16384 // the meta's high-water page id; the file may be longer
	for _, tt := range []struct {
		name    string
		size    int
		damaged bool
		msg     string
	}{
		{"empty", 0, false, "the file is empty, not a qindex database"},
		{"cut in its first page", 100, true, "the file is truncated: 100 bytes"},
		{"cut after its metas", 2*16384 + 10, true, "the file is truncated"},
		{"one used page short", used - 16384, true, "the file is truncated"},
	} {
		p := filepath.Join(dir, tt.name+".db")
		os.WriteFile(p, whole[:tt.size], 0o644)
		_, err := Open(p, Options{ReadOnly: true})
		if err == nil || !strings.Contains(err.Error(), tt.msg) || errors.Is(err, ErrDamaged) != tt.damaged {
			t.Errorf("%s: %v; want a message with %q (damaged %v)", tt.name, err, tt.msg, tt.damaged)
		}
	}
}

// sink is what Writer and Loader have in common.
type sink interface {
	NewAd(k Key, myType string) error
	DestroyAd(k Key) error
	SetAttr(k Key, name, value []byte) error
	DeleteAttr(k Key, name []byte) error
}

// apply runs ops against w; each op is "new K T", "destroy K", "set K N V" or "del K N".
func apply(t testing.TB, w sink, ops ...string) {
	t.Helper()
	for _, op := range ops {
		f := strings.SplitN(op, " ", 4)
		k, err := ParseKey([]byte(f[1]))
		if err != nil {
			t.Fatal(err)
		}
		switch f[0] {
		case "new":
			err = w.NewAd(k, f[2])
		case "destroy":
			err = w.DestroyAd(k)
		case "set":
			err = w.SetAttr(k, []byte(f[2]), []byte(f[3]))
		case "del":
			err = w.DeleteAttr(k, []byte(f[2]))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// dump renders every stored ad as "key: Name=Value ..." lines.
func dump(t *testing.T, db *DB) string {
	t.Helper()
	var sb strings.Builder
	err := db.View(func(s *Snapshot) error {
		for k, a := range s.Ads() {
			sb.WriteString(k.String() + ":")
			for n, v := range a.All() {
				sb.WriteString(" " + string(n) + "=" + string(v))
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

func TestWriterReplayRules(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]string
		want    string
		jobs    int64
	}{
		{
			name:    "set on missing ad is dropped",
			batches: [][]string{{"set 1.0 A 1", "new 1.0 Job", "set 1.0 B 2"}},
			want:    "1.0: B=2\n", jobs: 1,
		},
		{
			name:    "duplicate new keeps attributes",
			batches: [][]string{{"new 1.0 Job", "set 1.0 A 1"}, {"new 1.0 Job", "set 1.0 B 2"}},
			want:    "1.0: A=1 B=2\n", jobs: 1,
		},
		{
			name:    "names are case-insensitive, first spelling kept",
			batches: [][]string{{"new 1.0 Job", "set 1.0 Owner \"a\"", "set 1.0 OWNER \"b\""}, {"set 1.0 owner \"c\""}},
			want:    "1.0: Owner=\"c\"\n", jobs: 1,
		},
		{
			name:    "delete then set takes the new spelling",
			batches: [][]string{{"new 1.0 Job", "set 1.0 Owner 1", "del 1.0 OWNER", "set 1.0 OWNER 2"}},
			want:    "1.0: OWNER=2\n", jobs: 1,
		},
		{
			name:    "secrets are never stored",
			batches: [][]string{{"new 1.0 Job", "set 1.0 ClaimId \"x\"", "set 1.0 _condor_privX 1", "set 1.0 capability 2", "set 1.0 A 1"}},
			want:    "1.0: A=1\n", jobs: 1,
		},
		{
			name:    "destroy and recreate within a batch starts empty",
			batches: [][]string{{"new 1.0 Job", "set 1.0 A 1", "destroy 1.0", "new 1.0 Job", "set 1.0 B 2"}},
			want:    "1.0: B=2\n", jobs: 1,
		},
		{
			name:    "destroy across batches, missing destroy and delete are no-ops",
			batches: [][]string{{"new 1.0 Job", "new 1.1 Job", "set 1.1 A 1"}, {"destroy 1.0", "destroy 9.9", "del 1.1 Nope", "del 9.9 A"}},
			want:    "1.1: A=1\n", jobs: 1,
		},
		{
			name:    "only jobs are counted",
			batches: [][]string{{"new 0.0 Job", "new 01.-1 Job", "new 1.-2 ClusterPvt", "new 1.0 Job", "new 0.2 Owner", "new 5.-100 JobSet"}},
			want:    "0.0:\n0.2:\n1.-2:\n1.-1:\n1.0:\n5.-100:\n", jobs: 1,
		},
		{
			name:    "values are verbatim",
			batches: [][]string{{"new 1.0 Job", `set 1.0 Cmd "C:\Users\alice"`, `set 1.0 Args "a  b"`, "set 1.0 R ((x == 1) && y)"}},
			want:    "1.0: Args=\"a  b\" Cmd=\"C:\\Users\\alice\" R=((x == 1) && y)\n", jobs: 1,
		},
	}
	check := func(t *testing.T, db *DB, want string, jobs int64) {
		t.Helper()
		if got := dump(t, db); got != want {
			t.Errorf("stored:\n%s\nwant:\n%s", got, want)
		}
		db.View(func(s *Snapshot) error {
			if s.JobCount() != jobs {
				t.Errorf("JobCount = %d, want %d", s.JobCount(), jobs)
			}
			return nil
		})
	}
	for _, tt := range tests {
		t.Run(tt.name+"/writer", func(t *testing.T) {
			db, _ := openTemp(t)
			load(t, db, Position{}) // an empty state for the writer to continue
			w := db.NewWriter(Limits{})
			for i, b := range tt.batches {
				apply(t, w, b...)
				if err := w.Commit(context.Background(), Position{Offset: int64(i)}); err != nil {
					t.Fatal(err)
				}
			}
			check(t, db, tt.want, tt.jobs)
		})
		// A loader must reach the same ads whatever its runs' size: one
		// operation per run, a few, or all in memory.
		for _, runOps := range []int{1, 2, 1000} {
			t.Run(tt.name+"/loader-"+strconv.Itoa(runOps), func(t *testing.T) {
				db, _ := openTemp(t)
				l, err := db.NewLoader(Limits{Records: runOps, Bytes: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				for _, b := range tt.batches {
					apply(t, l, b...)
				}
				if err := l.Commit(context.Background(), Position{Offset: 1}); err != nil {
					t.Fatal(err)
				}
				check(t, db, tt.want, tt.jobs)
			})
		}
	}
}

// load builds the active state from ops with a Loader.
func load(t testing.TB, db *DB, pos Position, ops ...string) {
	t.Helper()
	l, err := db.NewLoader(Limits{Records: 1000, Bytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	apply(t, l, ops...)
	if err := l.Commit(context.Background(), pos); err != nil {
		t.Fatal(err)
	}
}

func TestReloadIsInvisibleUntilFinished(t *testing.T) {
	db, _ := openTemp(t)
	load(t, db, Position{Offset: 10}, "new 1.0 Job", "set 1.0 A 1")
	l, err := db.NewLoader(Limits{Records: 1, Bytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	apply(t, l, "new 2.0 Job", "set 2.0 B 2")
	if got := dump(t, db); got != "1.0: A=1\n" {
		t.Errorf("during reload readers see %q, want the old state", got)
	}
	tg, err := db.Target()
	if err != nil || !tg.Reloading || tg.Position.Offset != 10 {
		t.Errorf("Target = %+v, %v; want the active state at offset 10 and a reload under way", tg, err)
	}
	if err := l.Commit(context.Background(), Position{Offset: 7}); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, db); got != "2.0: B=2\n" {
		t.Errorf("after the load readers see %q, want the new state", got)
	}
	tg, _ = db.Target()
	if tg.Reloading || tg.Position.Offset != 7 {
		t.Errorf("Target after the load = %+v", tg)
	}
	db.bolt.View(func(tx *bolt.Tx) error {
		var names []string
		tx.ForEach(func(name []byte, _ *bolt.Bucket) error { names = append(names, string(name)); return nil })
		// Job 1.0, absent from the new log, left unobserved: history.
		if want := []string{"history", "meta", "state.2"}; !slices.Equal(names, want) {
			t.Errorf("top-level buckets after the load: %q, want %q", names, want)
		}
		return nil
	})
}

func TestWriterNeedsAState(t *testing.T) {
	db, path := openTemp(t)
	w := db.NewWriter(Limits{})
	defer w.Rollback()
	if err := w.NewAd(Key{1, 0}, "Job"); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no active state") {
		t.Errorf("writing a database that has no state: %v", err)
	}
}

func TestRollbackDiscards(t *testing.T) {
	db, _ := openTemp(t)
	load(t, db, Position{}, "new 1.0 Job")
	w := db.NewWriter(Limits{})
	apply(t, w, "set 1.0 A 1", "new 2.0 Job")
	w.Rollback()
	if got := dump(t, db); got != "1.0:\n" {
		t.Errorf("after rollback: %q", got)
	}
}

func TestJobsChainsClusterAds(t *testing.T) {
	db, _ := openTemp(t)
	load(t, db, Position{},
		"new 2.0 Job", "set 2.0 ProcId 0", // job before its cluster ad, as in a snapshot
		"new 02.-1 Job", "set 2.-1 Owner \"bob\"", "set 2.-1 Cmd \"c2\"",
		"new 1.-1 Job", "set 1.-1 Owner \"alice\"", "set 1.-1 JobPrio 5",
		"new 1.0 Job", "set 1.0 JobPrio 7", "new 1.1 Job", "new 1.-2 ClusterPvt", "set 1.-2 Owner \"nobody\"",
		"new 3.0 Job", "new 0.0 Job", "set 0.0 Owner \"header\"", "new 2.1 Job", "set 2.1 owner \"carol\"")
	render := func(from, to Key) string {
		var out []string
		db.View(func(s *Snapshot) error {
			for j := range s.Jobs(from, to) {
				o, _ := j.Lookup("owner")
				p, _ := j.Lookup("JOBPRIO")
				out = append(out, j.Key.String()+"="+string(o)+"/"+string(p))
			}
			return nil
		})
		return strings.Join(out, " ")
	}
	if got, want := render(AllJobs[0], AllJobs[1]), `1.0="alice"/7 1.1="alice"/5 2.0="bob"/ 2.1="carol"/ 3.0=/`; got != want {
		t.Errorf("all jobs: %s\nwant       %s", got, want)
	}
	if got, want := render(Key{2, 1}, Key{2, 1}), `2.1="carol"/`; got != want {
		t.Errorf("one job: %s, want %s", got, want)
	}
	if got, want := render(Key{1, 1}, Key{2, 0}), `1.1="alice"/5 2.0="bob"/`; got != want {
		t.Errorf("range from inside a cluster: %s, want %s", got, want)
	}

	db.View(func(s *Snapshot) error {
		for j := range s.Jobs(Key{1, 0}, Key{1, 0}) {
			var got []string
			for n, v := range j.All() {
				got = append(got, string(n)+"="+string(v))
			}
			if want := `JobPrio=7 Owner="alice"`; strings.Join(got, " ") != want {
				t.Errorf("chained attributes of 1.0: %v, want %s", got, want)
			}
		}
		return nil
	})
}

// TestJobFields requires JobFields to give, job after job, what Lookup
// gives: the job's own value, else its cluster ad's, and none when neither
// has it, also across a change of cluster and a job without a cluster ad.
func TestJobFields(t *testing.T) {
	ad := func(k Key, attrs ...Attr) Ad { return Ad(appendAd(nil, k, "Job", attrs)) }
	c1 := ad(Key{1, -1}, Attr{"Owner", `"alice"`}, Attr{"RequestCpus", "1"})
	c2 := ad(Key{2, -1}, Attr{"Owner", `"bob"`})
	jobs := []Job{
		{Key: Key{1, 0}, Proc: ad(Key{1, 0}, Attr{"JobStatus", "1"}), Cluster: c1},
		{Key: Key{1, 1}, Proc: ad(Key{1, 1}, Attr{"JobStatus", "2"}, Attr{"Owner", `"carol"`}), Cluster: c1},
		{Key: Key{2, 0}, Proc: ad(Key{2, 0}, Attr{"RequestCpus", "4"}), Cluster: c2},
		{Key: Key{3, 0}, Proc: ad(Key{3, 0}, Attr{"JobStatus", "5"})},
	}
	names := []string{"jobstatus", "owner", "requestcpus", "zzz"}
	f := NewJobFields(names)
	for _, j := range jobs {
		f.Load(j)
		for i, name := range names {
			got, ok := f.Text(i)
			want, wantOK := j.Lookup(name)
			if ok != wantOK || string(got) != string(want) {
				t.Errorf("job %s: %s = %q, %v; Lookup gives %q, %v", j.Key, name, got, ok, want, wantOK)
			}
		}
	}
	// A job whose cluster ad holds a name checked against a fixed answer,
	// so that a Lookup and a JobFields wrong the same way cannot pass.
	f.Load(jobs[0])
	if got, _ := f.Text(1); string(got) != `"alice"` {
		t.Errorf("job 1.0 Owner = %q, want its cluster's \"alice\"", got)
	}
}
