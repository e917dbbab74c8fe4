// Package store keeps a replayed job queue in a bbolt file.
//
// # Schema
//
// The file holds one bucket "meta" and one bucket per replayed state:
//
//	meta/
//	  schema   -> "9"                 schema version (SchemaVersion)
//	  active   -> "state.<n>"         the state that readers see
//	  loading  -> "state.<m>"         a state being built by a reload (absent otherwise)
//	  next     -> uint64 big-endian   the number of the next state to create
//	state.<n>/
//	  ads/             -> partition, key(cluster, proc) => encoded Ad (see Ad)
//	  clusters/        -> cluster ad key => owner group   where each cluster ad lies
//	  postings/        -> job key => how the indexes file the job
//	  by-owner-status/ -> effective Owner and JobStatus, job key => ""
//	  by-status/       -> effective JobStatus, job key => ""
//	  counts/          -> effective Owner and JobStatus => uint64 jobs
//	  status-counts/   -> effective JobStatus => uint64 jobs
//	  cluster-id-odd/  -> job key => ""   jobs whose effective ClusterId is not their key's
//	  position         -> JSON Position       where in the log this state stands
//	  jobs             -> uint64 big-endian   number of job ads (cluster >= 1, proc >= 0)
//
// Keys in ads/ are a partition (a status byte and an owner group) and
// (cluster, proc), encoded so that byte order is numeric order. Status
// byte 0 holds every ad that is not a job, with the idle and running jobs;
// each other job lies under the status byte of its effective JobStatus (1 +
// the status, 0xff for a missing or unusual one), so the jobs of one status
// sit together: the few held jobs of a queue fill a few pages, not a page
// each. Within a status byte, the owner group (a hash of the effective
// Owner; see partition) keeps one owner's jobs together, each cluster ad
// in the group of its own Owner, so that one owner's jobs are read in
// order from a few ranges rather than sought one cluster at a time. A
// merge of one cursor per partition yields every ad in key order, each
// cluster ad (c.-1) right before its jobs (c.0, c.1, ...). A job's posting
// says its partition, and clusters/ a cluster ad's; an ad moves when its
// partition changes. Values are
// the log's text, never parsed on the way in. The secondary indexes
// (postings/, by-owner-status/, by-status/, counts/, status-counts/,
// cluster-id-odd/) are
// described in indexes.go; they are written in the same transactions as the
// ads they describe.
//
// A reload builds a new state beside the active one (see Loader) and swaps
// "active" in the transaction that completes it, so readers see the old
// queue or the new, never a mix. Only that transaction writes the state's
// position: a reload interrupted by a crash is dropped and started over.
package store
