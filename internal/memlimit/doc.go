// Package memlimit sets the Go runtime's soft memory limit from the cgroup's hard
// one, so that the garbage collector works harder as a container approaches its
// limit instead of the kernel killing it there (Go sizes GOMAXPROCS from the cgroup,
// but not the heap). An explicit GOMEMLIMIT always wins.
//
// Contract: FromCgroup is called once at start-up (cmd/nghttpx-gateway's init);
// it reads cgroup v2's memory.max only, so under cgroup v1 (this project's test
// machines) it changes nothing. No state besides the runtime setting.
package memlimit
