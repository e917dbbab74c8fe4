package condorq

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/qindex/qindex/index"
	"github.com/qindex/qindex/store"
)

// Options say for whom, when and where a query runs.
type Options struct {
	// Me is the user whose jobs "only my jobs" lists (CONDOR_Q.md §2.1).
	Me string
	// Now is the query's clock (Unix seconds): condor_q's ServerTime.
	Now int64
	// Location is the time zone of dates; nil means local time.
	Location *time.Location
	// DB is the database's path, which the banner names.
	DB string
	// NoIndex scans every job instead of using the indexes.
	NoIndex bool
	// MaxBuffer bounds the bytes of rows a per-job view keeps to size its
	// columns (0: DefaultMaxBuffer); past it, the view reads the jobs a
	// second time and prints them as it goes. The batch and DAG views,
	// which must see every job before their first row, fail past it.
	MaxBuffer int
}

// DefaultMaxBuffer is Options.MaxBuffer's default: a few hundred thousand
// rows.
const DefaultMaxBuffer = 64 << 20

// Selection returns the jobs q selects, for o.Me, as an index.Selection:
// the restriction list (or Me, when only my jobs are listed), and'ed
// with the constraints (CONDOR_Q.md §1.4).
func (q *Query) Selection(o Options) (index.Selection, error) {
	var s index.Selection
	s.Owners = append(s.Owners, q.Owners...)
	if q.OnlyMine && o.Me != "" {
		s.Owners = []string{o.Me}
	}
	s.Clusters = append(s.Clusters, q.Clusters...)
	dagIDs := q.View == ViewBatch || q.View == ViewDAG
	if dagIDs {
		s.DAGClusters = append(s.DAGClusters, q.Clusters...)
	}
	for _, j := range q.Jobs {
		s.Jobs = append(s.Jobs, store.Key{Cluster: j[0], Proc: j[1]})
		if dagIDs && j[1] == 0 {
			s.DAGClusters = append(s.DAGClusters, j[0])
		}
	}
	if len(q.Constraints) > 0 {
		text := q.Constraints[0]
		if len(q.Constraints) > 1 {
			text = "(" + strings.Join(q.Constraints, ") && (") + ")"
		}
		x, err := index.ParseExpr(text)
		if err != nil {
			return s, &UsageError{Msg: fmt.Sprintf("Error: the constraint %q does not parse: %v", text, err)}
		}
		s.Constraint = x
	}
	return s, nil
}

// Run prints q's answer from snap to out, and what condor_q says on its
// standard error (warnings) to errOut.
func Run(ctx context.Context, snap *store.Snapshot, q *Query, o Options, out, errOut io.Writer) (index.Stats, error) {
	sel, err := q.Selection(o)
	if err != nil {
		return index.Stats{}, err
	}
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	for _, item := range BadHoldCodes(q.HoldCodes) {
		fmt.Fprintf(errOut, "Warning %q is not a hold code and/or subcode. ignoring\n", item)
	}
	env := index.NewEnv(o.Now)
	r := &renderer{env: env, now: o.Now, loc: loc, time: q.Time}
	w := bufio.NewWriterSize(out, 1<<16)
	schedd := scheddName(snap)
	var warnings strings.Builder

	maxBuffer := o.MaxBuffer
	if maxBuffer == 0 {
		maxBuffer = DefaultMaxBuffer
	}
	var p printer
	banner := true
	switch q.View {
	case ViewColumns:
		if p, err = newColumnsView(q, r, w); err != nil {
			return index.Stats{}, err
		}
		banner = false
	case ViewLong, ViewJSON, ViewJSONL, ViewXML:
		p = &adView{view: q.View, env: env, out: w, now: o.Now, only: q.Attributes, noSort: q.NoSort}
		banner = false
	case ViewBatch:
		p = &batchView{r: r, c: counter{r: r}, out: w, partial: q.Partial, zero: q.BatchZero, cut: max(q.Width-1, 0), limit: maxBuffer}
	case ViewHoldCodes:
		p = &holdCodesView{r: r, out: w, cut: max(q.Width-1, 0)}
	case ViewTotals:
		p = &totalsView{c: counter{r: r}, out: w}
	default:
		jv := newJobView(q.View, r, w, q.Width, schedd, &warnings)
		jv.tab.limit = maxBuffer
		p = jv
	}
	if banner {
		name := "-- Database: " + o.DB
		if schedd != "" {
			name = "-- Schedd: " + schedd + " : " + o.DB
		}
		w.WriteString("\n\n" + name + " @ " + time.Unix(o.Now, 0).In(loc).Format("01/02/06 15:04:05") + "\n")
	}

	s := &summary{}
	var st index.Stats
	tv, isTotals := p.(*totalsView)
	if isTotals && !o.NoIndex && q.Limit == 0 {
		s.query, st, tv.counted, err = sel.CountTotals(snap, env)
		if err != nil {
			return st, err
		}
	}
	if !isTotals || !tv.counted {
		st, err = sel.Run(ctx, snap, env, index.RunOptions{Limit: q.Limit, NoIndex: o.NoIndex}, p.job)
		if err != nil {
			return st, err
		}
	}
	if jv, ok := p.(*jobView); ok && jv.tab.over {
		// Too many rows to keep: the first pass sized the columns; the
		// second, over the same snapshot, prints the rows as it reads them.
		if jv.view == ViewDAG {
			return st, fmt.Errorf("-dag: the %d jobs selected are more than it orders in memory (%d MiB of rows); narrow the query, or use -nobatch", st.Matched, jv.tab.limit>>20)
		}
		jv.fixWidths()
		jv.tab.printHeader(w)
		jv.tab.stream, jv.second = w, true
		if _, err = sel.Run(ctx, snap, env, index.RunOptions{Limit: q.Limit, NoIndex: o.NoIndex}, p.job); err != nil {
			return st, err
		}
	}
	switch q.View {
	case ViewBatch, ViewNormal, ViewDAG, ViewHold, ViewIO, ViewTotals:
		// The whole queue's and Me's totals, unless the query's are they.
		whole := isTotals && tv.counted && len(sel.Owners) == 0
		if !whole {
			if s.all, err = (index.Selection{}).Totals(ctx, snap, env); err != nil {
				return st, err
			}
		} else {
			s.all = s.query
		}
		if q.OnlyMine && o.Me != "" {
			s.me = o.Me
			if isTotals && tv.counted {
				s.mine = s.query // the query is Owner == Me
			} else if s.mine, err = (index.Selection{Owners: []string{o.Me}}).Totals(ctx, snap, env); err != nil {
				return st, err
			}
		}
	}
	if err := p.end(s); err != nil {
		return st, err
	}
	io.WriteString(errOut, warnings.String())
	return st, w.Flush()
}

// scheddName returns the schedd's name as the log's header ad gives it,
// or "".
func scheddName(snap *store.Snapshot) string {
	ad, ok := snap.Ad(store.Key{Cluster: 0, Proc: 0})
	if !ok {
		return ""
	}
	for _, n := range []string{"ScheddName", "Name"} {
		if v, ok := ad.Lookup(n); ok && store.LiteralKind(v) == store.KindString {
			return store.StringValue(v)
		}
	}
	return ""
}
