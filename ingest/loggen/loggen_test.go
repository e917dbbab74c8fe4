package loggen

import (
	"bytes"
	"strings"
	"testing"
)

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	for _, buf := range []*bytes.Buffer{&a, &b} {
		g := New(Config{Seed: 9, TargetJobs: 200})
		g.Begin(buf)
		g.Run(buf, 2000)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same seed wrote different logs")
	}
}

func TestModelCoversTheSchedd(t *testing.T) {
	g := New(Config{Seed: 3, TargetJobs: 500, Owners: 10})
	var buf bytes.Buffer
	g.Begin(&buf)
	g.Run(&buf, 20000)
	log := buf.String()
	for _, want := range []string{
		"\n105 \n", "\n106 \n", "\n102 ", "\n104 ", ".-1 Owner", ".-1 OWNER", ".-2 ClusterPvt", "JobStatus 5\n", "JobStatus 3\n",
		"JobStatus 4\n", `C:\Users\`, `"-n  `, "ClaimId", "\n103 0.0 NextClusterNum",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("generated log never contains %q", want)
		}
	}
	if strings.Contains(g.Truth(), "ClaimId") {
		t.Error("the truth holds a secret a replay never stores")
	}
	if g.Jobs() == 0 || len(g.JobKeys()) != g.Jobs() {
		t.Errorf("Jobs %d, JobKeys %d", g.Jobs(), len(g.JobKeys()))
	}
	k := g.JobKeys()[0]
	if attrs, ok := g.Job(k); !ok || attrs["owner"] == "" || attrs["jobstatus"] == "" {
		t.Errorf("Job(%v) = %v, %v: want chained Owner and JobStatus", k, attrs, ok)
	}
}

func TestCompactKeepsTheQueue(t *testing.T) {
	g := New(Config{Seed: 5, TargetJobs: 300})
	var buf bytes.Buffer
	g.Begin(&buf)
	g.Run(&buf, 3000)
	before := g.Truth()
	var snap bytes.Buffer
	g.Compact(&snap)
	if g.Truth() != before {
		t.Error("compaction changed the model's queue")
	}
	first, _, _ := strings.Cut(snap.String(), "\n")
	if !strings.HasPrefix(first, "107 2 CreationTimestamp ") || strings.Contains(snap.String(), "\n105 ") {
		t.Errorf("snapshot header %q, or it has transactions", first)
	}
}
