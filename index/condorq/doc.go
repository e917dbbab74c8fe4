// Package condorq reads condor_q's command line and prints jobs exactly as
// condor_q prints them (../shared/CONDOR_Q.md): its views, its -af, -format,
// -long, -json and -xml forms, its totals lines, from a qindex store.
package condorq
