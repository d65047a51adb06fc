package main

import "github.com/nghttpx-gateway/nghttpx-gateway/internal/memlimit"

// Every command may run in a container with a memory limit (controller, proxy
// agent); a soft limit below it makes the GC collect before the kernel kills.
func init() { memlimit.FromCgroup(memlimit.CgroupFile) }
