// Package features finds out what the nghttpx binary and this process can do:
// mruby, HTTP/3 (QUIC), eBPF QUIC steering and OCSP stapling.
//
// Contract: Detect reads the binary's --version and --help, then proves the
// important features with short-lived nghttpx processes bound to 127.0.0.1 (a
// global mruby script answering a request; a QUIC frontend; a QUIC frontend with the
// eBPF program attached, which only runs when this process has CAP_BPF+CAP_PERFMON
// or CAP_SYS_ADMIN, or exec grants them from the binary's file capabilities: within
// the bounding set, not under no_new_privs; filecaps.go). Every missing feature
// comes with a sentence in Reasons that says what is disabled and why. Detect
// fails only when the binary cannot run.
package features
