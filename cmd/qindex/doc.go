// Command qindex indexes an HTCondor schedd's job_queue.log into a bbolt
// database and answers condor_q's questions from it: 'qindex serve' follows
// the log, serves the database's queries over a unix socket and Prometheus
// metrics over HTTP; 'qindex q' is condor_q (also through a link of that
// name); 'ingest', 'status' and 'check' manage the file. README.md tells
// how to run it; 'qindex --help' and 'man qindex' list everything.
package main
