package exporter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/qindex/qindex/ingest"
)

// IngestCollector reports the daemon's progress in the log, read from its
// Follower at each scrape (no database access: the Follower keeps it).
type IngestCollector struct {
	status func() ingest.Status
	now    func() time.Time
}

// NewIngestCollector returns a collector of the figures status returns,
// usually a Follower's Status method.
func NewIngestCollector(status func() ingest.Status) *IngestCollector {
	return &IngestCollector{status: status, now: time.Now}
}

func ingestDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("qindex_ingest_"+name, help, nil, nil)
}

var (
	descLogSize = ingestDesc("log_size_bytes",
		"Size of the job queue log at the daemon's last look; absent while it cannot be read.")
	descOffset = ingestDesc("applied_offset_bytes",
		"Offset in the log's current generation up to which the database has applied it.")
	descLagBytes = ingestDesc("lag_bytes",
		"Bytes of the log the database has not applied yet (the whole file after a compaction, until reloaded).")
	descLagSeconds = ingestDesc("lag_seconds",
		"Time since the database was last caught up with the log, while it is behind; 0 when it is not.")
	descRecords = ingestDesc("records_total",
		"Log records the daemon has consumed since it started.")
	descTransactions = ingestDesc("transactions_total",
		"Log transactions the daemon has applied since it started (a record outside a transaction counts as one).")
	descCorrupt = ingestDesc("corrupt_records_total",
		"Log records the daemon has skipped as corrupt since it started.")
	descReloads = ingestDesc("reloads_total",
		"Whole-file loads of the log since the daemon started: the first one, then one per compaction, rotation or replaced log.")
	descErrors = ingestDesc("errors_total",
		"Catch-ups with the log that failed (an unreadable log, a failed commit) since the daemon started.")
	descLastApplied = ingestDesc("last_applied_timestamp_seconds",
		"When the database last committed a transaction from the log (Unix seconds); absent before the first.")
	descNotALog = ingestDesc("log_invalid",
		"1 while the file at the log path is not a valid job queue log (empty, or its first line not a 107 header): the database keeps the last good queue; else 0.")
	descCaughtUp = ingestDesc("caught_up_timestamp_seconds",
		"When the daemon last read the log to its end (Unix seconds); absent before the first time.")
)

// Describe sends the descriptors of the ingest metrics.
func (c *IngestCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogSize, descOffset, descLagBytes, descLagSeconds, descRecords,
		descTransactions, descCorrupt, descReloads, descErrors, descNotALog, descLastApplied, descCaughtUp} {
		ch <- d
	}
}

// Collect sends the ingest metrics as they are now.
func (c *IngestCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	timestamp := func(d *prometheus.Desc, t time.Time) {
		if !t.IsZero() {
			gauge(d, float64(t.UnixNano())/1e9)
		}
	}
	if st.LogSize >= 0 {
		gauge(descLogSize, float64(st.LogSize))
	}
	gauge(descOffset, float64(st.Position.Offset))
	gauge(descLagBytes, float64(st.LagBytes()))
	gauge(descLagSeconds, st.LagSeconds(c.now()))
	counter(descRecords, st.Records)
	counter(descTransactions, st.Transactions)
	counter(descCorrupt, st.Corrupt)
	counter(descReloads, st.Reloads)
	counter(descErrors, st.Errors)
	invalid := 0.0
	if st.NotALog {
		invalid = 1
	}
	gauge(descNotALog, invalid)
	timestamp(descLastApplied, st.Position.Applied)
	timestamp(descCaughtUp, st.CaughtUp)
}
