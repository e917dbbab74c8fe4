// Package ingest replays a schedd's job_queue.log into a store: log bytes
// become lines (LineReader), lines become records (ParseRecord), records
// group into transactions, and transactions become store writes, committed
// together with the log position they cover (CatchUp) when the store says
// they are due. The daemon's Follower calls CatchUp as the log grows and
// is replaced.
package ingest
