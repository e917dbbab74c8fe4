package condorq

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
)

// ViewHistory is condor_history's default table, a row per job.
const ViewHistory View = "history"

// HistoryQuery is a parsed condor_history command line.
type HistoryQuery struct {
	Query
	// SinceJob is -since's job id: only the jobs that left after it.
	SinceJob *store.Key
	// Since is -since's expression: stop at the first job for which it is
	// true, newest first.
	Since string
	// After is -since's or -completedsince's time: only the jobs that left
	// after it (0: none).
	After int64
	// ScanLimit is -scanlimit: stop after reading this many jobs.
	ScanLimit int
}

// historyOptions is condor_history's option table, in the order its names
// are tried.
var historyOptions = []option{
	{names: []string{"long"}, min: []int{1}, colon: true, id: "long"},
	{names: []string{"xml"}, min: []int{2}, id: "xml"},
	{names: []string{"json"}, min: []int{2}, id: "json"},
	{names: []string{"jsonl"}, min: []int{5}, id: "jsonl"},
	{names: []string{"limit", "match"}, min: []int{3, 1}, id: "limit"},
	{names: []string{"constraint"}, min: []int{2}, id: "constraint"},
	{names: []string{"attributes"}, min: []int{2}, id: "attributes"},
	{names: []string{"format"}, min: []int{1}, id: "format"},
	{names: []string{"autoformat", "af"}, min: []int{5, 2}, colon: true, id: "af"},
	{names: []string{"since"}, min: []int{3}, id: "since"},
	{names: []string{"completedsince"}, min: []int{3}, id: "completedsince"},
	{names: []string{"scanlimit"}, min: []int{4}, id: "scanlimit"},
	{names: []string{"backwards"}, min: []int{1}, id: "backwards"},
	{names: []string{"forwards"}, min: []int{3}, id: "forwards"},
	{names: []string{"wide"}, min: []int{1}, colon: true, id: "wide"},
	{names: []string{"help"}, min: []int{1}, id: "help"},
	{names: []string{"version"}, min: []int{1}, id: "version"},
	{names: []string{"name"}, min: []int{1}, id: "name"},
	{names: []string{"pool"}, min: []int{1}, id: "pool"},
	{names: []string{"file"}, min: []int{1}, id: "file"},
	{names: []string{"userlog"}, min: []int{1}, id: "userlog"},
	{names: []string{"search"}, min: []int{3}, id: "search"},
	{names: []string{"directory", "dir"}, min: []int{3, 3}, id: "dir"},
	{names: []string{"startd"}, min: []int{3}, id: "startd"},
	{names: []string{"epochs"}, min: []int{2}, colon: true, id: "epochs"},
	{names: []string{"print-format"}, min: []int{2}, colon: true, id: "print-format"},
	{names: []string{"local", "schedd"}, min: []int{3, 3}, id: "local"},
}

// historyUnsupported are the condor_history options qindex refuses, and why.
var historyUnsupported = map[string]string{
	"name": whyCollector, "pool": whyCollector,
	"file": whyFiles, "userlog": whyFiles, "search": whyFiles, "dir": whyFiles,
	"startd":       "qindex keeps the history of one schedd's job queue, not of its execute nodes",
	"epochs":       "qindex records each job once, when it leaves the queue; per-run epoch ads are not in the job queue log",
	"print-format": whyFormats,
	"forwards":     "qindex lists history newest first, as condor_history does by default; reverse its output (tac) for oldest first",
}

// HistoryOptionNames returns the names of the condor_history options
// qindex answers, each with its dash, for shell completion.
func HistoryOptionNames() []string {
	var names []string
	for _, o := range historyOptions {
		if _, refused := historyUnsupported[o.id]; refused {
			continue
		}
		for _, n := range o.names {
			names = append(names, "-"+n)
		}
	}
	return names
}

// ParseHistory reads condor_history's arguments (without the program
// name). It returns a *UsageError, an *UnsupportedError, ErrHelp or
// ErrVersion for command lines that list no jobs.
func ParseHistory(args []string) (*HistoryQuery, error) {
	h := &HistoryQuery{}
	p := &parser{q: &h.Query}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			h.addRestriction(a)
			continue
		}
		o, qual, _ := lookup(historyOptions, strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), strings.HasPrefix(a, "--"))
		if a == "-" || a == "--" || o == nil {
			return nil, usagef("Error: unrecognized argument %s", a)
		}
		if why, ok := historyUnsupported[o.id]; ok {
			return nil, &UnsupportedError{Option: a, Why: why}
		}
		switch o.id {
		case "help":
			return nil, ErrHelp
		case "version":
			return nil, ErrVersion
		case "backwards", "local", "wide": // the order and form qindex prints anyway
		case "jsonl":
			p.long.jsonl = true
		case "since", "completedsince", "scanlimit":
			if i+1 == len(args) {
				return nil, usagef("Error: %s requires another argument", a)
			}
			i++
			if err := h.parseBound(o.id, args[i]); err != nil {
				return nil, err
			}
		default:
			if err := p.common(o.id, qual, args, &i); err != nil {
				return nil, err
			}
		}
	}
	v, err := p.view()
	if err != nil {
		return nil, err
	}
	if h.View = v; v == "" {
		h.View = ViewHistory
	}
	return h, nil
}

// parseBound reads the value of -since, -completedsince or -scanlimit.
func (h *HistoryQuery) parseBound(id, v string) error {
	if id == "scanlimit" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return usagef("Error: -scanlimit %q is not a positive number", v)
		}
		h.ScanLimit = n
		return nil
	}
	if t, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		h.After = t
		return nil
	}
	if c, p, ok := procID(v); ok && id == "since" {
		h.SinceJob = &store.Key{Cluster: c, Proc: max(p, 0)}
		return nil
	}
	if id == "completedsince" {
		return usagef("Error: -completedsince %q is not a Unix time", v)
	}
	if _, err := index.ParseExpr(v); err != nil {
		return usagef("Error: -since %q is not a job id, a time or an expression: %v", v, err)
	}
	h.Since = v
	return nil
}

// Selection returns the entries h selects.
func (h *HistoryQuery) Selection() (index.HistorySelection, error) {
	s := index.HistorySelection{Owners: h.Owners, Clusters: h.Clusters, SinceJob: h.SinceJob, ScanLimit: h.ScanLimit}
	for _, j := range h.Jobs {
		s.Jobs = append(s.Jobs, store.Key{Cluster: j[0], Proc: j[1]})
	}
	if h.After != 0 {
		s.From = store.HistoryAfter(h.After)
	}
	var err error
	if len(h.Constraints) > 0 {
		text := "(" + strings.Join(h.Constraints, ") && (") + ")"
		if s.Constraint, err = index.ParseExpr(text); err != nil {
			return s, usagef("Error: the constraint %q does not parse: %v", text, err)
		}
	}
	if h.Since != "" {
		if s.Since, err = index.ParseExpr(h.Since); err != nil {
			return s, usagef("Error: -since %q does not parse: %v", h.Since, err)
		}
	}
	return s, nil
}

// historyHeader is condor_history's header line.
const historyHeader = " ID     OWNER          SUBMITTED   RUN_TIME     ST COMPLETED   CMD            \n"

// historyView prints condor_history's table: a row per job, as it comes.
type historyView struct {
	r   *renderer
	out *bufio.Writer
}

func (p *historyView) job(job store.Job) error {
	r, w := p.r, p.out
	st, _ := r.int(job, "JobStatus")
	letter := " "
	switch st {
	case index.StatusIdle, index.StatusRunning, 3, 4, index.StatusTransferringOutput:
		letter = statusLetters[st : st+1]
	}
	run, ok := index.FloatAttr(job, r.env, "RemoteWallClockTime")
	if !ok {
		run, _ = index.FloatAttr(job, r.env, "RemoteUserCpu")
	}
	completed := int64(-1)
	if t, ok := r.int(job, "CompletionDate"); ok && t > 0 {
		completed = t
	}
	submitted := int64(-1)
	if t, ok := r.int(job, "QDate"); ok {
		submitted = t
	}
	cmd, _ := r.str(job, "Cmd")
	args, ok := r.str(job, "Args")
	if !ok {
		args, ok = r.str(job, "Arguments")
	}
	if ok {
		cmd += " " + args
	}
	fmt.Fprintf(w, "%4d.%-3d %-14s %11s %12s %-2s %11s %s\n", job.Key.Cluster, job.Key.Proc, r.owner(job),
		formatDate(submitted, r.loc), formatTime(int64(run)), letter, formatDate(completed, r.loc), cmd)
	return nil
}

func (p *historyView) end(*summary) error { return nil }

// RunHistory prints h's answer from snap's history to out.
func RunHistory(ctx context.Context, snap *store.Snapshot, h *HistoryQuery, o Options, out io.Writer) (index.Stats, error) {
	sel, err := h.Selection()
	if err != nil {
		return index.Stats{}, err
	}
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	env := index.NewEnv(o.Now)
	r := &renderer{env: env, now: o.Now, loc: loc}
	w := bufio.NewWriterSize(out, 1<<16)
	var p printer
	switch h.View {
	case ViewColumns:
		if p, err = newColumnsView(&h.Query, r, w); err != nil {
			return index.Stats{}, err
		}
	case ViewLong, ViewJSON, ViewJSONL, ViewXML:
		p = &adView{view: h.View, env: env, out: w, now: o.Now, only: h.Attributes, noSort: h.NoSort}
	default:
		w.WriteString(historyHeader)
		p = &historyView{r: r, out: w}
	}
	st, err := sel.Run(ctx, snap, env, index.RunOptions{Limit: h.Limit, NoIndex: o.NoIndex}, func(e store.HistoryEntry) error {
		return p.job(e.Job())
	})
	if err != nil {
		return st, err
	}
	if err := p.end(&summary{}); err != nil {
		return st, err
	}
	return st, w.Flush()
}
