package condorq

import (
	"bufio"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
)

// batchView prints the batch view, condor_q's default: a row per DAG, per
// named batch, or per cluster (CONDOR_Q.md §5.2). It keeps a few numbers
// per job until the end, where it groups them.
type batchView struct {
	r       *renderer
	c       counter
	out     *bufio.Writer
	partial bool   // DONE is not computed (§5.2.4)
	zero    string // what a zero count prints
	cut     int
	limit   int // the bytes its entries may take (0: no bound)
	jobs    []batchJob
	names   map[string]string // interned owners and batch names
	// maxOwner is the longest owner among all jobs (A of §5.2.5).
	maxOwner int
}

// batchJob is what the batch view needs of a job, or of a run of jobs of
// one cluster that it would group and count alike: the view keeps an entry
// per cluster, not per job, on a schedd's usual queue.
type batchJob struct {
	key, last       store.Key // the first and last job of the run
	procs           int64     // jobs in the run
	run, idle, hold int64     // of them, by the view's columns
	owner, batch    string
	ownerOK         bool
	batchOK         bool
	node            string // DAGNodeName
	nodeOK          bool
	qdate           int64
	qdateOK         bool
	dagman          bool  // JobUniverse 7
	parent          int64 // DAGManJobId's cluster, 0 for none
	totalProcs      int64 // TotalSubmitProcs, -1 when missing
	materialize     int64 // JobMaterializeNextProcId, -1 when missing
	nodesTotal      int64
	nodesDone       int64
	hasDAGManJobID  bool
	row             int
}

func (p *batchView) intern(s string) string {
	if v, ok := p.names[s]; ok {
		return v
	}
	if p.names == nil {
		p.names = make(map[string]string)
	}
	p.names[s] = s
	return s
}

func (p *batchView) job(job store.Job) error {
	r := p.r
	b := batchJob{key: job.Key, totalProcs: -1, materialize: -1}
	status, statusOK := r.int(job, "JobStatus")
	p.c.count(job, status, statusOK)
	var o string
	if o, b.ownerOK = r.str(job, "Owner"); b.ownerOK {
		b.owner = p.intern(o)
		p.maxOwner = max(p.maxOwner, len(o))
	}
	if n, ok := r.str(job, "JobBatchName"); ok {
		b.batch, b.batchOK = p.intern(n), true
	}
	if n, ok := r.str(job, "DAGNodeName"); ok {
		b.node, b.nodeOK = n, true
	}
	b.qdate, b.qdateOK = r.int(job, "QDate")
	u, _ := r.int(job, "JobUniverse")
	b.dagman = u == store.SchedulerUniverse
	_, b.hasDAGManJobID = job.Lookup("DAGManJobId")
	b.parent, _ = r.dagParent(job)
	if n, ok := r.int(job, "TotalSubmitProcs"); ok {
		b.totalProcs = n
	}
	if n, ok := r.int(job, "JobMaterializeNextProcId"); ok {
		b.materialize = n
	}
	if b.dagman {
		b.nodesTotal, _ = r.int(job, "DAG_NodesTotal")
		b.nodesDone, _ = r.int(job, "DAG_NodesDone")
	}
	if n := len(p.jobs); n > 0 && sameRun(&p.jobs[n-1], &b) {
		p.jobs[n-1].last = b.key
		p.jobs[n-1].procs++
		p.jobs[n-1].countStatus(status)
		return nil
	}
	b.last, b.procs = b.key, 1
	b.countStatus(status)
	if p.limit > 0 && (len(p.jobs)+1)*batchEntrySize > p.limit {
		return fmt.Errorf("the batch view of more than %d clusters is more than it groups in memory (%d MiB); narrow the query, or use -nobatch", len(p.jobs), p.limit>>20)
	}
	p.jobs = append(p.jobs, b)
	return nil
}

// batchEntrySize is about what an entry of the batch view costs, with the
// room a large slice grows by (a quarter).
const batchEntrySize = int(unsafe.Sizeof(batchJob{})) * 5 / 4

// sameRun reports whether job b continues the run a: the same cluster, and
// all the view groups and counts by alike. A dagman job is an entry of
// its own.
func sameRun(a, b *batchJob) bool {
	return a.key.Cluster == b.key.Cluster && !a.dagman && !b.dagman &&
		a.owner == b.owner && a.ownerOK == b.ownerOK && a.batch == b.batch && a.batchOK == b.batchOK &&
		a.parent == b.parent && a.hasDAGManJobID == b.hasDAGManJobID && a.totalProcs == b.totalProcs &&
		a.materialize == b.materialize
}

// countStatus counts a job of status st in the view's columns: RUN, IDLE
// (suspended jobs too) or HOLD; C and X jobs in none.
func (b *batchJob) countStatus(st int64) {
	switch st {
	case index.StatusRunning, index.StatusTransferringOutput:
		b.run++
	case index.StatusIdle, index.StatusSuspended:
		b.idle++
	case index.StatusHeld:
		b.hold++
	}
}

// batchRow is one row of the view.
type batchRow struct {
	head                         int // its first job
	done, run, idle, hold, total int64
	noTotal                      bool
	minID, maxID                 store.Key
	hasIDs                       bool
	procsSoFar                   int64
}

// group assigns every job to a row (CONDOR_Q.md §5.2.2).
func (p *batchView) group() []*batchRow {
	procZero := make(map[int64]int)
	for i, j := range p.jobs {
		if j.key.Proc == 0 {
			procZero[j.key.Cluster] = i
		}
	}
	var rows []*batchRow
	clusterRow := make(map[int64]int)
	batchRow_ := make(map[string]int)
	newRow := func(i int) int {
		rows = append(rows, &batchRow{head: i})
		return len(rows) - 1
	}
	// parentOf returns the job a node hangs under, or -1.
	parentOf := func(i int) int {
		j := p.jobs[i]
		if j.parent == 0 {
			return -1
		}
		if k, ok := procZero[j.parent]; ok && k != i {
			return k
		}
		return -1
	}
	assigned := make([]bool, len(p.jobs))
	var assign func(i, depth int) int
	assign = func(i, depth int) int {
		if assigned[i] {
			return p.jobs[i].row
		}
		j := &p.jobs[i]
		var row int
		switch par := parentOf(i); {
		case par >= 0 && depth < len(p.jobs):
			row = assign(par, depth+1)
		case j.parent == 0 && j.batchOK:
			key := j.batch + "\n" + j.owner
			if r, ok := batchRow_[key]; ok && !j.dagman {
				row = r
			} else if r, ok := clusterRow[j.key.Cluster]; ok {
				row = r
			} else {
				row = newRow(i)
				if !ok {
					batchRow_[key] = row
				}
			}
			clusterRow[j.key.Cluster] = row
		default:
			r, ok := clusterRow[j.key.Cluster]
			if !ok {
				r = newRow(i)
				clusterRow[j.key.Cluster] = r
			}
			row = r
		}
		j.row, assigned[i] = row, true
		return row
	}
	for i := range p.jobs {
		assign(i, 0)
	}
	return rows
}

// count fills in each row's counts (CONDOR_Q.md §5.2.4).
func (p *batchView) count(rows []*batchRow) {
	// The plain clusters (neither dagman nor DAG node), in the order met.
	type plain struct {
		row                       *batchRow
		procs, total, materialize int64
		procsAfter                int64 // the row's running count after its last proc
	}
	var plains []*plain
	byCluster := make(map[int64]*plain)
	for _, j := range p.jobs {
		r := rows[j.row]
		if j.dagman {
			r.total += j.nodesTotal
			r.done += j.nodesDone
			continue
		}
		r.run, r.idle, r.hold = r.run+j.run, r.idle+j.idle, r.hold+j.hold
		if !r.hasIDs || j.key.Compare(r.minID) < 0 {
			r.minID = j.key
		}
		if !r.hasIDs || j.last.Compare(r.maxID) > 0 {
			r.maxID = j.last
		}
		r.hasIDs = true
		r.procsSoFar += j.procs
		if j.hasDAGManJobID {
			continue // a DAG node's cluster adds nothing to TOTAL or DONE
		}
		c := byCluster[j.key.Cluster]
		if c == nil || c.row != r {
			c = &plain{row: r, total: j.totalProcs, materialize: -1}
			if j.totalProcs < 0 {
				r.noTotal = true
			}
			r.total += max(j.totalProcs, 0)
			c.materialize = max(j.materialize, -1)
			byCluster[j.key.Cluster] = c
			plains = append(plains, c)
		}
		c.procs += j.procs
		// The row's running count of procs, as condor_q uses it for a
		// late-materialising cluster.
		c.procsAfter = r.procsSoFar
	}
	for _, c := range plains {
		switch {
		case p.partial:
		case c.materialize >= 0:
			c.row.done += c.materialize - c.procsAfter
		case c.total >= 0:
			c.row.done += c.total - c.procs
		}
	}
	for _, r := range rows {
		if r.noTotal {
			r.done, r.total = 0, 0
		}
	}
}

// batchName is a row's BATCH_NAME (CONDOR_Q.md §5.2.3).
func batchName(j batchJob) string {
	switch {
	case j.batchOK:
		return j.batch
	case j.dagman:
		return "DAG: " + strconv.FormatInt(j.key.Cluster, 10)
	case j.hasDAGManJobID && j.nodeOK:
		return "NODE: " + j.node
	}
	return "ID: " + strconv.FormatInt(j.key.Cluster, 10)
}

// jobIDs is a row's JOB_IDS.
func (r *batchRow) jobIDs() string {
	switch {
	case !r.hasIDs:
		return "0.0"
	case r.minID == r.maxID:
		return r.minID.String()
	case r.minID.Cluster == r.maxID.Cluster:
		return r.minID.String() + "-" + strconv.FormatInt(r.maxID.Proc, 10)
	}
	return r.minID.String() + " ... " + r.maxID.String()
}

func (p *batchView) end(s *summary) error {
	rows := p.group()
	p.count(rows)
	s.query = p.c.totals
	ownerW, nameW, hold := 5, 12, len(rows) == 0
	if len(rows) > 0 {
		longest, name := 0, 10
		for _, r := range rows {
			h := p.jobs[r.head]
			longest = max(longest, len(h.owner))
			name = max(name, len(batchName(h)))
			hold = hold || r.hold > 0
		}
		ownerW, nameW = longest, name
		if a := max(5, p.maxOwner); longest < a {
			ownerW = max(8, longest)
		}
	}
	count := func(n int64) string {
		if n == 0 {
			return p.zero
		}
		return strconv.FormatInt(n, 10)
	}
	t := table{trim: p.cut == 0, cut: p.cut, cols: []column{
		{head: "OWNER", width: ownerW, trunc: true, alt: fill},
		{head: "BATCH_NAME", width: nameW},
		{head: "   SUBMITTED", width: 12, right: true},
		{head: "  DONE", width: 6, right: true, auto: true},
		{head: "  RUN ", width: 6, right: true, auto: true},
		{head: "  IDLE", width: 6, right: true, auto: true},
		{head: "  HOLD", width: 6, right: true, auto: true, hidden: !hold},
		{head: " TOTAL", width: 6, right: true, auto: true},
		{head: "JOB_IDS"},
	}}
	for _, r := range rows {
		h := p.jobs[r.head]
		owner := missing
		if h.ownerOK {
			owner = h.owner
		}
		date := ""
		if h.qdateOK {
			date = formatDate(h.qdate, p.r.loc)
		}
		t.add(owner, batchName(h), date, count(r.done), count(r.run), count(r.idle), count(r.hold), count(r.total), r.jobIDs())
	}
	t.print(p.out, true)
	s.write(p.out, true)
	return nil
}
