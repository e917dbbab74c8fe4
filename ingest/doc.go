// Package ingest replays a schedd's job_queue.log into a store: log bytes
// become lines (LineReader), lines become records (ParseRecord), records
// group into transactions, and transactions become store writes, committed
// in groups together with the log position they cover (CatchUp).
package ingest
