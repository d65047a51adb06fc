// Package proc holds the process-group and port helpers the data plane needs to run
// nghttpx (a main process that forks workers) without leaving orphans behind.
//
// Contract: Linux only (reads /proc). Ports are chosen on 127.0.0.1 only. No state.
package proc
