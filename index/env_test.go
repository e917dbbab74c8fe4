package index

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qindex/qindex/store"
)

// TestEnvReuseIsFresh binds one Env to job after job, in several orders,
// and requires every value to be what a fresh Env gives for that job
// alone: nothing of the job bound before may be seen.
func TestEnvReuseIsFresh(t *testing.T) {
	chained := testDB(t, map[string][]string{
		"1.-1": {`Owner "alice"`, "Y 2"},
		"1.0":  {"X (Y + 1)", "JobStatus 1"},
		"1.1":  {"X (Z * 2)", "Z 5"},
		"1.2":  {"JobStatus 2"},
		"2.0":  {"X (Y + 1)", "Y undefined", "CurrentTime 7"},
		"2.1":  {"X CurrentTime", "Broken (1 +"},
		"3.0":  {"X Broken", "Broken X"},
	})
	generated, owners := propertyQueue(t, 3, false)
	g := &constraintGen{rng: rand.New(rand.NewPCG(3, 7)), owners: owners}
	var exprs [][]string
	for range 60 {
		exprs = append(exprs, []string{g.expr(g.rng.IntN(4))})
	}
	exprs = append(exprs,
		[]string{"X", "Y", "Z"},
		[]string{"X + CurrentTime", "isUndefined(Z)"},
		[]string{"HoldReason", "RemoteHost", "isUndefined(HoldReasonCode)", "RequestMemory * 2"},
		[]string{"ifThenElse(JobStatus == 2, RemoteHost, HoldReason)", "Owner"},
	)
	for _, db := range []*store.DB{chained, generated} {
		for _, texts := range exprs {
			xs, err := parseAFList(texts...)
			if err != nil {
				t.Fatal(err)
			}
			db.View(func(s *store.Snapshot) error {
				var jobs []store.Job
				for job := range s.Jobs(store.AllJobs[0], store.AllJobs[1]) {
					jobs = append(jobs, job)
				}
				want := make(map[store.Key][]string)
				for _, job := range jobs {
					want[job.Key] = evalAll(NewEnv(1000), job, xs)
				}
				reversed, shuffled := slices.Clone(jobs), slices.Clone(jobs)
				slices.Reverse(reversed)
				g.rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				for _, order := range [][]store.Job{jobs, reversed, shuffled} {
					env := NewEnv(1000)
					for _, job := range order {
						if got := evalAll(env, job, xs); !slices.Equal(got, want[job.Key]) {
							t.Fatalf("%v in job %s: reused Env gives %v, a fresh one %v", texts, job.Key, got, want[job.Key])
						}
					}
				}
				return nil
			})
		}
	}
}

// evalAll binds job in env for xs and returns their values, formatted.
func evalAll(env *Env, job store.Job, xs []*Expr) []string {
	env.Bind(job, xs...)
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = show(env.Eval(x))
	}
	return out
}
