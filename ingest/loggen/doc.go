// Package loggen is a model schedd: it writes realistic job_queue.log files
// and knows the queue a faithful replay of them must reach.
//
// It submits clusters (Owner and the submit attributes on the cluster ad,
// ProcId and JobStatus on each proc ad), starts, holds, releases, completes,
// removes and destroys jobs, makes updates outside transactions, edits a
// cluster's Owner, spells attribute names in other cases, writes secrets the
// replay must drop, and compacts the log into a snapshot in arbitrary order.
package loggen
