package condorq

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/qindex/qindex/index"
)

// View names one of condor_q's output forms.
type View string

// The views qindex prints (CONDOR_Q.md §5, §7, §8).
const (
	ViewBatch     View = "batch"      // the default: a row per batch (§5.2)
	ViewNormal    View = "nobatch"    // a row per job (§5.1)
	ViewDAG       View = "dag"        // -nobatch -dag: DAG nodes under their dagman (§5.3)
	ViewRun       View = "run"        // -run (§5.4)
	ViewIdle      View = "idle"       // -idle (§5.5)
	ViewHold      View = "hold"       // -hold (§5.6)
	ViewHoldCodes View = "hold-codes" // -hold-codes (§5.6)
	ViewIO        View = "io"         // -io (§5.7)
	ViewTotals    View = "totals"     // -totals (§5.9)
	ViewColumns   View = "columns"    // -af and -format (§7)
	ViewLong      View = "long"       // -long (§8)
	ViewJSON      View = "json"       // -json (§8)
	ViewJSONL     View = "jsonl"      // -long:jsonl (§8)
	ViewXML       View = "xml"        // -xml (§8)
)

// TimeMode is what the RUN_TIME column shows (CONDOR_Q.md §5.1).
type TimeMode string

// The time modes.
const (
	TimeCurrentRun TimeMode = ""           // the current run (the default)
	TimeCumulative TimeMode = "cumulative" // -cumulative-time
	TimeCPU        TimeMode = "cpu"        // -cputime
)

// Defaults are a site's choices where condor_q reads its configuration
// (CONDOR_Q.md §2).
type Defaults struct {
	// OnlyMyJobs is CONDOR_Q_ONLY_MY_JOBS: without owners, ids or
	// -allusers, list only Me's jobs.
	OnlyMyJobs bool
	// BatchIsDefault is CONDOR_Q_DASH_BATCH_IS_DEFAULT: the batch view
	// unless another is asked for.
	BatchIsDefault bool
}

// CondorDefaults are condor_q's own defaults.
var CondorDefaults = Defaults{OnlyMyJobs: true, BatchIsDefault: true}

// Query is a parsed condor_q command line.
type Query struct {
	View View
	// Owners, Clusters and Jobs are the restriction list, or'd together
	// (CONDOR_Q.md §1.4); Jobs holds [cluster, proc] pairs, proc ≥ 0.
	Owners   []string
	Clusters []int64
	Jobs     [][2]int64
	// Constraints are and'ed: each -constraint, then the view's filter.
	Constraints []string
	// OnlyMine says "only my jobs" is in force (CONDOR_Q.md §2.1).
	OnlyMine bool
	// Limit is -limit (0: none).
	Limit int
	// Partial says the batch view may not compute DONE (CONDOR_Q.md §5.2.4).
	Partial bool
	// Time is the RUN_TIME column's mode.
	Time TimeMode
	// Columns are the -af and -format columns, in command-line order.
	Columns []Column
	// Layout is the -af qualifiers that shape a whole row (, n t g l h j).
	Layout string
	// Attributes is -attributes: the only attributes -long, -json and
	// -xml print (nil: all).
	Attributes []string
	// NoSort is -long:nosort: attributes in byte order, not ignoring case.
	NoSort bool
	// BatchZero is what -batch:c prints for a zero count ('_' by default).
	BatchZero string
	// Width is -wide:N (0: lines are never cut).
	Width int
	// HoldCodes are -hold:LIST's filters (empty: every held job).
	HoldCodes string
}

// Column is one -af or -format column.
type Column struct {
	// Arg is the attribute or expression as typed.
	Arg string
	// Format is -format's printf format; empty for -af.
	Format string
	// Mode is the -af column's value form: 0 (%v), 'V', 'r', 'T' or 'Y'.
	Mode byte `json:",omitempty"`
}

// UsageError is a command line condor_q would refuse; its text is
// condor_q's message.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// UnsupportedError is an option a database cannot answer; its text says why.
type UnsupportedError struct{ Option, Why string }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s", e.Option, e.Why)
}

// ErrHelp is returned for -help.
var ErrHelp = errors.New("help requested")

// ErrVersion is returned for -version.
var ErrVersion = errors.New("version requested")

// option is a row of condor_q's option table (CONDOR_Q.md §1.2), tested in
// this order; the first whose name the argument abbreviates wins.
type option struct {
	names []string
	min   []int // the minimum abbreviation of each name
	colon bool  // accepts -name:qualifiers
	exact bool  // only the whole name matches (-D)
	id    string
}

// Reasons a database cannot answer an option (CONDOR_Q.md §10).
const (
	whyCollector = "qindex reads one schedd's job queue from its database; it cannot ask a collector for other schedds, submitters or pools"
	whySlots     = "match analysis needs the pool's slot ads and the negotiator's priorities, which a job queue database does not hold"
	whyAggregate = "autoclusters, group-by aggregates, job sets and factory counters live only in the schedd's memory, not in its job queue log"
	whyFiles     = "qindex queries its database; run condor_q itself to read ads from files or event logs"
	whyFormats   = "print-format files are not supported by qindex; use -af or -format"
	whyDiag      = "this is a diagnostic of condor_q's conversation with a schedd, which qindex does not have"
	whyGrid      = "the -grid view is not supported by qindex; use -af with the Grid* attributes"
	whyAAF       = "-aaf is not supported by qindex; use -af with the view's attributes"
)

var options = []option{
	{names: []string{"wide"}, min: []int{1}, colon: true, id: "wide"},
	{names: []string{"long"}, min: []int{1}, colon: true, id: "long"},
	{names: []string{"xml"}, min: []int{3}, id: "xml"},
	{names: []string{"json"}, min: []int{2}, id: "json"},
	{names: []string{"limit"}, min: []int{3}, id: "limit"},
	{names: []string{"pool"}, min: []int{1}, id: "pool"},
	{names: []string{"D"}, exact: true, id: "D"},
	{names: []string{"name"}, min: []int{1}, id: "name"},
	{names: []string{"direct"}, min: []int{1}, id: "direct"},
	{names: []string{"submitter"}, min: []int{1}, id: "submitter"},
	{names: []string{"constraint"}, min: []int{1}, id: "constraint"},
	{names: []string{"slotconstraint", "mconstraint"}, min: []int{5, 2}, id: "slotconstraint"},
	{names: []string{"machine"}, min: []int{2}, id: "machine"},
	{names: []string{"address"}, min: []int{1}, id: "address"},
	{names: []string{"autocluster"}, min: []int{2}, colon: true, id: "autocluster"},
	{names: []string{"group-by"}, min: []int{2}, colon: true, id: "group-by"},
	{names: []string{"factory"}, min: []int{4}, colon: true, id: "factory"},
	{names: []string{"jobset"}, min: []int{5}, colon: true, id: "jobset"},
	{names: []string{"attributes"}, min: []int{2}, id: "attributes"},
	{names: []string{"format"}, min: []int{1}, id: "format"},
	{names: []string{"aaf"}, min: []int{3}, colon: true, id: "aaf"},
	{names: []string{"autoformat", "af"}, min: []int{5, 2}, colon: true, id: "af"},
	{names: []string{"print-format"}, min: []int{2}, colon: true, id: "print-format"},
	{names: []string{"global"}, min: []int{1}, id: "global"},
	{names: []string{"allusers", "all-users"}, min: []int{2, 2}, id: "allusers"},
	{names: []string{"schedd-constraint"}, min: []int{5}, id: "schedd-constraint"},
	{names: []string{"help"}, min: []int{1}, id: "help"},
	{names: []string{"better-analyze", "better-analyse", "analyze", "analyse"}, min: []int{2, 2, 2, 2}, colon: true, id: "analyze"},
	{names: []string{"reverse-analyze"}, min: []int{3}, colon: true, id: "reverse-analyze"},
	{names: []string{"unmatchable"}, min: []int{5}, colon: true, id: "unmatchable"},
	{names: []string{"dry-run"}, min: []int{3}, colon: true, id: "dry-run"},
	{names: []string{"capture-raw-results"}, min: []int{7}, colon: true, id: "capture-raw-results"},
	{names: []string{"verbose"}, min: []int{4}, id: "verbose"},
	{names: []string{"run"}, min: []int{1}, id: "run"},
	{names: []string{"hold", "held"}, min: []int{2, 2}, colon: true, id: "hold"},
	{names: []string{"hold-codes", "holdcodes"}, min: []int{6, 5}, colon: true, id: "hold-codes"},
	{names: []string{"idle"}, min: []int{3}, id: "idle"},
	{names: []string{"cputime"}, min: []int{2}, id: "cputime"},
	{names: []string{"currentrun"}, min: []int{3}, id: "currentrun"},
	{names: []string{"cumulative-time"}, min: []int{3}, id: "cumulative-time"},
	{names: []string{"grid"}, min: []int{2}, colon: true, id: "grid"},
	{names: []string{"debug"}, min: []int{3}, colon: true, id: "debug"},
	{names: []string{"io"}, min: []int{2}, id: "io"},
	{names: []string{"dag"}, min: []int{2}, id: "dag"},
	{names: []string{"batch", "progress"}, min: []int{2, 3}, colon: true, id: "batch"},
	{names: []string{"nobatch"}, min: []int{3}, id: "nobatch"},
	{names: []string{"totals"}, min: []int{3}, id: "totals"},
	{names: []string{"expert"}, min: []int{1}, id: "expert"},
	{names: []string{"jobads"}, min: []int{1}, colon: true, id: "jobads"},
	{names: []string{"userlog"}, min: []int{1}, id: "userlog"},
	{names: []string{"slotads"}, min: []int{1}, colon: true, id: "slotads"},
	{names: []string{"userprios"}, min: []int{5}, colon: true, id: "userprios"},
	{names: []string{"nouserprios"}, min: []int{7}, colon: true, id: "nouserprios"},
	{names: []string{"version"}, min: []int{1}, id: "version"},
	{names: []string{"profile"}, min: []int{4}, colon: true, id: "profile"},
	{names: []string{"stream-results"}, min: []int{2}, id: "stream-results"},
}

// OptionNames returns the names of the options qindex answers, each with
// its dash, for shell completion.
func OptionNames() []string {
	var names []string
	for _, o := range options {
		if _, refused := unsupported[o.id]; refused || o.exact {
			continue
		}
		for _, n := range o.names {
			names = append(names, "-"+n)
		}
	}
	return names
}

// unsupported are the options qindex refuses, and why.
var unsupported = map[string]string{
	"pool": whyCollector, "name": whyCollector, "submitter": whyCollector, "address": whyCollector,
	"global": whyCollector, "schedd-constraint": whyCollector,
	"analyze": whySlots, "reverse-analyze": whySlots, "unmatchable": whySlots, "slotconstraint": whySlots,
	"machine": whySlots, "slotads": whySlots, "userprios": whySlots,
	"autocluster": whyAggregate, "group-by": whyAggregate, "factory": whyAggregate, "jobset": whyAggregate,
	"jobads": whyFiles, "userlog": whyFiles, "print-format": whyFormats,
	"dry-run": whyDiag, "capture-raw-results": whyDiag, "grid": whyGrid, "aaf": whyAAF,
}

// lookup finds the option arg (without its dashes) names: double says it
// had two dashes (the whole name is required). qual is the text after a
// ':' for options that take one.
func lookup(table []option, arg string, double bool) (o *option, qual string, hasQual bool) {
	name := arg
	if i := strings.IndexByte(arg, ':'); i >= 0 {
		name, qual, hasQual = arg[:i], arg[i+1:], true
	}
	for i := range table {
		o := &table[i]
		for j, n := range o.names {
			var ok bool
			switch {
			case o.exact || double:
				ok = name == n
			default:
				ok = len(name) >= o.min[j] && len(name) <= len(n) && strings.HasPrefix(n, name)
			}
			if ok && (!hasQual || o.colon) {
				return o, qual, hasQual
			}
		}
	}
	return nil, "", false
}

// Parse reads condor_q's arguments (without the program name), with d as
// the site's defaults. It returns a *UsageError, an *UnsupportedError,
// ErrHelp or ErrVersion for command lines that list no jobs.
func Parse(args []string, d Defaults) (*Query, error) {
	q := &Query{BatchZero: "_"}
	p := &parser{q: q}
	var (
		allUsers, explicitBatch, explicitNoBatch, dag bool
		stateView                                     string // run, hold, idle or hold-codes
		formView                                      View   // long, json, xml, totals, io
		timeSet                                       string
	)
	usage := func(format string, a ...any) (*Query, error) {
		return nil, &UsageError{Msg: fmt.Sprintf(format, a...)}
	}
	next := func(i *int) (string, bool) {
		if *i+1 >= len(args) {
			return "", false
		}
		*i++
		return args[*i], true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			q.addRestriction(a)
			continue
		}
		double := strings.HasPrefix(a, "--")
		o, qual, hasQual := lookup(options, strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), double)
		if a == "-" || a == "--" || o == nil {
			return usage("Error: unrecognized argument %s", a)
		}
		if why, ok := unsupported[o.id]; ok {
			return nil, &UnsupportedError{Option: a, Why: why}
		}
		switch o.id {
		case "wide":
			if hasQual {
				n, err := strconv.Atoi(qual)
				if err != nil || n < 2 {
					return usage("Error: -wide:%s is not a width", qual)
				}
				q.Width = n
			}
		case "D", "direct":
			v, ok := next(&i)
			if !ok {
				return usage("Error: %s requires another parameter", a)
			}
			if o.id == "direct" && v != "schedd" {
				return usage("Error: -direct: '%s' is not a valid value; only schedd is", v)
			}
		case "allusers":
			allUsers = true
		case "long", "xml", "json", "limit", "constraint", "attributes", "format", "af":
			if err := p.common(o.id, qual, args, &i); err != nil {
				return nil, err
			}
		case "help":
			return nil, ErrHelp
		case "version":
			return nil, ErrVersion
		case "verbose", "debug", "expert", "nouserprios", "profile", "stream-results":
			// They change what condor_q says about itself, not the jobs.
		case "run", "idle", "hold", "hold-codes":
			if stateView != "" && stateView != o.id {
				if o.id == "hold-codes" || stateView == "hold-codes" {
					return usage("-hold-codes incompatible with -idle or -run")
				}
				return usage("-run and -hold/held or -idle are incompatible")
			}
			stateView = o.id
			q.Partial = true
			if o.id == "hold" && hasQual {
				q.HoldCodes = qual
			}
		case "cputime":
			q.Time = TimeCPU
		case "currentrun", "cumulative-time":
			if timeSet != "" {
				if timeSet == "currentrun" {
					return usage("Error: -currentrun can't be used with -cumulative-time")
				}
				return usage("Error: -cumulative-time can't be used with -currentrun")
			}
			timeSet = o.id
			if o.id == "cumulative-time" && q.Time != TimeCPU {
				q.Time = TimeCumulative
			}
		case "io":
			formView = ViewIO
		case "dag":
			dag = true
		case "batch":
			explicitBatch = true
			if hasQual && qual != "" {
				if z, ok := batchZeros[qual[len(qual)-1]]; ok {
					q.BatchZero = z
				}
			}
		case "nobatch":
			explicitNoBatch = true
		case "totals":
			formView = ViewTotals
		}
	}
	if explicitBatch && (p.afSeen || p.formatSeen) {
		return usage("Error: -batch conflicts with -format and -af")
	}
	form, err := p.view()
	if err != nil {
		return nil, err
	}
	// The view (CONDOR_Q.md §2.2): -long and its forms, -af and -format,
	// -io and -totals decide it; else the first that applies of
	// hold-codes, hold, batch, dag, run, idle and the per-job view.
	batch := explicitBatch || !explicitNoBatch && d.BatchIsDefault && stateView == "" && formView == ""
	switch {
	case form != "":
		q.View = form
	case formView != "":
		q.View = formView
	case stateView == "hold-codes" || stateView == "hold":
		q.View = View(stateView)
	case batch:
		q.View = ViewBatch
	case dag:
		q.View = ViewDAG
	case stateView != "":
		q.View = View(stateView)
	default:
		q.View = ViewNormal
	}
	// The view's filter, and'ed (CONDOR_Q.md §1.4).
	switch stateView {
	case "run":
		q.Constraints = append(q.Constraints, "JobStatus == 2 || JobStatus == 6 || JobStatus == 7")
	case "idle":
		q.Constraints = append(q.Constraints, "JobStatus == 1")
	case "hold", "hold-codes":
		q.Constraints = append(q.Constraints, "JobStatus == 5")
		if c := holdCodeFilter(q.HoldCodes); c != "" {
			q.Constraints = append(q.Constraints, c)
		}
	}
	if q.View == ViewIO {
		q.Constraints = append(q.Constraints, "JobUniverse == 1 || TransferQueued =?= true || TransferringOutput =?= true || TransferringInput =?= true")
	}
	q.OnlyMine = d.OnlyMyJobs && !allUsers && len(q.Owners)+len(q.Clusters)+len(q.Jobs) == 0
	return q, nil
}

// parser is what the options condor_q and condor_history share (-long and
// its forms, -limit, -constraint, -attributes, -format, -af) leave behind.
type parser struct {
	q                            *Query
	long                         struct{ long, xml, json, jsonl bool }
	afSeen, formatSeen, afBroken bool
}

func usagef(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// common handles option id, with qualifiers qual, at args[*i], moving *i
// past the values it takes.
func (p *parser) common(id, qual string, args []string, i *int) error {
	next := func() (string, bool) {
		if *i+1 >= len(args) {
			return "", false
		}
		*i++
		return args[*i], true
	}
	switch id {
	case "long":
		p.long.long = true
		for _, f := range strings.Split(qual, ",") {
			switch f {
			case "xml":
				p.long.xml = true
			case "json":
				p.long.json = true
			case "jsonl":
				p.long.jsonl = true
			case "nosort":
				p.q.NoSort = true
			}
		}
	case "xml":
		p.long.xml = true
	case "json":
		p.long.json = true
	case "limit":
		v, ok := next()
		if !ok {
			return usagef("Error: -limit requires the max number of results as an argument.")
		}
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return usagef("Error: Unable to convert (%s) to a number for -limit.", v)
		case n <= 0:
			return usagef("Error: %d is not a valid for -limit.", n)
		}
		p.q.Limit = n
	case "constraint":
		v, ok := next()
		if !ok {
			return usagef("Error: -constraint requires another parameter")
		}
		if _, err := index.ParseExpr(v); err != nil {
			return usagef("Error: -constraint %q does not parse: %v", v, err)
		}
		p.q.Constraints = append(p.q.Constraints, v)
		p.q.Partial = true
	case "attributes":
		v, ok := next()
		if !ok {
			return usagef("Error: -attributes requires a list of attributes to show")
		}
		p.q.Attributes = append(p.q.Attributes, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })...)
	case "format":
		if *i+2 >= len(args) {
			return usagef("Error: -format requires format and attribute parameters")
		}
		if s := parsePrintf(args[*i+1]); len(s.width) > 4 || len(s.prec) > 5 {
			return usagef("Error: -format %q: a width or precision over 9999 characters", args[*i+1])
		}
		if !p.afBroken {
			if !parsesAsArg(args[*i+2]) {
				p.afBroken = true
			} else {
				p.q.Columns = append(p.q.Columns, Column{Arg: args[*i+2], Format: args[*i+1]})
			}
		}
		p.formatSeen = true
		*i += 2
	case "af":
		if *i+1 >= len(args) || strings.HasPrefix(args[*i+1], "-") {
			return usagef("Error: -autoformat requires at least one attribute parameter")
		}
		mode := byte(0)
		for _, m := range []byte("rVYT") {
			if strings.IndexByte(qual, m) >= 0 || (m == 'r' && strings.IndexByte(qual, 'o') >= 0) {
				mode = m
				break
			}
		}
		for _, c := range qual {
			if strings.ContainsRune(",ntglhj", c) && !strings.ContainsRune(p.q.Layout, c) {
				p.q.Layout += string(c)
			}
		}
		for *i+1 < len(args) && !strings.HasPrefix(args[*i+1], "-") {
			*i++
			for _, arg := range splitTopLevel(args[*i]) {
				if p.afBroken || !parsesAsArg(arg) {
					p.afBroken = true
					continue
				}
				p.q.Columns = append(p.q.Columns, Column{Arg: arg, Mode: mode})
			}
		}
		if *i+1 < len(args) && args[*i+1] == "-" {
			*i++
		}
		p.afSeen = true
	}
	return nil
}

// view returns the output form -long and its forms, -af and -format ask
// for, if any, or a usage error.
func (p *parser) view() (View, error) {
	if p.long.xml && (p.long.json || p.long.jsonl) {
		return "", usagef("Error: Cannot print as both XML and JSON")
	}
	switch {
	case p.long.xml:
		return ViewXML, nil
	case p.long.jsonl:
		return ViewJSONL, nil
	case p.long.json:
		return ViewJSON, nil
	case p.long.long:
		return ViewLong, nil
	case p.afSeen || p.formatSeen:
		return ViewColumns, nil
	}
	return "", nil
}

// parsesAsArg reports whether an -af or -format argument parses as an
// expression; condor_q drops one that does not, and every one after it.
func parsesAsArg(arg string) bool {
	_, err := index.ParseExpr(arg)
	return err == nil
}

// batchZeros maps -batch:c's last character to what a zero count prints.
var batchZeros = map[byte]string{'b': "", '?': "?", '*': "*", '.': ".", '-': "-", '_': "_", '#': "#", 'z': "0"}

// addRestriction files a word of the restriction list: a job id if all of
// it reads as C, C. or C.P (StrIsProcId), else an owner (CONDOR_Q.md §1.4).
func (q *Query) addRestriction(a string) {
	c, p, ok := procID(a)
	switch {
	case !ok:
		q.Owners = append(q.Owners, a)
	case p < 0:
		q.Clusters = append(q.Clusters, c)
	default:
		q.Jobs = append(q.Jobs, [2]int64{c, p})
		q.Partial = true
	}
}

// procID reads s as StrIsProcId does: strtol for the cluster (leading
// spaces and a sign allowed), then nothing, ".", or "." and a proc.
func procID(s string) (c, p int64, ok bool) {
	num := func(s string) (int64, string, bool) {
		t := strings.TrimLeft(s, " \t\n\v\f\r")
		i := 0
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		j := i
		for j < len(t) && t[j] >= '0' && t[j] <= '9' {
			j++
		}
		if j == i {
			return 0, s, false
		}
		n, err := strconv.ParseInt(t[:j], 10, 64)
		if err != nil {
			return 0, s, false
		}
		return n, t[j:], true
	}
	c, rest, ok := num(s)
	if !ok {
		return 0, 0, false
	}
	switch {
	case rest == "" || rest == ".":
		return c, -1, true
	case rest[0] != '.':
		return 0, 0, false
	}
	p, rest, ok = num(rest[1:])
	if !ok || rest != "" {
		return 0, 0, false
	}
	return c, p, true
}

// holdCodeFilter turns -hold:LIST into its constraint (CONDOR_Q.md §1.4);
// items that are not codes are left out, as condor_q does after its warning.
func holdCodeFilter(list string) string {
	var terms []string
	for _, item := range strings.Split(list, ",") {
		code, sub, hasSub := strings.Cut(item, "/")
		c, err := strconv.Atoi(code)
		if err != nil {
			continue
		}
		if !hasSub {
			terms = append(terms, fmt.Sprintf("HoldReasonCode==%d", c))
			continue
		}
		s, err := strconv.Atoi(sub)
		if err != nil {
			continue
		}
		terms = append(terms, fmt.Sprintf("(HoldReasonCode==%d && HoldReasonSubCode==%d)", c, s))
	}
	return strings.Join(terms, " || ")
}

// BadHoldCodes returns the -hold:LIST items condor_q warns about.
func BadHoldCodes(list string) []string {
	var bad []string
	if list == "" {
		return nil
	}
	for _, item := range strings.Split(list, ",") {
		code, sub, hasSub := strings.Cut(item, "/")
		_, err := strconv.Atoi(code)
		if err == nil && hasSub {
			_, err = strconv.Atoi(sub)
		}
		if err != nil {
			bad = append(bad, item)
		}
	}
	return bad
}

// splitTopLevel splits an -af word at the commas outside parentheses,
// brackets, braces and strings: qindex's --af A,B list. A word without
// such a comma is one argument, as condor_q reads it.
func splitTopLevel(list string) []string {
	var parts []string
	depth, inString, start := 0, false, 0
	for i := 0; i < len(list); i++ {
		switch c := list[i]; {
		case inString && c == '\\' && i+1 < len(list) && list[i+1] == '"':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, strings.TrimSpace(list[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(list[start:]))
}
