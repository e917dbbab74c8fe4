package condorq

import (
	"bufio"
	"slices"
	"strconv"
	"strings"

	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
)

// A printer prints one view: it is given the selected jobs in id order,
// then what the footer needs.
type printer interface {
	job(store.Job) error
	end(s *summary) error
}

// summary is what the totals lines count (CONDOR_Q.md §5.9): the query's
// jobs, Me's (when "only my jobs" is in force) and the whole queue's.
type summary struct {
	query index.Totals
	me    string // "" when "only my jobs" is off
	mine  index.Totals
	all   index.Totals
}

// write writes the totals lines: lines 1 and 2 end with a space.
func (s *summary) write(w *bufio.Writer, blankBefore bool) {
	if blankBefore {
		w.WriteByte('\n')
	}
	w.WriteString("Total for query: " + s.query.String() + " \n")
	if s.me != "" {
		w.WriteString("Total for " + s.me + ": " + s.mine.String() + " \n")
	}
	w.WriteString("Total for all users: " + s.all.String() + "\n\n")
}

// counter counts the query's jobs as the totals lines do: not
// scheduler-universe jobs.
type counter struct {
	r      *renderer
	totals index.Totals
}

func (c *counter) count(job store.Job, st int64, ok bool) {
	if u, uok := c.r.int(job, "JobUniverse"); uok && u == store.SchedulerUniverse {
		return
	}
	if ok {
		c.totals.Add(st, 1)
	}
}

// jobView prints the per-job views: -nobatch, -dag, -run, -idle, -hold and
// -io (CONDOR_Q.md §5.1, 5.3-5.7).
type jobView struct {
	view View
	r    *renderer
	c    counter
	out  *bufio.Writer
	tab  table
	// For the width fix-ups (§5.1).
	maxCluster, maxProc int64
	maxOwner            int
	maxSize             float64
	sizeSeen            bool
	// For -dag: each row's dagman cluster (0: none) and node name.
	dag       []dagInfo
	schedd    string // the schedd's name, for HOST(S) of local jobs
	ioExprs   [4]*evaluator
	warnings  *strings.Builder
	footer    bool
	sizeIndex int
	// second says the jobs are being read again, to be printed.
	second bool
}

type dagInfo struct {
	key     store.Key
	parent  int64
	name    string
	hasName bool
}

// idColumns are columns 0 and 1 of every per-job view.
func idColumns() []column {
	return []column{
		{head: " ID", width: 5, right: true, trunc: true},
		{head: " ", width: 3, trunc: true, noPrefix: true},
	}
}

func newJobView(v View, r *renderer, out *bufio.Writer, width int, schedd string, warnings *strings.Builder) *jobView {
	p := &jobView{view: v, r: r, c: counter{r: r}, out: out, schedd: schedd, warnings: warnings, sizeIndex: -1}
	p.tab.trim, p.tab.cut = width == 0, max(width-1, 0)
	cols := idColumns()
	owner := column{head: "OWNER", width: 14, trunc: true, alt: fill}
	switch v {
	case ViewNormal, ViewDAG:
		if v == ViewDAG {
			owner = column{head: "OWNER/NODENAME", width: 17, trunc: true}
		}
		runHead := "    RUN_TIME"
		if r.time == TimeCPU {
			runHead = "    CPU_TIME"
		}
		cols = append(cols, owner,
			column{head: "  SUBMITTED", width: 11, right: true, trunc: true},
			column{head: runHead, width: 12, right: true, trunc: true},
			column{head: "ST", width: 2, auto: true},
			column{head: "PRI", width: 3, auto: true, alt: "undefined"},
			column{head: "SIZE", width: 4, right: true, trunc: true},
			column{head: "CMD"})
		p.sizeIndex = 7
		p.footer = true
	case ViewRun:
		cols = append(cols, owner,
			column{head: "  SUBMITTED", width: 11, right: true, trunc: true, alt: fill},
			column{head: "    RUN_TIME", width: 12, right: true, trunc: true, alt: fill},
			column{head: "HOST(S)"})
	case ViewIdle:
		cols = append(cols, owner,
			column{head: "UNIVERSE ", width: 9, auto: true},
			column{head: "CPUS", width: 4, auto: true},
			column{head: "MEMORY", width: 6, auto: true},
			column{head: "STARTS", width: 6, auto: true},
			column{head: "LAST_HOST", alt: "undefined"})
	case ViewHold:
		cols = append(cols, owner,
			column{head: "HELD_SINCE", width: 11, right: true, trunc: true, alt: fill},
			column{head: "CODE", width: 4, auto: true, alt: "?"},
			column{head: "/SUB", width: 4, auto: true, noPrefix: true},
			column{head: "HOLD_REASON", alt: "undefined"})
		p.footer = true
		p.tab.cut = 0 // -hold is never cut (§2.4)
	case ViewIO:
		cols = append(cols, owner,
			column{head: "RUNS", width: 4, auto: true, alt: "?"},
			column{head: "ST", width: 2, auto: true},
			column{head: " INPUT", width: 6, auto: true},
			column{head: " OUTPUT", width: 7, auto: true},
			column{head: " RATE", width: 10, right: true, trunc: true, alt: fill},
			column{head: "MISC", width: 4, auto: true})
		for i, x := range []string{
			"IfThenElse(JobUniverse==1,NumCkpts_RAW,NumJobStarts)",
			"IfThenElse(JobUniverse==1,FileReadBytes,BytesRecvd)",
			"IfThenElse(JobUniverse==1,FileWriteBytes,BytesSent)",
			"IfThenElse(JobUniverse==1,FileReadBytes+FileWriteBytes,BytesRecvd+BytesSent)",
		} {
			p.ioExprs[i], _ = newEvaluator(r.env, x) // constant, known to parse
		}
		p.footer = true
	}
	p.tab.cols = cols
	return p
}

func (p *jobView) job(job store.Job) error {
	r := p.r
	st, stok := r.int(job, "JobStatus")
	if !p.second {
		p.c.count(job, st, stok)
	}
	k := job.Key
	p.maxCluster, p.maxProc = max(p.maxCluster, k.Cluster), max(p.maxProc, k.Proc)
	owner := r.owner(job)
	if owner != missing {
		p.maxOwner = max(p.maxOwner, len(owner))
	}
	cells := []string{strconv.FormatInt(k.Cluster, 10) + ".", strconv.FormatInt(k.Proc, 10), owner}
	switch p.view {
	case ViewNormal, ViewDAG:
		size := missing
		if s, ok := r.size(job); ok {
			size = strconv.FormatFloat(s, 'f', 1, 64)
			if !p.sizeSeen || s > p.maxSize {
				p.maxSize, p.sizeSeen = s, true
			}
		}
		cells = append(cells, r.date(job, "QDate"), r.runTime(job, st), r.status(job, st, stok),
			r.value(job, "JobPrio"), size, r.command(job))
		if p.view == ViewDAG && !p.tab.over {
			d := dagInfo{key: k}
			d.parent, _ = r.dagParent(job)
			d.name, d.hasName = r.str(job, "DAGNodeName")
			p.dag = append(p.dag, d)
		}
	case ViewRun:
		cells = append(cells, r.date(job, "QDate"), r.runTime(job, st), p.host(job))
	case ViewIdle:
		u, uok := r.int(job, "JobUniverse")
		starts := "     0"
		if n, ok := r.int(job, "NumShadowStarts"); ok {
			starts = pad(strconv.FormatInt(n, 10), 6, true)
		}
		cells = append(cells, universeName(u, uok), r.printfInt(job, "RequestCpus", 4),
			r.printfInt(job, "RequestMemory", 6), starts, r.value(job, "LastRemoteHost"))
	case ViewHold:
		sub := missing
		if n, ok := r.int(job, "HoldReasonSubCode"); ok {
			sub = "/" + pad(strconv.FormatInt(n, 10), 3, false)
		}
		cells = append(cells, r.date(job, "EnteredCurrentStatus"), r.printfInt(job, "HoldReasonCode", 4), sub, r.value(job, "HoldReason"))
	case ViewIO:
		runs := missing
		if n, ok := p.ioExprs[0].number(job); ok {
			runs = pad(strconv.FormatInt(int64(n), 10), 4, true)
		}
		rate := p.ioExprs[3].format(job, false)
		cells = append(cells, runs, r.status(job, st, stok), p.ioExprs[1].format(job, false),
			p.ioExprs[2].format(job, false), rate, r.value(job, "JobUniverse"))
	}
	p.tab.add(cells...)
	return nil
}

// host is the HOST(S) column (CONDOR_Q.md §5.4).
func (p *jobView) host(job store.Job) string {
	r := p.r
	u, _ := r.int(job, "JobUniverse")
	var h string
	switch u {
	case store.SchedulerUniverse, 12:
		return p.schedd
	case 9:
		var ok bool
		if h, ok = r.str(job, "EC2RemoteVirtualMachineName"); !ok {
			h, _ = r.str(job, "GridResource")
		}
		return h
	}
	h, _ = r.str(job, "RemoteHost")
	if strings.HasPrefix(h, "<") {
		// A sinful string: its host, which condor_q would look up.
		h = strings.TrimPrefix(h, "<")
		if i := strings.IndexAny(h, ":>?"); i >= 0 {
			h = h[:i]
		}
	}
	return h
}

func (p *jobView) end(s *summary) error {
	if p.tab.stream == nil {
		p.fixWidths()
		if p.view == ViewDAG {
			p.dagOrder()
		}
		p.tab.print(p.out, true)
	}
	if p.footer {
		s.query = p.c.totals
		s.write(p.out, true)
	}
	return nil
}

// fixWidths widens the id and SIZE columns for large values (CONDOR_Q.md
// §5.1), when a cluster id reaches 9999, a proc id 999, or an owner is
// longer than 14.
func (p *jobView) fixWidths() {
	if p.maxCluster < 9999 && p.maxProc < 999 && p.maxOwner <= 14 {
		return
	}
	if d := len(strconv.FormatInt(p.maxCluster, 10)); d >= 5 && d <= 9 {
		p.tab.cols[0].width = d + 1
	}
	if d := len(strconv.FormatInt(p.maxProc, 10)); d >= 4 && d <= 9 {
		p.tab.cols[1].width = d
	}
	if p.sizeIndex >= 0 && p.sizeSeen {
		p.tab.cols[p.sizeIndex].width = max(4, len(strconv.FormatFloat(p.maxSize, 'f', 1, 64)))
	}
}

// dagOrder puts each DAG node under its dagman, labelled by its depth
// (CONDOR_Q.md §5.3): jobs in id order, each followed by its children,
// depth first; only a child cluster's lowest proc sits in the tree.
func (p *jobView) dagOrder() {
	n := len(p.dag)
	procZero := make(map[int64]int)
	first := make(map[int64]int) // a cluster's lowest proc in the results
	for i, d := range p.dag {
		if d.key.Proc == 0 {
			procZero[d.key.Cluster] = i
		}
		if _, ok := first[d.key.Cluster]; !ok {
			first[d.key.Cluster] = i
		}
	}
	parent := make([]int, n)
	children := make([][]int, n)
	for i, d := range p.dag {
		parent[i] = -1
		if d.parent == 0 {
			continue
		}
		if j, ok := procZero[d.parent]; ok && j != i {
			parent[i] = j
			if first[d.key.Cluster] == i {
				children[j] = append(children[j], i)
			}
		}
	}
	depth := func(i int) int {
		g := 0
		for j := parent[i]; j >= 0 && g < n; j = parent[j] {
			g++
		}
		return g
	}
	rows := make([]string, 0, n)
	done := make([]bool, n)
	var visit func(i, level int)
	visit = func(i, level int) {
		if done[i] || level > n {
			return
		}
		done[i] = true
		cells := strings.Split(p.tab.rows[i], "\x00")
		if d := p.dag[i]; d.parent != 0 {
			if d.hasName {
				label := strings.Repeat(" ", depth(i)) + "|-" + d.name
				if len(label) > 17 {
					label = label[:17]
				}
				cells[2] = label
			} else {
				p.warnings.WriteString("DAG node job with no DAGNodeName attribute!\n")
			}
		}
		if cells[2] == missing {
			cells[2] = ""
		}
		rows = append(rows, strings.Join(cells, "\x00"))
		for _, c := range children[i] {
			visit(c, level+1)
		}
	}
	for i := range n {
		visit(i, 0)
	}
	p.tab.rows = rows
}

// holdCodesView prints -hold-codes: a row per hold code and subcode, for
// the lowest id among its jobs (CONDOR_Q.md §5.6).
type holdCodesView struct {
	r      *renderer
	out    *bufio.Writer
	cut    int
	groups map[[2]string]*holdGroup
}

type holdGroup struct {
	code, sub string
	count     int
	cells     []string
}

func (p *holdCodesView) job(job store.Job) error {
	r := p.r
	code, sub := missing, missing
	if n, ok := r.int(job, "HoldReasonCode"); ok {
		code = strconv.FormatInt(n, 10)
	}
	if n, ok := r.int(job, "HoldReasonSubCode"); ok {
		sub = strconv.FormatInt(n, 10)
	}
	k := [2]string{code, sub}
	g := p.groups[k]
	if g == nil {
		g = &holdGroup{code: code, sub: sub}
		if p.groups == nil {
			p.groups = make(map[[2]string]*holdGroup)
		}
		p.groups[k] = g
		codeCell, subCell := missing, missing
		if code != missing {
			codeCell = pad(code, 4, true)
		}
		if sub != missing {
			subCell = "/" + pad(sub, 3, false)
		}
		g.cells = []string{r.owner(job), codeCell, subCell, "", job.Key.String(), r.date(job, "EnteredCurrentStatus"), r.value(job, "HoldReason")}
	}
	g.count++
	return nil
}

func (p *holdCodesView) end(*summary) error {
	t := table{trim: p.cut == 0, cut: p.cut, cols: []column{
		{head: "OWNER", width: 14, trunc: true, alt: fill},
		{head: "CODE", width: 4, auto: true},
		{head: "/SUB", width: 4, auto: true, noPrefix: true},
		{head: "   COUNT ", width: 9, auto: true},
		{head: "OLDEST_JOB_ID", width: 13, auto: true},
		{head: "HELD_SINCE", width: 11, right: true, trunc: true},
		{head: "HOLD_REASON"},
	}}
	groups := make([]*holdGroup, 0, len(p.groups))
	for _, g := range p.groups {
		groups = append(groups, g)
	}
	// By the code's text, then the subcode's: 12 sorts before 3.
	slices.SortFunc(groups, func(a, b *holdGroup) int {
		if c := strings.Compare(a.code, b.code); c != 0 {
			return c
		}
		return strings.Compare(a.sub, b.sub)
	})
	for _, g := range groups {
		g.cells[3] = pad(strconv.Itoa(g.count), 9, true)
		t.add(g.cells...)
	}
	t.print(p.out, true)
	return nil
}

// totalsView prints -totals: the banner and the totals lines.
type totalsView struct {
	c   counter
	out *bufio.Writer
	// counted says the query's totals came from the indexes' counts.
	counted bool
}

func (p *totalsView) job(job store.Job) error {
	st, ok := p.c.r.int(job, "JobStatus")
	p.c.count(job, st, ok)
	return nil
}

func (p *totalsView) end(s *summary) error {
	if !p.counted {
		s.query = p.c.totals
	}
	s.write(p.out, false)
	return nil
}
