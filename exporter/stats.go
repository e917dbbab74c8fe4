package exporter

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
)

// ErrNotLoaded is the outcome of a collection from a database whose first
// load of the log has not finished: there is no queue to report yet. It is
// not counted as a failure.
var ErrNotLoaded = errors.New("the database holds no queue yet: its first load of the log has not finished")

// nStatus is the number of status slots: 0 for a JobStatus HTCondor does
// not define (or none), then the codes 1..10 (index.StatusNames).
const nStatus = len(index.StatusNames)

// waitBuckets are the upper bounds, in seconds, of the idle-wait and
// run-time histograms: a minute to a month.
var waitBuckets = []float64{60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200,
	86400, 172800, 345600, 604800, 1209600, 2592000}

// Owner labels for the jobs not under a listed owner.
const (
	// OtherOwner sums the owners beyond the --metrics.max-owners largest.
	OtherOwner = "_other"
	// NoOwner holds the jobs whose effective Owner is not a string.
	NoOwner = "_undefined"
)

// byStatus is one number per status slot.
type byStatus [nStatus]float64

// ownerJobs is one owner's jobs by status.
type ownerJobs struct {
	name  string
	jobs  byStatus
	total float64
}

// histogram accumulates observations into buckets with upper bounds.
type histogram struct {
	bounds  []float64
	count   uint64
	sum     float64
	buckets []uint64 // non-cumulative, one per bound
}

func newHistogram() histogram {
	return histogram{bounds: waitBuckets, buckets: make([]uint64, len(waitBuckets))}
}

// storedHistogram is a histogram the history keeps, over store.DurationBounds.
func storedHistogram(h store.Histogram) histogram {
	b := make([]uint64, len(store.DurationBounds))
	copy(b, h.Buckets)
	return histogram{bounds: store.DurationBounds, count: h.Count, sum: h.Sum, buckets: b}
}

func (h *histogram) observe(v float64) {
	h.count++
	h.sum += v
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.buckets) {
		h.buckets[i]++
	}
}

// cumulative returns the buckets as Prometheus wants them: count of
// observations at or below each bound.
func (h *histogram) cumulative() map[float64]uint64 {
	m := make(map[float64]uint64, len(h.bounds))
	var n uint64
	for i, b := range h.bounds {
		n += h.buckets[i]
		m[b] = n
	}
	return m
}

// queueStats is what one collection learns about the queue. Its size
// depends on the number of owners, hold codes and universes, never on the
// number of jobs.
type queueStats struct {
	jobs                   byStatus
	owners                 []ownerJobs // the largest, then OtherOwner
	cpus, memory, disk     byStatus    // memory and disk in bytes
	gpus                   byStatus
	held                   map[string]float64 // by HoldReasonCode
	universes              map[string]float64 // by universe name
	clusters               float64
	oldestIdle             float64 // QDate of the oldest idle job; NaN if none
	idleWait, runningSince histogram
	// What the history counted: jobs that left by how, in all and for the
	// owners with the most, and the durations of completed ones.
	left                map[string]float64
	ownersLeft          []ownerLeft
	wallTime, queueWait histogram
}

// leftHows are the values of the how label, in order.
var leftHows = []string{store.LeftCompleted, store.LeftRemoved, store.LeftOther, store.LeftUnobserved}

// ownerLeft is one owner's jobs that left, by how.
type ownerLeft struct {
	name  string
	byHow map[string]float64
	total float64
}

// universeNames are JobUniverse's names, by code (HTCondor's
// condor_universe.h); other codes are reported as numbers.
var universeNames = map[int64]string{1: "standard", 2: "pipe", 3: "linda", 4: "pvm", 5: "vanilla",
	6: "pvmd", 7: "scheduler", 8: "mpi", 9: "grid", 10: "java", 11: "parallel", 12: "local", 13: "vm"}

func universeName(n int64) string {
	if s, ok := universeNames[n]; ok {
		return s
	}
	return strconv.FormatInt(n, 10)
}

// statusSlot returns the byStatus slot of JobStatus n.
func statusSlot(n int64, ok bool) int {
	if ok && n > 0 && n < int64(nStatus) {
		return int(n)
	}
	return 0
}

// checkEvery is how many jobs a collection reads between looks at its
// context.
const checkEvery = 4096

// The attributes a collection reads, in lower case and sorted, for
// store.JobFields; the constants index them.
var fieldNames = [...]string{"enteredcurrentstatus", "holdreasoncode", "jobcurrentstartdate", "jobstatus",
	"jobuniverse", "owner", "qdate", "requestcpus", "requestdisk", "requestgpus", "requestmemory", "shadowbday"}

const (
	fEnteredCurrentStatus = iota
	fHoldReasonCode
	fJobCurrentStartDate
	fJobStatus
	fJobUniverse
	fOwner
	fQDate
	fRequestCpus
	fRequestDisk
	fRequestGPUs
	fRequestMemory
	fShadowBday
	nFields
)

// jobAttrs reads the collection's attributes of one job at a time and
// gives their values.
type jobAttrs struct {
	env    *index.Env // for values that are expressions
	job    store.Job
	fields *store.JobFields
}

func (a *jobAttrs) load(job store.Job) {
	a.fields.Load(job)
	a.job = job
}

// text returns the text of field f: the job's own, else its cluster's.
func (a *jobAttrs) text(f int) ([]byte, bool) { return a.fields.Text(f) }

// number returns field f's value as a number, evaluating it only when it
// is not a literal.
func (a *jobAttrs) number(f int) (float64, bool) {
	text, ok := a.text(f)
	if !ok {
		return 0, false
	}
	return index.FloatOf(a.job, a.env, fieldNames[f], text)
}

// integer is number truncated, as condor_q reads integer attributes.
func (a *jobAttrs) integer(f int) (int64, bool) {
	v, ok := a.number(f)
	return int64(v), ok
}

// str returns field f's value as a string: a literal's text without
// copying it, else the evaluated value.
func (a *jobAttrs) str(f int) ([]byte, bool) {
	text, ok := a.text(f)
	if !ok {
		return nil, false
	}
	if store.LiteralKind(text) == store.KindString {
		return text[1 : len(text)-1], true
	}
	s, ok := index.StringAttr(a.job, a.env, fieldNames[f])
	return []byte(s), ok
}

// collectStats streams over every job of s once, in key order, and sums
// what the metrics report. now is the time the ages are measured at.
// maxOwners bounds the owners reported by name; the rest are summed under
// OtherOwner.
func collectStats(ctx context.Context, s *store.Snapshot, now time.Time, maxOwners int) (*queueStats, error) {
	if !s.Loaded() {
		return nil, ErrNotLoaded
	}
	st := &queueStats{
		held:         make(map[string]float64),
		universes:    make(map[string]float64),
		oldestIdle:   math.NaN(),
		idleWait:     newHistogram(),
		runningSince: newHistogram(),
	}
	owners := make(map[string]*ownerJobs)
	nowSec := float64(now.Unix())
	a := &jobAttrs{env: index.NewEnv(now.Unix()), fields: store.NewJobFields(fieldNames[:])}
	n, lastCluster := 0, int64(-1)
	for job := range s.Jobs(store.AllJobs[0], store.AllJobs[1]) {
		if n++; n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if job.Key.Cluster != lastCluster {
			lastCluster = job.Key.Cluster
			st.clusters++
		}
		a.load(job)
		code, ok := a.integer(fJobStatus)
		slot := statusSlot(code, ok)
		st.jobs[slot]++

		owner, ok := a.str(fOwner)
		if !ok {
			owner = []byte(NoOwner)
		}
		owner = labelValue(owner)
		o := owners[string(owner)]
		if o == nil {
			o = &ownerJobs{name: string(owner)}
			owners[o.name] = o
		}
		o.jobs[slot]++
		o.total++

		if v, ok := a.number(fRequestCpus); ok {
			st.cpus[slot] += v
		}
		if v, ok := a.number(fRequestMemory); ok {
			st.memory[slot] += v * (1 << 20)
		}
		if v, ok := a.number(fRequestDisk); ok {
			st.disk[slot] += v * (1 << 10)
		}
		if v, ok := a.number(fRequestGPUs); ok {
			st.gpus[slot] += v
		}
		if u, ok := a.integer(fJobUniverse); ok {
			st.universes[universeName(u)]++
		} else {
			st.universes["undefined"]++
		}

		switch code {
		case index.StatusHeld:
			reason := "undefined"
			if c, ok := a.integer(fHoldReasonCode); ok {
				reason = strconv.FormatInt(c, 10)
			}
			st.held[reason]++
		case index.StatusIdle:
			qdate, hasQDate := a.number(fQDate)
			if hasQDate && !(qdate >= st.oldestIdle) {
				st.oldestIdle = qdate
			}
			since, ok := a.number(fEnteredCurrentStatus)
			if !ok {
				since, ok = qdate, hasQDate
			}
			if ok {
				st.idleWait.observe(max(0, nowSec-since))
			}
		case index.StatusRunning:
			since, ok := a.number(fJobCurrentStartDate)
			if !ok {
				since, ok = a.number(fShadowBday)
			}
			if ok {
				st.runningSince.observe(max(0, nowSec-since))
			}
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read the jobs: %w", err)
	}
	st.owners = topOwners(owners, maxOwners)
	if err := st.addThroughput(s, maxOwners); err != nil {
		return nil, fmt.Errorf("read the history's counts: %w", err)
	}
	return st, nil
}

// addThroughput adds to st what the history counted: a few entries, never
// the history itself.
func (st *queueStats) addThroughput(s *store.Snapshot, maxOwners int) error {
	t, err := s.Throughput()
	if err != nil {
		return err
	}
	st.left = make(map[string]float64, len(leftHows))
	st.wallTime, st.queueWait = storedHistogram(t.WallTime), storedHistogram(t.QueueWait)
	owners := make(map[string]*ownerLeft)
	for k, n := range t.Left {
		st.left[k.How] += float64(n)
		name := NoOwner
		if k.Owner.Class == store.ClassLiteral {
			name = string(labelValue([]byte(k.Owner.Name)))
		}
		o := owners[name]
		if o == nil {
			o = &ownerLeft{name: name, byHow: make(map[string]float64)}
			owners[name] = o
		}
		o.byHow[k.How] += float64(n)
		o.total += float64(n)
	}
	all := slices.Collect(maps.Values(owners))
	slices.SortFunc(all, func(a, b *ownerLeft) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	other := &ownerLeft{name: OtherOwner, byHow: make(map[string]float64)}
	for i, o := range all {
		if i < maxOwners {
			st.ownersLeft = append(st.ownersLeft, *o)
			continue
		}
		for how, n := range o.byHow {
			other.byHow[how] += n
		}
		other.total += o.total
	}
	if other.total > 0 {
		st.ownersLeft = append(st.ownersLeft, *other)
	}
	slices.SortFunc(st.ownersLeft, func(a, b ownerLeft) int { return strings.Compare(a.name, b.name) })
	return nil
}

// maxLabelLen bounds the length in bytes of an owner label value.
const maxLabelLen = 128

// labelValue returns text made fit for a label value: invalid UTF-8 (a
// Latin-1 name, say) replaced by U+FFFD, and cut, at a character boundary,
// to at most maxLabelLen bytes. Names that differ only beyond that, or only
// in their invalid bytes, share a label. Text that is fit already, nearly
// every Owner, is returned as it is.
func labelValue(text []byte) []byte {
	if len(text) <= maxLabelLen && utf8.Valid(text) {
		return text
	}
	v := bytes.ToValidUTF8(text, []byte("\uFFFD"))
	if len(v) <= maxLabelLen {
		return v
	}
	cut := maxLabelLen
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut]
}

// topOwners returns the max owners with the most jobs (ties by name), then
// the rest summed under OtherOwner, which is present even when empty so
// that its series does not come and go.
func topOwners(owners map[string]*ownerJobs, max int) []ownerJobs {
	all := make([]*ownerJobs, 0, len(owners))
	for _, o := range owners {
		all = append(all, o)
	}
	slices.SortFunc(all, func(a, b *ownerJobs) int {
		if a.total != b.total {
			if a.total > b.total {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	top := make([]ownerJobs, 0, min(max, len(all))+1)
	other := ownerJobs{name: OtherOwner}
	for _, o := range all {
		if len(top) < max && o.name != OtherOwner {
			top = append(top, *o)
			continue
		}
		for s := range o.jobs {
			other.jobs[s] += o.jobs[s]
		}
		other.total += o.total
	}
	return append(top, other)
}
