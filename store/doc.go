// Package store keeps a replayed job queue in a bbolt file.
//
// The file holds a bucket "meta" and one bucket per replayed state. A
// state holds every ad of the queue (ads/), keyed by a partition (the
// status byte of a job's effective JobStatus, 0 for the idle and running
// jobs and for every ad that is not a job) and (cluster, proc), so that a
// scan reads ads in key order through a merge of a few partitions, each
// cluster ad right before its jobs, and the few held jobs of a queue fill
// pages of their own. Beside the ads lie the secondary indexes on the
// effective Owner and JobStatus (indexes.go), written in the same
// transactions as the ads they describe. Values are the log's text, never
// parsed on the way in. docs/STORE.md describes every bucket and key, and
// why; SchemaVersion names that layout.
//
// Writer applies the log's transactions to the active state, and says
// when its pending changes are due to commit (Limits, commit.go); Loader builds
// a new state beside it from a whole log and swaps "active" in the
// transaction that completes it, so readers (Snapshot, through DB.View)
// see the old queue or the new, never a mix. Only that transaction writes
// the state's position: a reload interrupted by a crash is dropped and
// started over.
package store
