package loggen

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/qindex/qindex/store"
)

// Config shapes a generated queue.
type Config struct {
	Seed       uint64
	Owners     int // distinct owners (default 200)
	MaxProcs   int // procs per cluster, 1..MaxProcs (default 8)
	TargetJobs int // the queue grows towards this many jobs (default 1000)
	// Start is the Unix time of the first submit (default 1763850000).
	Start int64
	// Left makes WriteQueue also run until this many jobs have left the
	// queue: a long churn, a history to query.
	Left int
	// ForgetLeft keeps no final ad of the jobs destroyed (Left still counts
	// them), so a long churn takes bounded memory; LeftJobs is then empty.
	ForgetLeft bool
}

// attr is one attribute of the model: the name as first written, the value.
type attr struct{ name, value string }

// ad is an ad of the model, attributes keyed by lower-cased name.
type ad struct {
	myType string
	attrs  map[string]attr
}

// Generator is the model schedd. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	now     int64
	seq     int64
	created int64

	ads         map[store.Key]*ad
	jobs        []store.Key // live jobs, for picking at random
	jobIndex    map[store.Key]int
	clusterJobs map[int64]int // live jobs per cluster
	nextCluster int64
	owners      []string
	records     int64
	// left holds the final chained attributes of every job destroyed,
	// with how it left: the history a replay must record.
	left  map[store.Key]map[string]string
	nleft int
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	if cfg.Owners <= 0 {
		cfg.Owners = 200
	}
	if cfg.MaxProcs <= 0 {
		cfg.MaxProcs = 8
	}
	if cfg.TargetJobs <= 0 {
		cfg.TargetJobs = 1000
	}
	if cfg.Start == 0 {
		cfg.Start = 1763850000
	}
	g := &Generator{
		cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		now: cfg.Start, seq: 1, created: cfg.Start - 3600,
		ads: make(map[store.Key]*ad), left: make(map[store.Key]map[string]string), jobIndex: make(map[store.Key]int), clusterJobs: make(map[int64]int), nextCluster: 1,
	}
	for i := range cfg.Owners {
		g.owners = append(g.owners, fmt.Sprintf("user%03d", i+1))
	}
	return g
}

// Jobs returns the number of jobs in the model queue.
func (g *Generator) Jobs() int { return len(g.jobs) }

// Records returns the number of records written so far.
func (g *Generator) Records() int64 { return g.records }

// Now returns the model's clock (Unix seconds).
func (g *Generator) Now() int64 { return g.now }

// Owners returns the owner names the model uses.
func (g *Generator) Owners() []string { return slices.Clone(g.owners) }

// w collects records for one write.
type w struct {
	g *Generator
	b *bufio.Writer
}

func (x w) line(s string) {
	x.g.records++
	x.b.WriteString(s)
	x.b.WriteByte('\n')
}

func (x w) begin() { x.line("105 ") }
func (x w) end()   { x.line("106 ") }

func (x w) newAd(k string, key store.Key, myType string) {
	t := myType
	if t == "" {
		t = "(empty)"
	}
	x.line("101 " + k + " " + t + " Machine")
	if _, ok := x.g.ads[key]; !ok {
		x.g.ads[key] = &ad{myType: myType, attrs: make(map[string]attr)}
	}
}

func (x w) set(k string, key store.Key, name, value string) {
	x.line("103 " + k + " " + name + " " + value)
	a := x.g.ads[key]
	if a == nil {
		return
	}
	low := strings.ToLower(name)
	if old, ok := a.attrs[low]; ok {
		name = old.name
	}
	a.attrs[low] = attr{name, value}
}

func (x w) del(k string, key store.Key, name string) {
	x.line("104 " + k + " " + name)
	if a := x.g.ads[key]; a != nil {
		delete(a.attrs, strings.ToLower(name))
	}
}

func (x w) destroy(k string, key store.Key) {
	x.line("102 " + k)
	delete(x.g.ads, key)
}

// Header writes the 107 line that starts a log file of the current generation.
func (g *Generator) Header(out io.Writer) error {
	b := bufio.NewWriter(out)
	w{g, b}.line(fmt.Sprintf("107 %d CreationTimestamp %d", g.seq, g.created))
	return b.Flush()
}

// Begin writes the header and the queue header ad of a new log.
func (g *Generator) Begin(out io.Writer) error {
	b := bufio.NewWriter(out)
	x := w{g, b}
	x.line(fmt.Sprintf("107 %d CreationTimestamp %d", g.seq, g.created))
	hk := store.Key{}
	x.newAd("0.0", hk, "Job")
	x.begin()
	x.set("0.0", hk, "NextClusterNum", "1")
	x.end()
	return b.Flush()
}

// Run writes n activities to out.
func (g *Generator) Run(out io.Writer, n int) error {
	b := bufio.NewWriterSize(out, 1<<16)
	for range n {
		g.step(w{g, b})
	}
	return b.Flush()
}

func (g *Generator) step(x w) {
	g.now += int64(g.rng.IntN(3))
	fill := float64(len(g.jobs)) / float64(g.cfg.TargetJobs)
	r := g.rng.Float64()
	switch {
	case len(g.jobs) == 0 || r < 0.15*(1-fill)+0.015:
		g.submit(x)
	case r < 0.34:
		g.start(x)
	case r < 0.39:
		g.hold(x)
	case r < 0.43:
		g.release(x)
	case r < 0.51:
		g.complete(x)
	case r < 0.53:
		g.remove(x)
	case r < 0.53+0.10*fill:
		g.destroyFinished(x)
	case r < 0.95:
		g.update(x)
	case r < 0.965:
		g.editOwner(x)
	default:
		g.editJob(x)
	}
}

func ckey(c int64) string { return "0" + strconv.FormatInt(c, 10) + ".-1" }

func (g *Generator) submit(x w) {
	c := g.nextCluster
	g.nextCluster++
	owner := g.owners[int(float64(len(g.owners))*g.rng.Float64()*g.rng.Float64())] // skewed: a few big owners
	procs := 1 + g.rng.IntN(g.cfg.MaxProcs)
	if g.rng.IntN(50) == 0 {
		procs += 50 + g.rng.IntN(200) // now and then a big submit in one transaction
	}
	ck, ckk := ckey(c), store.Key{Cluster: c, Proc: -1}
	pk := store.Key{Cluster: c, Proc: -2}
	x.begin()
	x.set("0.0", store.Key{}, "NextClusterNum", strconv.FormatInt(c+1, 10))
	x.newAd(ck, ckk, "Job")
	x.newAd(fmt.Sprintf("%d.-2", c), pk, "ClusterPvt")
	x.set(fmt.Sprintf("%d.-2", c), pk, "Owner", strconv.Quote(owner))
	x.set(ck, ckk, "ClusterId", strconv.FormatInt(c, 10))
	x.set(ck, ckk, "Owner", `"`+owner+`"`)
	x.set(ck, ckk, "User", `"`+owner+`@submit.example.org"`)
	x.set(ck, ckk, "QDate", strconv.FormatInt(g.now, 10))
	// Vanilla mostly, some local, and scheduler (DAGMan) for one cluster in
	// a hundred, as on a schedd: one dagman job per DAG.
	universe := []string{"5", "5", "5", "5", "12"}[g.rng.IntN(5)]
	if c%100 == 7 {
		universe = "7"
	}
	x.set(ck, ckk, "JobUniverse", universe)
	if g.rng.IntN(10) == 0 {
		x.set(ck, ckk, "Cmd", `"C:\Users\`+owner+`\jobs\run.exe"`)
		x.set(ck, ckk, "Iwd", `"C:\Users\`+owner+`\jobs"`)
	} else {
		x.set(ck, ckk, "Cmd", `"/home/`+owner+`/bin/sim"`)
		x.set(ck, ckk, "Iwd", `"/home/`+owner+`/runs/`+strconv.FormatInt(c, 10)+`"`)
	}
	x.set(ck, ckk, "Args", fmt.Sprintf(`"-n  %d --seed %d"`, g.rng.IntN(100), c))
	x.set(ck, ckk, "RequestCpus", strconv.Itoa(1<<g.rng.IntN(4)))
	x.set(ck, ckk, "RequestMemory", strconv.Itoa(512*(1+g.rng.IntN(16))))
	x.set(ck, ckk, "RequestDisk", strconv.Itoa(1024*(1+g.rng.IntN(4096))))
	if g.rng.IntN(8) == 0 {
		x.set(ck, ckk, "RequestGPUs", strconv.Itoa(1+g.rng.IntN(2)))
	}
	x.set(ck, ckk, "JobPrio", strconv.Itoa(g.rng.IntN(21)-10))
	x.set(ck, ckk, "Requirements", `((TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (TARGET.Memory >= RequestMemory))`)
	x.set(ck, ckk, "LeaveJobInQueue", `((JobStatus == 4) && ((CompletionDate is undefined) || ((time() - CompletionDate) < 864000)))`)
	x.set(ck, ckk, "Environment", `"PATH=/usr/bin MSG=\"hello  world\""`)
	x.set(ck, ckk, "TransferOutputRemaps", "Undefined")
	x.set(ck, ckk, "TransferExecutable", []string{"true", "FALSE"}[g.rng.IntN(2)])
	x.set(ck, ckk, "JobMachineAttrs", `{ "Machine", "SlotID" }`)
	x.set(ck, ckk, "TotalSubmitProcs", strconv.Itoa(procs))
	for p := range procs {
		k := fmt.Sprintf("%d.%d", c, p)
		key := store.Key{Cluster: c, Proc: int64(p)}
		x.newAd(k, key, "Job")
		x.set(k, key, "ProcId", strconv.Itoa(p))
		x.set(k, key, "JobStatus", "1")
		x.set(k, key, "EnteredCurrentStatus", strconv.FormatInt(g.now, 10))
		x.set(k, key, "GlobalJobId", fmt.Sprintf(`"submit.example.org#%d.%d#%d"`, c, p, g.now))
		x.set(k, key, "ImageSize", strconv.Itoa(1000*(1+g.rng.IntN(100))))
		g.addJob(key)
	}
	x.end()
}

func (g *Generator) addJob(k store.Key) {
	g.jobIndex[k] = len(g.jobs)
	g.jobs = append(g.jobs, k)
	g.clusterJobs[k.Cluster]++
}

func (g *Generator) dropJob(k store.Key) {
	i, ok := g.jobIndex[k]
	if !ok {
		return
	}
	last := g.jobs[len(g.jobs)-1]
	g.jobs[i] = last
	g.jobIndex[last] = i
	g.jobs = g.jobs[:len(g.jobs)-1]
	delete(g.jobIndex, k)
	if g.clusterJobs[k.Cluster]--; g.clusterJobs[k.Cluster] == 0 {
		delete(g.clusterJobs, k.Cluster)
	}
}

// pick returns a random live job whose status is one of want, trying a few
// times; ok is false when none was found.
func (g *Generator) pick(want ...string) (string, store.Key, bool) {
	for range 8 {
		if len(g.jobs) == 0 {
			return "", store.Key{}, false
		}
		k := g.jobs[g.rng.IntN(len(g.jobs))]
		st := g.ads[k].attrs["jobstatus"].value
		if slices.Contains(want, st) {
			return k.String(), k, true
		}
	}
	return "", store.Key{}, false
}

func (g *Generator) status(x w, k string, key store.Key, st string) {
	x.set(k, key, "JobStatus", st)
	x.set(k, key, "EnteredCurrentStatus", strconv.FormatInt(g.now, 10))
}

func (g *Generator) start(x w) {
	k, key, ok := g.pick("1")
	if !ok {
		return
	}
	x.begin()
	g.status(x, k, key, "2")
	x.set(k, key, "JobCurrentStartDate", strconv.FormatInt(g.now, 10))
	x.set(k, key, "ShadowBday", strconv.FormatInt(g.now, 10))
	x.set(k, key, "RemoteHost", fmt.Sprintf(`"slot%d@node%03d.example.org"`, 1+g.rng.IntN(32), g.rng.IntN(500)))
	x.set(k, key, "ClaimId", fmt.Sprintf(`"<10.0.0.%d:9618>#%d#1#..."`, g.rng.IntN(255), g.now))
	x.set(k, key, "NumJobStarts", strconv.Itoa(1+g.rng.IntN(3)))
	x.set(k, key, "NumJobMatches", strconv.Itoa(1+g.rng.IntN(3)))
	x.set(k, key, "LastMatchTime", strconv.FormatInt(g.now, 10))
	x.set(k, key, "JobStartDate", strconv.FormatInt(g.now, 10))
	x.set(k, key, "RemoteSlotID", strconv.Itoa(1+g.rng.IntN(32)))
	x.set(k, key, "StartdPrincipal", `"execute-side@matchsession/10.0.0.`+strconv.Itoa(g.rng.IntN(255))+`"`)
	x.set(k, key, "MachineAttrCpus0", strconv.Itoa(1+g.rng.IntN(64)))
	x.set(k, key, "MachineAttrSlotWeight0", strconv.Itoa(1+g.rng.IntN(8)))
	x.set(k, key, "JobRunCount", strconv.Itoa(1+g.rng.IntN(3)))
	x.set(k, key, "LastJobLeaseRenewal", strconv.FormatInt(g.now, 10))
	x.set(k, key, "TransferInStarted", strconv.FormatInt(g.now, 10))
	x.set(k, key, "TransferInFinished", strconv.FormatInt(g.now+int64(g.rng.IntN(30)), 10))
	x.end()
}

var holdReasons = []struct{ code, text string }{
	{"1", `"via condor_hold (by user alice)"`},
	{"34", `"Error from slot1@node001.example.org: Job has gone over memory limit of 2048 megabytes.  Peak usage: 3000 megabytes."`},
	{"13", `"Error from starter: SHADOW at 10.0.0.1 failed to send file(s) to <10.0.0.2:9618>: error reading from C:\Temp\out.dat"`},
	{"16", `"Spooling input data files"`},
}

func (g *Generator) hold(x w) {
	k, key, ok := g.pick("1", "2")
	if !ok {
		return
	}
	h := holdReasons[g.rng.IntN(len(holdReasons))]
	x.begin()
	g.status(x, k, key, "5")
	x.set(k, key, "HoldReason", h.text)
	x.set(k, key, "HoldReasonCode", h.code)
	x.set(k, key, "HoldReasonSubCode", strconv.Itoa(g.rng.IntN(3)))
	if _, ok := g.ads[key].attrs["remotehost"]; ok {
		x.del(k, key, "RemoteHost")
		x.del(k, key, "ClaimId")
	}
	x.end()
}

func (g *Generator) release(x w) {
	k, key, ok := g.pick("5")
	if !ok {
		return
	}
	reason := g.ads[key].attrs["holdreason"].value
	x.begin()
	g.status(x, k, key, "1")
	x.set(k, key, "LastHoldReason", reason)
	x.del(k, key, "HoldReason")
	x.del(k, key, "HoldReasonCode")
	x.del(k, key, "HoldReasonSubCode")
	x.end()
}

func (g *Generator) complete(x w) {
	k, key, ok := g.pick("2")
	if !ok {
		return
	}
	x.begin()
	g.status(x, k, key, "4")
	x.set(k, key, "CompletionDate", strconv.FormatInt(g.now, 10))
	x.set(k, key, "ExitCode", []string{"0", "0", "0", "1", "-1"}[g.rng.IntN(5)])
	x.set(k, key, "RemoteWallClockTime", strconv.Itoa(g.rng.IntN(100000))+".0")
	x.set(k, key, "RemoteUserCpu", fmt.Sprintf("%d.%d", g.rng.IntN(90000), g.rng.IntN(10)))
	x.set(k, key, "RemoteSysCpu", fmt.Sprintf("%d.0", g.rng.IntN(9000)))
	x.set(k, key, "ExitBySignal", "false")
	x.set(k, key, "JobCurrentFinishTransferOutputDate", strconv.FormatInt(g.now, 10))
	x.set(k, key, "BytesSent", fmt.Sprintf("%d.0", g.rng.IntN(1<<30)))
	x.set(k, key, "BytesRecvd", fmt.Sprintf("%d.0", g.rng.IntN(1<<30)))
	if h, ok := g.ads[key].attrs["remotehost"]; ok {
		x.set(k, key, "LastRemoteHost", h.value)
	}
	x.del(k, key, "RemoteHost")
	x.del(k, key, "ClaimId")
	x.end()
}

func (g *Generator) remove(x w) {
	k, key, ok := g.pick("1", "2", "5")
	if !ok {
		return
	}
	x.begin()
	g.status(x, k, key, "3")
	x.set(k, key, "RemoveReason", `"via condor_rm (by user `+strings.Trim(g.owner(key), `"`)+`)"`)
	x.end()
}

func (g *Generator) owner(key store.Key) string {
	if a := g.ads[key]; a != nil {
		if o, ok := a.attrs["owner"]; ok {
			return o.value
		}
	}
	if a := g.ads[key.ClusterKey()]; a != nil {
		return a.attrs["owner"].value
	}
	return `""`
}

// destroyFinished destroys a completed or removed job, and its cluster's
// ads with its last job, as the schedd does.
func (g *Generator) destroyFinished(x w) {
	k, key, ok := g.pick("3", "4")
	if !ok {
		return
	}
	x.begin()
	if !g.cfg.ForgetLeft {
		g.left[key], _ = g.Job(key)
	}
	g.nleft++
	x.destroy(k, key)
	g.dropJob(key)
	if g.clusterJobs[key.Cluster] == 0 {
		x.destroy(ckey(key.Cluster), key.ClusterKey())
		x.destroy(fmt.Sprintf("%d.-2", key.Cluster), store.Key{Cluster: key.Cluster, Proc: -2})
	}
	x.end()
}

// update makes updates outside any transaction, as the schedd does for
// periodic usage numbers.
func (g *Generator) update(x w) {
	k, key, ok := g.pick("2")
	if !ok {
		k, key, ok = g.pick("1", "5")
		if !ok {
			return
		}
	}
	x.set(k, key, "ImageSize", strconv.Itoa(1000*(1+g.rng.IntN(1000))))
	x.set(k, key, "ResidentSetSize", strconv.Itoa(1000*(1+g.rng.IntN(1000))))
	if g.rng.IntN(2) == 0 {
		x.set(k, key, "DiskUsage", strconv.Itoa(g.rng.IntN(1000000)))
		x.set(k, key, "MemoryUsage", "((ResidentSetSize + 1023) / 1024)")
	}
	x.set(k, key, "RemoteWallClockTime", strconv.Itoa(g.rng.IntN(100000))+".0")
	x.set(k, key, "LastJobLeaseRenewal", strconv.FormatInt(g.now, 10))
}

// editOwner changes a cluster's Owner (condor_qedit on the cluster), which
// changes the Owner of every job of the cluster.
func (g *Generator) editOwner(x w) {
	_, key, ok := g.pick("1", "2", "5")
	if !ok {
		return
	}
	owner := g.owners[g.rng.IntN(len(g.owners))]
	name := []string{"Owner", "OWNER", "owner"}[g.rng.IntN(3)]
	x.begin()
	x.set(ckey(key.Cluster), key.ClusterKey(), name, `"`+owner+`"`)
	x.end()
}

// editJob sets an attribute on one proc ad that its cluster ad also has,
// so the proc's value must win.
func (g *Generator) editJob(x w) {
	k, key, ok := g.pick("1", "5")
	if !ok {
		return
	}
	x.begin()
	x.set(k, key, []string{"JobPrio", "JOBPRIO"}[g.rng.IntN(2)], strconv.Itoa(g.rng.IntN(21)-10))
	if g.rng.IntN(4) == 0 {
		x.set(k, key, "Tags", `{ "urgent", "x  y" }`)
	}
	x.end()
}

// Compact writes a snapshot of the whole queue as the schedd's compaction
// does (FORMAT.md §5): a header with the next sequence number and the same
// creation time, then every ad as a 101 and its 103s, in arbitrary order.
func (g *Generator) Compact(out io.Writer) error {
	g.seq++
	b := bufio.NewWriterSize(out, 1<<16)
	x := w{g, b}
	x.line(fmt.Sprintf("107 %d CreationTimestamp %d", g.seq, g.created))
	keys := make([]store.Key, 0, len(g.ads))
	for k := range g.ads {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b store.Key) int { return cmpKey(a, b) })
	g.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for _, k := range keys {
		a := g.ads[k]
		ks := k.String()
		if k.Proc == -1 {
			ks = ckey(k.Cluster)
		}
		t := a.myType
		if t == "" {
			t = "(empty)"
		}
		x.line("101 " + ks + " " + t + " Machine")
		names := make([]string, 0, len(a.attrs))
		for low := range a.attrs {
			names = append(names, low)
		}
		slices.Sort(names)
		for _, low := range names {
			at := a.attrs[low]
			x.line("103 " + ks + " " + at.name + " " + at.value)
		}
	}
	return b.Flush()
}

func cmpKey(a, b store.Key) int {
	if a.Cluster != b.Cluster {
		return int(a.Cluster - b.Cluster)
	}
	return int(a.Proc - b.Proc)
}

// Truth renders the queue a replay must reach, every ad one line in key
// order: "<key> <MyType>:" then " Name=Value;" per attribute in folded-name
// order. Secret attributes are left out, as a replay never stores them.
func (g *Generator) Truth() string {
	keys := make([]store.Key, 0, len(g.ads))
	for k := range g.ads {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpKey)
	var sb strings.Builder
	for _, k := range keys {
		a := g.ads[k]
		sb.WriteString(k.String() + " " + a.myType + ":")
		names := make([]string, 0, len(a.attrs))
		for low := range a.attrs {
			if !store.IsSecret(low) {
				names = append(names, low)
			}
		}
		slices.Sort(names)
		for _, low := range names {
			sb.WriteString(" " + a.attrs[low].name + "=" + a.attrs[low].value + ";")
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// Job returns the chained attributes of job k (cluster ad overlaid by its
// own), keyed by lower-cased name, secrets left out; ok is false if k is
// not a live job.
func (g *Generator) Job(k store.Key) (map[string]string, bool) {
	p, ok := g.ads[k]
	if !ok || !k.IsJob() {
		return nil, false
	}
	out := make(map[string]string)
	if c := g.ads[k.ClusterKey()]; c != nil {
		for low, at := range c.attrs {
			out[low] = at.value
		}
	}
	for low, at := range p.attrs {
		out[low] = at.value
	}
	for low := range out {
		if store.IsSecret(low) {
			delete(out, low)
		}
	}
	return out, true
}

// JobKeys returns the keys of the live jobs in (cluster, proc) order.
func (g *Generator) JobKeys() []store.Key {
	keys := slices.Clone(g.jobs)
	slices.SortFunc(keys, cmpKey)
	return keys
}

// WriteQueueFile is WriteQueue into the file at path, created (mode 0600)
// or truncated, through a 1 MiB buffer.
func (g *Generator) WriteQueueFile(path string, jobs int, compact bool) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = g.WriteQueue(w, jobs, compact)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("loggen: %s: %w", path, err)
	}
	return nil
}

// WriteQueue starts a new log on out and runs the model until its queue
// holds at least jobs jobs, and at least Config.Left jobs have left it.
// With compact, out receives instead only the compaction snapshot of that
// final queue.
func (g *Generator) WriteQueue(out io.Writer, jobs int, compact bool) error {
	sink := out
	if compact {
		sink = io.Discard
	}
	if err := g.Begin(sink); err != nil {
		return err
	}
	for g.Jobs() < jobs || g.nleft < g.cfg.Left {
		if err := g.Run(sink, 1000); err != nil {
			return err
		}
	}
	if compact {
		return g.Compact(out)
	}
	return nil
}

// CompareJobs checks every job of s as queries see it (cluster ad overlaid
// by the job's own, through store.Job) against the model's chained
// attributes, and returns the first difference.
func (g *Generator) CompareJobs(s *store.Snapshot) error {
	keys := g.JobKeys()
	i := 0
	for job := range s.Jobs(store.AllJobs[0], store.AllJobs[1]) {
		if i >= len(keys) || job.Key != keys[i] {
			return fmt.Errorf("job %d is %v, the model has %v", i, job.Key, keys[min(i, len(keys)-1)])
		}
		want, _ := g.Job(job.Key)
		got := map[string]string{}
		for n, v := range job.All() {
			got[strings.ToLower(string(n))] = string(v)
		}
		if !maps.Equal(got, want) {
			return fmt.Errorf("job %v: chained attributes\n%v\nwant\n%v", job.Key, got, want)
		}
		i++
	}
	if err := s.Err(); err != nil {
		return err
	}
	if i != len(keys) {
		return fmt.Errorf("%d jobs read, the model has %d", i, len(keys))
	}
	return nil
}

// CompareHistory checks the history of s against the jobs the model
// destroyed: the same jobs, each once, each with its final chained
// attributes, newest first by the time it left. See CompareHistorySeen.
func (g *Generator) CompareHistory(s *store.Snapshot) error {
	return g.CompareHistorySeen(s, nil)
}

// CompareHistorySeen is CompareHistory where jobs may have left while the
// log was not followed: an entry recorded as unobserved must be a job the
// model destroyed, and hold the chained attributes lastSeen returns for
// it (any, if it returns nil and true); a job lastSeen does not know may
// be missing (it came and went unseen). With a nil lastSeen, an unobserved
// entry is an error.
func (g *Generator) CompareHistorySeen(s *store.Snapshot, lastSeen func(store.Key) (map[string]string, bool)) error {
	return g.compareHistory(s, lastSeen, math.MinInt64)
}

// CompareHistoryPruned is CompareHistory for a history pruned of the jobs
// that left before cutoff (Unix seconds): those must be missing, every
// other one there.
func (g *Generator) CompareHistoryPruned(s *store.Snapshot, cutoff int64) error {
	return g.compareHistory(s, nil, cutoff)
}

// leftAt is when a job whose final chained attributes are attrs left, as
// the history records it: its CompletionDate, else EnteredCurrentStatus
// (the model sets one of them on every job it destroys).
func leftAt(attrs map[string]string) int64 {
	for _, name := range []string{"completiondate", "enteredcurrentstatus"} {
		if t, err := strconv.ParseInt(attrs[name], 10, 64); err == nil && t > 0 {
			return t
		}
	}
	return math.MinInt64
}

func (g *Generator) compareHistory(s *store.Snapshot, lastSeen func(store.Key) (map[string]string, bool), cutoff int64) error {
	seen := make(map[store.Key]bool)
	var last store.HistoryID
	first := true
	for e := range s.History(store.HistoryID{}) {
		if id := e.ID(); !first && bytes.Compare(id[:], last[:]) >= 0 {
			return fmt.Errorf("history entry %v is not older than the one before it", e.Key)
		}
		first, last = false, e.ID()
		if seen[e.Key] {
			return fmt.Errorf("job %v is in the history twice", e.Key)
		}
		seen[e.Key] = true
		want, ok := g.left[e.Key]
		if !ok {
			return fmt.Errorf("job %v is in the history; the model never destroyed it", e.Key)
		}
		if t := leftAt(want); t < cutoff {
			return fmt.Errorf("job %v left at %d, before the retention's cutoff %d, and is in the history", e.Key, t, cutoff)
		}
		if e.Unobserved {
			if lastSeen == nil {
				return fmt.Errorf("job %v left unobserved; every record was read", e.Key)
			}
			if want, ok = lastSeen(e.Key); !ok {
				return fmt.Errorf("job %v left unobserved; it was never seen", e.Key)
			}
			if want == nil {
				continue
			}
		}
		got := map[string]string{}
		for n, v := range e.Job().All() {
			got[strings.ToLower(string(n))] = string(v)
		}
		if !maps.Equal(got, want) {
			return fmt.Errorf("history of job %v:\n%v\nwant\n%v", e.Key, got, want)
		}
		if e.Unobserved {
			continue
		}
		if e.How() != map[string]string{"3": store.LeftRemoved, "4": store.LeftCompleted}[want["jobstatus"]] {
			return fmt.Errorf("job %v left %s, the model says JobStatus %s", e.Key, e.How(), want["jobstatus"])
		}
		if w := want["completiondate"]; w != "" && w != "0" && strconv.FormatInt(e.Left, 10) != w {
			return fmt.Errorf("job %v left at %d, its CompletionDate is %s", e.Key, e.Left, w)
		}
	}
	if err := s.Err(); err != nil {
		return err
	}
	for k, attrs := range g.left {
		if seen[k] || leftAt(attrs) < cutoff {
			continue
		}
		if lastSeen != nil {
			if _, ok := lastSeen(k); !ok {
				continue // submitted and gone while the log was not followed
			}
		}
		return fmt.Errorf("job %v left the model's queue; the history lacks it (%d entries, %d jobs destroyed)", k, len(seen), len(g.left))
	}
	return nil
}

// Left returns how many jobs the model destroyed.
func (g *Generator) Left() int { return g.nleft }

// LeftJobs returns the final chained attributes of every job the model
// destroyed, keyed by lower-cased name; the caller must not change them.
func (g *Generator) LeftJobs() map[store.Key]map[string]string { return g.left }
