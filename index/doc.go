// Package index answers condor_q-style questions from a store: for a
// selection (owners, cluster and job ids, a ClassAd constraint) it plans
// which part of the store to read, and it evaluates expressions against
// jobs, parsing only the attributes an expression references. Package
// condorq reads condor_q's command line into a selection and prints it.
package index
