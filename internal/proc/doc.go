// Package proc holds the process-group and port helpers needed to run nghttpx (a
// main process that forks workers) without leaving orphans behind. The data plane
// uses it to supervise nghttpx; tests use it to pick ports and reap processes.
//
// Contract: Linux only (reads /proc). Ports are chosen on 127.0.0.1 only. No state.
package proc
