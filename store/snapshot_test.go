package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestJobsAtAndFilings checks the two lookups of sorted key lists, which
// step through near keys and seek across gaps, against the range scan and
// the jobs' own attributes: the same jobs, joined to the same cluster ads,
// filed as their values say, whatever the gaps between the keys.
func TestJobsAtAndFilings(t *testing.T) {
	db, _ := openTemp(t)
	var ops []string
	for c := 1; c <= 30; c++ {
		procs := c%4 + 1
		if c == 7 {
			procs = 40 // jobs far into their cluster, past the walk from its ad
		}
		if c != 11 { // cluster 11 has no cluster ad
			ops = append(ops, fmt.Sprintf("new %d.-1 Job", c), fmt.Sprintf("set %d.-1 Owner \"u%d\"", c, c%3),
				fmt.Sprintf("set %d.-1 JobPrio %d", c, c))
		}
		for p := range procs {
			ops = append(ops, fmt.Sprintf("new %d.%d Job", c, p), fmt.Sprintf("set %d.%d JobStatus %d", c, p, (c+p)%5+1))
			if p == 2 {
				ops = append(ops, fmt.Sprintf("set %d.%d Owner \"own%d\"", c, p, c))
			}
		}
	}
	ops = append(ops, "new 0.0 Job", "new 3.-2 ClusterPvt")
	load(t, db, Position{}, ops...)

	var all []Key
	db.View(func(s *Snapshot) error {
		for j := range s.Jobs(AllJobs[0], AllJobs[1]) {
			all = append(all, j.Key)
		}
		return nil
	})
	// Statuses 1 to 5 put the jobs in four partitions; their merge must
	// yield every job once, in key order.
	if n := strings.Count(strings.Join(ops, "\n"), "JobStatus"); len(all) != n || !slices.IsSortedFunc(all, Key.Compare) || len(slices.Compact(slices.Clone(all))) != n {
		t.Fatalf("Jobs yields %d jobs, want %d once each in key order: %v", len(all), n, all)
	}
	every := func(n int) []Key {
		var ks []Key
		for i := 0; i < len(all); i += n {
			ks = append(ks, all[i])
		}
		return ks
	}
	tests := []struct {
		name string
		keys []Key
	}{
		{"none", nil},
		{"every job", all},
		{"every 2nd", every(2)},
		{"every 5th: gaps past the steps", every(5)},
		{"every 23rd", every(23)},
		{"far into a cluster", []Key{{7, 9}, {7, 10}, {7, 30}, {7, 39}, {8, 0}}},
		{"a cluster without its ad", []Key{{10, 2}, {11, 0}, {11, 1}, {12, 0}}},
		{"absent and non-job keys", []Key{{0, 0}, {1, 0}, {2, -1}, {2, 7}, {3, -2}, {3, 0}, {7, 40}, {29, 0}, {31, 0}, {900, 1}}},
		{"only past the end", []Key{{31, 0}, {1 << 30, 0}}},
	}
	render := func(j Job) string {
		o, _ := j.Lookup("Owner")
		p, _ := j.Lookup("JobPrio")
		return fmt.Sprintf("%s=%s/%s", j.Key, o, p)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.View(func(s *Snapshot) error {
				var want, got, wantFiled, gotFiled []string
				for _, k := range tt.keys {
					for j := range s.Jobs(k, k) { // the range scan: no steps, no seeks across gaps
						want = append(want, render(j))
						o, ok := j.Lookup("Owner")
						st, sok := j.Lookup("JobStatus")
						wantFiled = append(wantFiled, fmt.Sprintf("%s %v %v", k, OwnerValue(o, ok), StatusValue(st, sok)))
					}
				}
				refs := refsOf(s, tt.keys)
				for j := range s.JobsAt(refs) {
					got = append(got, render(j))
				}
				for f := range s.Filings(refs) {
					gotFiled = append(gotFiled, fmt.Sprintf("%s %v %v", f.Key, f.Owner, f.Status))
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("JobsAt:\n got %v\nwant %v", got, want)
				}
				if strings.Join(gotFiled, "; ") != strings.Join(wantFiled, "; ") {
					t.Errorf("Filings:\n got %v\nwant %v", gotFiled, wantFiled)
				}
				return s.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// refsOf returns the jobs at keys as the indexes name them; a key that is
// not a job's gets a JobRef of its own, in no partition of jobs; a job key
// with no job is left out, as the indexes never name one (see
// TestJobsAtAbsentJobIsDamage).
func refsOf(s *Snapshot, keys []Key) []JobRef {
	var refs []JobRef
	for _, k := range keys {
		if !k.IsJob() {
			refs = append(refs, JobRef{Key: k})
		}
		for r := range s.JobKeys(k, k) {
			refs = append(refs, r)
		}
	}
	return refs
}

// TestJobsAtAbsentJobIsDamage: the indexes are written with the ads they
// list, so a job they name without an ad means a damaged file: JobsAt
// stops with ErrDamaged rather than leave the job out of an answer.
func TestJobsAtAbsentJobIsDamage(t *testing.T) {
	db, _ := openTemp(t)
	load(t, db, Position{}, "new 1.-1 Job", "new 1.0 Job", "set 1.0 JobStatus 1", "new 1.1 Job", "set 1.1 JobStatus 1")
	err := db.View(func(s *Snapshot) error {
		refs := refsOf(s, []Key{{1, 0}, {1, 1}})
		refs = append(refs, JobRef{Key: Key{1, 2}, part: refs[0].part})
		n := 0
		for range s.JobsAt(refs) {
			n++
		}
		if n != 2 {
			t.Errorf("%d jobs before the absent one, want 2", n)
		}
		return s.Err()
	})
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("JobsAt over an absent job: %v, want ErrDamaged", err)
	}
}
