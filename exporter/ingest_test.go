package exporter

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/qindex/qindex/ingest"
	"github.com/qindex/qindex/store"
)

func TestIngestCollector(t *testing.T) {
	gen := store.Generation{Seq: 3, Created: 100, Inode: 9}
	applied, caughtUp, now := time.Unix(1000, 0), time.Unix(1100, 0), time.Unix(1130, 0)
	for _, c := range []struct {
		name string
		st   ingest.Status
		want series // absent from want: must be absent
	}{
		{"behind in the same generation", ingest.Status{
			Position: store.Position{Generation: gen, Offset: 700, Applied: applied},
			LogSize:  1000, LogGeneration: gen, CaughtUp: caughtUp,
			Records: 50, Transactions: 20, Corrupt: 2, Reloads: 1, Errors: 3,
		}, series{
			"qindex_ingest_log_size_bytes": 1000, "qindex_ingest_applied_offset_bytes": 700,
			"qindex_ingest_lag_bytes": 300, "qindex_ingest_lag_seconds": 30,
			"qindex_ingest_records_total": 50, "qindex_ingest_transactions_total": 20,
			"qindex_ingest_corrupt_records_total": 2, "qindex_ingest_reloads_total": 1, "qindex_ingest_errors_total": 3,
			"qindex_ingest_last_applied_timestamp_seconds": 1000, "qindex_ingest_caught_up_timestamp_seconds": 1100,
			"qindex_ingest_log_invalid": 0,
		}},
		{"a new generation: the whole file is behind", ingest.Status{
			Position: store.Position{Generation: gen, Offset: 700, Applied: applied},
			LogSize:  400, LogGeneration: store.Generation{Seq: 4}, CaughtUp: caughtUp,
		}, series{
			"qindex_ingest_log_size_bytes": 400, "qindex_ingest_applied_offset_bytes": 700,
			"qindex_ingest_lag_bytes": 400, "qindex_ingest_lag_seconds": 30,
			"qindex_ingest_records_total": 0, "qindex_ingest_transactions_total": 0,
			"qindex_ingest_corrupt_records_total": 0, "qindex_ingest_reloads_total": 0, "qindex_ingest_errors_total": 0,
			"qindex_ingest_last_applied_timestamp_seconds": 1000, "qindex_ingest_caught_up_timestamp_seconds": 1100,
			"qindex_ingest_log_invalid": 0,
		}},
		{"an emptied log: the queue is kept", ingest.Status{
			Position: store.Position{Generation: gen, Offset: 700, Applied: applied},
			LogSize:  0, LogGeneration: store.Generation{Inode: 9}, CaughtUp: caughtUp, Errors: 2, NotALog: true,
		}, series{
			"qindex_ingest_log_size_bytes": 0, "qindex_ingest_applied_offset_bytes": 700,
			"qindex_ingest_lag_bytes": 0, "qindex_ingest_lag_seconds": 0,
			"qindex_ingest_records_total": 0, "qindex_ingest_transactions_total": 0,
			"qindex_ingest_corrupt_records_total": 0, "qindex_ingest_reloads_total": 0, "qindex_ingest_errors_total": 2,
			"qindex_ingest_last_applied_timestamp_seconds": 1000, "qindex_ingest_caught_up_timestamp_seconds": 1100,
			"qindex_ingest_log_invalid": 1,
		}},
		{"an unreadable log, nothing applied yet", ingest.Status{LogSize: -1, Errors: 1}, series{
			"qindex_ingest_applied_offset_bytes": 0, "qindex_ingest_lag_bytes": 0, "qindex_ingest_lag_seconds": 0,
			"qindex_ingest_records_total": 0, "qindex_ingest_transactions_total": 0,
			"qindex_ingest_corrupt_records_total": 0, "qindex_ingest_reloads_total": 0, "qindex_ingest_errors_total": 1,
			"qindex_ingest_log_invalid": 0,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ic := NewIngestCollector(func() ingest.Status { return c.st })
			ic.now = func() time.Time { return now }
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(ic)
			families, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			compareSeries(t, flatten(families), c.want)
		})
	}
}
