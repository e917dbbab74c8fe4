package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// indexView renders what the indexes say, sorted: every count and the jobs
// filed under its owner and status, which the owner's jobs, the pair's
// bucket and the status's jobs must agree on.
func indexView(t *testing.T, db *DB) string {
	t.Helper()
	var lines []string
	err := db.View(func(s *Snapshot) error {
		for c := range s.Counts() {
			owners := slices.Collect(s.JobsByOwner(c.Owner))
			byKey := func(a, b JobRef) int { return a.Key.Compare(b.Key) }
			if !slices.IsSortedFunc(owners, byKey) || len(slices.CompactFunc(slices.Clone(owners), func(a, b JobRef) bool { return a.Key == b.Key })) != len(owners) {
				t.Errorf("%v: JobsByOwner not in strict key order: %v", c.Owner, owners)
			}
			var keys, filed []string
			for r := range s.JobsFiled(c.Owner, c.Status) {
				filed = append(filed, r.Key.String())
			}
			for j := range s.JobsAt(owners) {
				if st, ok := j.Lookup("JobStatus"); StatusValue(st, ok) == c.Status {
					keys = append(keys, j.Key.String())
				}
			}
			var byStatus []string
			for j := range s.JobsAt(slices.Collect(s.JobsByStatus(c.Status))) {
				if o, ok := j.Lookup("Owner"); OwnerValue(o, ok) == c.Owner {
					byStatus = append(byStatus, j.Key.String())
				}
			}
			if !slices.Equal(keys, byStatus) || !slices.Equal(keys, filed) {
				t.Errorf("%v/%v: by owner gives %v, by status %v, by the pair %v", c.Owner, c.Status, keys, byStatus, filed)
			}
			lines = append(lines, fmt.Sprintf("%v %v: %d %v", c.Owner, c.Status, c.Jobs, keys))
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	db.View(func(s *Snapshot) error {
		var odd []string
		for r := range s.OddClusterIDs() {
			odd = append(odd, r.Key.String())
		}
		if odd != nil {
			lines = append(lines, fmt.Sprintf("ClusterId not the cluster's: %v", odd))
		}
		var sched []string
		for r := range s.SchedulerJobs() {
			sched = append(sched, r.Key.String())
		}
		if sched != nil {
			lines = append(lines, fmt.Sprintf("JobUniverse maybe 7: %v", sched))
		}
		return s.Err()
	})
	return strings.Join(lines, "\n")
}

// checkClean runs Check and fails on any difference.
func checkClean(t *testing.T, db *DB) {
	t.Helper()
	db.View(func(s *Snapshot) error {
		n, err := s.Check(func(p string) { t.Errorf("check: %s", p) })
		if err != nil || n != 0 {
			t.Errorf("check: %d differences, %v", n, err)
		}
		return nil
	})
}

func TestIndexesFileEffectiveValues(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]string
		want    string
	}{
		{
			name:    "own values, else the cluster's",
			batches: [][]string{{"new 1.-1 Job", `set 1.-1 Owner "Alice"`, "set 1.-1 JobStatus 1", "new 1.0 Job", "new 1.1 Job", "set 1.1 JobStatus 2", `new 1.2 Job`, `set 1.2 Owner "bob"`}},
			want:    `"alice" 1: 1 [1.0]` + "\n" + `"alice" 2: 1 [1.1]` + "\n" + `"bob" 1: 1 [1.2]`,
		},
		{
			name: "a cluster's Owner edit moves its ad and the jobs that inherit it",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 1", "new 1.1 Job", "set 1.1 JobStatus 1", `set 1.1 Owner "carol"`},
				{`set 1.-1 Owner "bob"`},
			},
			want: `"bob" 1: 1 [1.0]` + "\n" + `"carol" 1: 1 [1.1]`,
		},
		{
			name: "a case-only Owner edit keeps the filing",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 1"},
				{`set 1.-1 Owner "ALICE"`},
			},
			want: `"alice" 1: 1 [1.0]`,
		},
		{
			name: "deleting a job's own value falls back to the cluster's",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", `set 1.0 Owner "bob"`, "set 1.0 JobStatus 5"},
				{"del 1.0 Owner"},
			},
			want: `"alice" 5: 1 [1.0]`,
		},
		{
			name: "destroyed jobs and cluster ads",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 1", "new 1.1 Job", "set 1.1 JobStatus 1"},
				{"destroy 1.1", "destroy 1.-1"},
			},
			want: `(no Owner) 1: 1 [1.0]`,
		},
		{
			name: "values that only evaluation can compare",
			batches: [][]string{
				{"new 2.0 Job", "set 2.0 Owner User", "set 2.0 JobStatus 2.0", "new 2.1 Job", `set 2.1 Owner "x\"y"`, `set 2.1 JobStatus "1"`, "new 2.2 Job", "set 2.2 JobStatus 99999999999999999999"},
			},
			want: `(Owner not a string literal) (JobStatus not an integer literal): 2 [2.0 2.1]` + "\n" + `(no Owner) (JobStatus not an integer literal): 1 [2.2]`,
		},
		{
			name: "a JobStatus edit moves the job's ad to its status's partition, and back",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 1", "new 1.1 Job", "set 1.1 JobStatus 1"},
				{"set 1.0 JobStatus 5"},
				{"set 1.0 JobStatus 2", "set 1.0 JobStatus 5", "set 1.1 JobStatus 5"},
				{"set 1.1 JobStatus 1", "set 1.0 JobStatus 4"},
				{"set 1.0 JobStatus 2"},
			},
			want: `"alice" 1: 1 [1.1]` + "\n" + `"alice" 2: 1 [1.0]`,
		},
		{
			name: "idle and running jobs, filed together, counted and read apart",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 1", "new 1.1 Job", "set 1.1 JobStatus 1",
					"new 1.2 Job", "set 1.2 JobStatus 1", "new 1.3 Job", "set 1.3 JobStatus 1", "new 1.4 Job", "set 1.4 JobStatus 2"},
				{"set 1.0 JobStatus 2", "set 1.1 JobStatus 2", "set 1.4 JobStatus 1"},
				{"set 1.0 JobStatus 1", "set 1.2 JobStatus 2", "set 1.3 JobStatus 2", "set 1.3 JobStatus 1"},
				{"set 1.1 JobStatus 5", "destroy 1.2", "set 1.4 JobStatus 2", "set 1.4 JobStatus 4"},
				{"set 1.1 JobStatus 2", "set 1.3 JobStatus 2"},
			},
			want: `"alice" 1: 1 [1.0]` + "\n" + `"alice" 2: 2 [1.1 1.3]` + "\n" + `"alice" 4: 1 [1.4]`,
		},
		{
			name: "an owner with running jobs only, and a cluster's JobStatus edit between idle and running",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "bob"`, "set 1.-1 JobStatus 2", "new 1.0 Job", "new 1.1 Job", "set 1.1 JobStatus 1",
					"new 2.0 Job", `set 2.0 Owner "carol"`, "set 2.0 JobStatus 2"},
				{"set 1.-1 JobStatus 1", "set 1.1 JobStatus 2"},
				{"set 1.-1 JobStatus 2", "del 1.1 JobStatus"},
			},
			want: `"bob" 2: 2 [1.0 1.1]` + "\n" + `"carol" 2: 1 [2.0]`,
		},
		{
			name: "a cluster's JobStatus edit moves the jobs that inherit it",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "alice"`, "set 1.-1 JobStatus 1", "new 1.0 Job", "new 1.1 Job", "set 1.1 JobStatus 2", "new 1.2 Job"},
				{"set 1.-1 JobStatus 5"},
				{"del 1.-1 JobStatus"},
			},
			want: `"alice" (no JobStatus): 2 [1.0 1.2]` + "\n" + `"alice" 2: 1 [1.1]`,
		},
		{
			name: "jobs moved and destroyed in one commit, and made again",
			batches: [][]string{
				{"new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 1", "new 1.1 Job", "set 1.1 JobStatus 1"},
				{"set 1.0 JobStatus 5", "destroy 1.0", "set 1.1 JobStatus 3", "destroy 1.1", "new 1.1 Job", "set 1.1 JobStatus 4"},
			},
			want: `"alice" 4: 1 [1.1]`,
		},
		{
			name: "statuses outside the small integers share a partition",
			batches: [][]string{
				{"new 3.0 Job", "set 3.0 JobStatus 0", "new 3.1 Job", "set 3.1 JobStatus -3", "new 3.2 Job", "set 3.2 JobStatus 300", "new 3.3 Job", "set 3.3 JobStatus 253"},
				{"set 3.1 JobStatus 300", "set 3.0 JobStatus 254", "set 3.3 JobStatus 7"},
			},
			want: `(no Owner) 254: 1 [3.0]` + "\n" + `(no Owner) 300: 2 [3.1 3.2]` + "\n" + `(no Owner) 7: 1 [3.3]`,
		},
		{
			name: "ClusterIds other than the key's, own or inherited",
			batches: [][]string{{
				"new 1.-1 Job", "set 1.-1 ClusterId 1", "new 1.0 Job", "new 1.1 Job", "set 1.1 ClusterId 7", "new 1.2 Job", "set 1.2 ClusterId 1.0",
				"new 2.-1 Job", "set 2.-1 ClusterId 5", "new 2.0 Job", "new 2.1 Job", "set 2.1 ClusterId 2", "new 3.0 Job", "set 3.0 ClusterId 03",
			}},
			want: `(no Owner) (no JobStatus): 6 [1.0 1.1 1.2 2.0 2.1 3.0]` + "\n" + `ClusterId not the cluster's: [1.1 1.2 2.0]`,
		},
		{
			name: "a cluster's ClusterId edit files its jobs again",
			batches: [][]string{
				{"new 1.-1 Job", "set 1.-1 ClusterId 1", "new 1.0 Job", "new 1.1 Job", "set 1.1 ClusterId 1", "new 1.2 Job", "set 1.2 ClusterId 9"},
				{"set 1.-1 ClusterId 3"},
				{"del 1.1 ClusterId", "destroy 1.2"},
				{"set 1.-1 ClusterId 1", "set 1.0 ClusterId x"},
			},
			want: `(no Owner) (no JobStatus): 2 [1.0 1.1]` + "\n" + `ClusterId not the cluster's: [1.0]`,
		},
		{
			name: "scheduler-universe jobs, own or inherited, and a cluster's JobUniverse edit",
			batches: [][]string{
				{"new 1.-1 Job", "set 1.-1 JobUniverse 7", "new 1.0 Job", "new 1.1 Job", "set 1.1 JobUniverse 5",
					"new 2.0 Job", "set 2.0 JobUniverse 5", "new 2.1 Job", "set 2.1 JobUniverse (3+4)", "new 2.2 Job", "set 2.2 JobUniverse 7.0"},
				{"set 1.-1 JobUniverse 5", "set 2.0 JobUniverse 7", "destroy 2.1"},
				{"del 1.1 JobUniverse", "set 1.-1 JobUniverse 7"},
			},
			want: `(no Owner) (no JobStatus): 4 [1.0 1.1 2.0 2.2]` + "\n" + `JobUniverse maybe 7: [1.0 1.1 2.0 2.2]`,
		},
		{
			name:    "only jobs are filed",
			batches: [][]string{{"new 0.0 Job", `set 0.0 Owner "h"`, "new 1.-2 Pvt", `set 1.-2 Owner "p"`, "new 0.5 Owner", `set 0.5 Owner "u"`, "new 3.-100 JobSet", `set 3.-100 Owner "s"`}},
			want:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/writer", func(t *testing.T) {
			db, _ := openTemp(t)
			load(t, db, Position{})
			w := db.NewWriter(Limits{})
			for _, b := range tt.batches {
				apply(t, w, b...)
				if err := w.Commit(context.Background(), Position{}); err != nil {
					t.Fatal(err)
				}
				checkClean(t, db)
			}
			if got := indexView(t, db); got != tt.want {
				t.Errorf("indexes:\n%s\nwant:\n%s", got, tt.want)
			}
		})
		t.Run(tt.name+"/loader", func(t *testing.T) {
			db, _ := openTemp(t)
			load(t, db, Position{}, slices.Concat(tt.batches...)...)
			checkClean(t, db)
			if got := indexView(t, db); got != tt.want {
				t.Errorf("indexes:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestCheckReportsDamage damages each part of the indexes and requires
// Check to name it.
func TestCheckReportsDamage(t *testing.T) {
	damages := []struct {
		name   string
		damage func(st *bolt.Bucket) error
		want   string
	}{
		{"lost by-owner-status entry", func(st *bolt.Bucket) error {
			return st.Bucket(bucketByOwnerStatus).Bucket(appendPosting(nil, IndexedOwner{Class: ClassLiteral, Name: "alice"}, IndexedStatus{Class: ClassLiteral, N: 1})).Delete(appendKey(nil, Key{1, 0}))
		}, "job 1.0: missing from by-owner-status under Owner \"alice\", JobStatus 1"},
		{"stale by-owner-status entry", func(st *bolt.Bucket) error {
			b, err := st.Bucket(bucketByOwnerStatus).CreateBucket(appendPosting(nil, IndexedOwner{Class: ClassLiteral, Name: "alice"}, IndexedStatus{Class: ClassLiteral, N: 5}))
			if err != nil {
				return err
			}
			return b.Put(appendKey(nil, Key{1, 0}), nil)
		}, "by-owner-status: 1.0 filed under Owner \"alice\", JobStatus 5, its posting says Owner \"alice\", JobStatus 1"},
		{"stale by-status entry", func(st *bolt.Bucket) error {
			b, err := st.Bucket(bucketByStatus).CreateBucket(appendStatusPart(nil, IndexedStatus{Class: ClassLiteral, N: 4}))
			if err != nil {
				return err
			}
			return b.Put(appendKey(nil, Key{1, 0}), nil)
		}, "by-status: 1.0 filed under JobStatus 4, its posting says Owner \"alice\", JobStatus 1"},
		{"empty value bucket", func(st *bolt.Bucket) error {
			_, err := st.Bucket(bucketByOwnerStatus).CreateBucket(appendPosting(nil, IndexedOwner{Class: ClassLiteral, Name: "gone"}, IndexedStatus{Class: ClassMissing}))
			return err
		}, "by-owner-status: empty bucket for Owner \"gone\", JobStatus (no JobStatus)"},
		{"wrong posting", func(st *bolt.Bucket) error {
			return st.Bucket(bucketPostings).Put(appendKey(nil, Key{1, 1}), appendPosting(nil, IndexedOwner{Class: ClassLiteral, Name: "bob"}, IndexedStatus{Class: ClassLiteral, N: 2}))
		}, "job 1.1: filed as Owner \"bob\", JobStatus 2, want Owner \"alice\", JobStatus 1"},
		{"posting of no job", func(st *bolt.Bucket) error {
			return st.Bucket(bucketPostings).Put(appendKey(nil, Key{7, 0}), appendPosting(nil, IndexedOwner{Class: ClassMissing}, IndexedStatus{Class: ClassMissing}))
		}, "posting for 7.0, which is not a job"},
		{"wrong count", func(st *bolt.Bucket) error {
			k := appendPosting(nil, IndexedOwner{Class: ClassLiteral, Name: "alice"}, IndexedStatus{Class: ClassLiteral, N: 2})
			return st.Bucket(bucketCounts).Put(k, appendCountValue(nil, k, 9))
		}, "count of Owner \"alice\", JobStatus 2: 9, want 2"},
		{"lost count", func(st *bolt.Bucket) error {
			return st.Bucket(bucketCounts).Delete(appendPosting(nil, IndexedOwner{Class: ClassLiteral, Name: "alice"}, IndexedStatus{Class: ClassLiteral, N: 2}))
		}, "count of Owner \"alice\", JobStatus 2: missing, want 2"},
		{"wrong status count", func(st *bolt.Bucket) error {
			k := appendStatusPart(nil, IndexedStatus{Class: ClassLiteral, N: 2})
			return st.Bucket(bucketStatusCounts).Put(k, appendCountValue(nil, k, 3))
		}, "count of JobStatus 2: 3, want 2"},
		{"stray status count", func(st *bolt.Bucket) error {
			k := appendStatusPart(nil, IndexedStatus{Class: ClassLiteral, N: 5})
			return st.Bucket(bucketStatusCounts).Put(k, appendCountValue(nil, k, 1))
		}, "count of JobStatus 5: 1, want 0"},
		{"lost status count", func(st *bolt.Bucket) error {
			return st.Bucket(bucketStatusCounts).Delete(appendStatusPart(nil, IndexedStatus{Class: ClassLiteral, N: 2}))
		}, "count of JobStatus 2: missing, want 2"},
		{"job in another status's partition", func(st *bolt.Bucket) error {
			return moveAd(st, Key{1, 0}, partMain, 6, true)
		}, "job 1.0: stored in partition 6, its filing Owner \"alice\", JobStatus 1 puts it in 0"},
		{"job in two partitions", func(st *bolt.Bucket) error {
			return moveAd(st, Key{1, 1}, partMain, partOther, false)
		}, "job 1.1: stored in two partitions"},
		{"cluster ad in a job's partition", func(st *bolt.Bucket) error {
			return moveAd(st, Key{1, -1}, partMain, 6, true)
		}, "ad 1.-1, not a job, stored in partition 6"},
		{"by-status entry with a value", func(st *bolt.Bucket) error {
			return st.Bucket(bucketByStatus).Bucket(appendStatusPart(nil, IndexedStatus{Class: ClassLiteral, N: 1})).Put(appendKey(nil, Key{1, 0}), []byte{1})
		}, "job 1.0: by-status holds 01, want an empty value"},
		{"job listed as of another cluster", func(st *bolt.Bucket) error {
			return st.Bucket(bucketClusterIDOdd).Put(appendKey(nil, Key{1, 0}), nil)
		}, "job 1.0: in cluster-id-odd, but does not belong there"},
		{"job of another cluster not listed", func(st *bolt.Bucket) error {
			return st.Bucket(bucketClusterIDOdd).Delete(appendKey(nil, Key{1, 1}))
		}, "job 1.1: ClusterId 2 is not its cluster's, but the job is missing from cluster-id-odd"},
		{"cluster-id-odd entry of no job", func(st *bolt.Bucket) error {
			return st.Bucket(bucketClusterIDOdd).Put(appendKey(nil, Key{7, 0}), nil)
		}, "cluster-id-odd: entry for 7.0, which is not a job"},
		{"plain job listed as a scheduler job", func(st *bolt.Bucket) error {
			return st.Bucket(bucketSchedulerJobs).Put(appendKey(nil, Key{1, 0}), nil)
		}, "job 1.0: in scheduler-jobs, but does not belong there"},
		{"scheduler job not listed", func(st *bolt.Bucket) error {
			return st.Bucket(bucketSchedulerJobs).Delete(appendKey(nil, Key{1, 1}))
		}, "job 1.1: JobUniverse 7 may be 7, but the job is missing from scheduler-jobs"},
		{"wrong job count", func(st *bolt.Bucket) error {
			return st.Put(keyJobs, appendCountValue(nil, keyJobs, 5))
		}, "job count 5, want 2"},
		{"lost running entry", func(st *bolt.Bucket) error {
			return st.Bucket(bucketRunning).Delete(appendKey(nil, Key{1, 0}))
		}, "job 1.0: JobStatus 2, but the job is missing from running"},
		{"stray running entry", func(st *bolt.Bucket) error {
			return st.Bucket(bucketRunning).Put(appendKey(nil, Key{7, 0}), nil)
		}, "running: entry for 7.0, which is not a job"},
		{"damaged count", func(st *bolt.Bucket) error {
			return st.Bucket(bucketStatusCounts).Put(appendStatusPart(nil, IndexedStatus{Class: ClassLiteral, N: 2}), []byte{0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 3, 4})
		}, "count of JobStatus 2: -1, want 2"},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			db, _ := openTemp(t)
			load(t, db, Position{}, "new 1.-1 Job", `set 1.-1 Owner "alice"`, "new 1.0 Job", "set 1.0 JobStatus 2", "new 1.1 Job", "set 1.1 JobStatus 2", "set 1.1 ClusterId 2", "set 1.1 JobUniverse 7")
			checkClean(t, db)
			err := db.bolt.Update(func(tx *bolt.Tx) error {
				st, err := stateBucket(tx, false)
				if err != nil {
					return err
				}
				return d.damage(st)
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			db.View(func(s *Snapshot) error {
				n, err := s.Check(func(p string) { got = append(got, p) })
				switch {
				case err != nil:
					// Damage the reading itself meets ends the check.
					got = append(got, err.Error())
				case n != len(got):
					t.Errorf("Check = %d, %v after %d reports", n, err, len(got))
				}
				return nil
			})
			if !slices.Contains(got, d.want) {
				t.Errorf("reports %q\nwant among them %q", got, d.want)
			}
		})
	}
}

func TestCheckNeedsAState(t *testing.T) {
	db, _ := openTemp(t)
	db.View(func(s *Snapshot) error {
		if _, err := s.Check(func(string) {}); err == nil {
			t.Error("Check of an empty database succeeded")
		}
		return nil
	})
}

// moveAd copies the ad k from partition from to partition to, and deletes
// the original if del is set.
func moveAd(st *bolt.Bucket, k Key, from, to partition, del bool) error {
	ads := st.Bucket(bucketAds)
	v := ads.Get(appendAdKey(nil, from, k))
	if v == nil {
		return fmt.Errorf("no ad %s in partition %s", k, from)
	}
	v = slices.Clone(v)
	if del {
		if err := ads.Delete(appendAdKey(nil, from, k)); err != nil {
			return err
		}
	}
	return ads.Put(appendAdKey(nil, to, k), v)
}

// TestSplitPostingRefusesMalformed: a posting read from the file is
// untrusted; one whose owner length is out of range, or wraps around when
// the status part's length is added, is an error, never a bad slice.
func TestSplitPostingRefusesMalformed(t *testing.T) {
	good := appendPosting(nil, IndexedOwner{Class: ClassLiteral, Name: "alice"}, IndexedStatus{Class: ClassLiteral, N: 2})
	if op, sp, err := splitPosting(good); err != nil || string(op[1:]) != "alice" || len(sp) != statusPartLen {
		t.Fatalf("splitPosting(%q) = %q, %q, %v", good, op, sp, err)
	}
	for _, p := range [][]byte{
		nil,
		{0},                // an empty owner part
		good[:len(good)-1], // cut short
		append(binary.AppendUvarint(nil, math.MaxUint64-statusPartLen+4), make([]byte, 3)...), // n + statusPartLen wraps to 3
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},                    // an overlong uvarint
	} {
		if op, sp, err := splitPosting(p); err == nil {
			t.Errorf("splitPosting(%q) = %q, %q, no error", p, op, sp)
		}
	}
}

// TestRunningReadsMeetDamage: running/ comes from an untrusted file; an
// entry that is not a job key stops a read of the running jobs with
// ErrDamaged, and one that names no job is damage to JobsAt.
func TestRunningReadsMeetDamage(t *testing.T) {
	running := literalStatus(statusRunning)
	tests := []struct {
		name string
		key  []byte
		read func(s *Snapshot) int
	}{
		{"an entry of 3 bytes", []byte{1, 2, 3}, func(s *Snapshot) int {
			n := 0
			for range s.JobsByStatus(running) {
				n++
			}
			return n
		}},
		{"an entry of no job", appendKey(nil, Key{7, 0}), func(s *Snapshot) int {
			n := 0
			for range s.JobsAt(slices.Collect(s.JobsByStatus(running))) {
				n++
			}
			return n
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openTemp(t)
			load(t, db, Position{}, "new 1.0 Job", "set 1.0 JobStatus 2", "new 9.0 Job", "set 9.0 JobStatus 2")
			err := db.bolt.Update(func(tx *bolt.Tx) error {
				st, err := stateBucket(tx, false)
				if err != nil {
					return err
				}
				return st.Bucket(bucketRunning).Put(tt.key, nil)
			})
			if err != nil {
				t.Fatal(err)
			}
			err = db.View(func(s *Snapshot) error {
				if n := tt.read(s); n > 1 {
					t.Errorf("read %d jobs past the damage, want at most the one before it", n)
				}
				return s.Err()
			})
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("reading running/ with %s: %v, want ErrDamaged", tt.name, err)
			}
		})
	}
}
