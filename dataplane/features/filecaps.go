package features

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The security.capability extended attribute (struct vfs_cap_data,
// linux/capability.h): little-endian u32 magic_etc, then permitted and
// inheritable for capabilities 0-31, then for 32-63 (revisions 2 and 3), then
// the root uid of the user namespace that set it (revision 3).
const (
	xattrCaps          = "security.capability"
	vfsCapRevisionMask = 0xff000000
	vfsCapFlagsEff     = 0x000001
	vfsCapRevision1    = 0x01000000
	vfsCapRevision2    = 0x02000000
	vfsCapRevision3    = 0x03000000
)

// FileCaps are the capabilities a binary's file attributes grant at exec.
type FileCaps struct {
	Permitted, Inheritable Caps
	// Effective: the granted permitted set becomes effective at exec (setcap +ep);
	// a capability-unaware program such as nghttpx needs it.
	Effective bool
	Revision  int
	RootID    uint32 // revision 3 only
}

// parseFileCaps decodes a security.capability attribute value.
func parseFileCaps(b []byte) (FileCaps, error) {
	if len(b) < 4 {
		return FileCaps{}, fmt.Errorf("%s: %d bytes, too short", xattrCaps, len(b))
	}
	u32 := func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }
	magic := u32(0)
	var fc FileCaps
	fc.Effective = magic&vfsCapFlagsEff != 0
	want := 0
	switch magic & vfsCapRevisionMask {
	case vfsCapRevision1:
		fc.Revision, want = 1, 12
	case vfsCapRevision2:
		fc.Revision, want = 2, 20
	case vfsCapRevision3:
		fc.Revision, want = 3, 24
	default:
		return FileCaps{}, fmt.Errorf("%s: unknown revision in magic %#08x", xattrCaps, magic)
	}
	if len(b) != want {
		return FileCaps{}, fmt.Errorf("%s: revision %d has %d bytes, want %d", xattrCaps, fc.Revision, len(b), want)
	}
	fc.Permitted, fc.Inheritable = Caps(u32(1)), Caps(u32(2))
	if fc.Revision >= 2 {
		fc.Permitted |= Caps(u32(3)) << 32
		fc.Inheritable |= Caps(u32(4)) << 32
	}
	if fc.Revision == 3 {
		fc.RootID = u32(5)
	}
	return fc, nil
}

// ReadFileCaps returns the file capabilities of path; ok is false when it has none.
func ReadFileCaps(path string) (fc FileCaps, ok bool, err error) {
	// vfs_cap_data is at most 24 bytes; a larger value is malformed anyway.
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, xattrCaps, buf)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return FileCaps{}, false, nil
	case err != nil:
		return FileCaps{}, false, fmt.Errorf("read %s of %s: %w", xattrCaps, path, err)
	}
	fc, err = parseFileCaps(buf[:n])
	if err != nil {
		return FileCaps{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return fc, true, nil
}

// ProcessCaps is what /proc/self/status says about this process's privileges.
type ProcessCaps struct {
	Inh, Eff, Bnd Caps
	// NoNewPrivs (Kubernetes: allowPrivilegeEscalation=false) makes exec ignore
	// file capabilities.
	NoNewPrivs bool
}

// ReadProcessCaps reads this process's capability sets from /proc/self/status.
func ReadProcessCaps() (ProcessCaps, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return ProcessCaps{}, fmt.Errorf("read capabilities: %w", err)
	}
	defer f.Close()
	return parseProcessCaps(f)
}

func parseProcessCaps(r io.Reader) (ProcessCaps, error) {
	var pc ProcessCaps
	sets := map[string]*Caps{"CapInh": &pc.Inh, "CapEff": &pc.Eff, "CapBnd": &pc.Bnd}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		if c, ok := sets[key]; ok {
			n, err := strconv.ParseUint(val, 16, 64)
			if err != nil {
				return ProcessCaps{}, fmt.Errorf("parse %s %q: %w", key, val, err)
			}
			*c, seen[key] = Caps(n), true
		}
		if key == "NoNewPrivs" {
			pc.NoNewPrivs, seen[key] = val != "0", true
		}
	}
	if err := sc.Err(); err != nil {
		return ProcessCaps{}, fmt.Errorf("read capabilities: %w", err)
	}
	for _, k := range []string{"CapInh", "CapEff", "CapBnd", "NoNewPrivs"} {
		if !seen[k] {
			return ProcessCaps{}, fmt.Errorf("no %s line in /proc/self/status", k)
		}
	}
	return pc, nil
}

// bpfAccess is whether an nghttpx binary started by this process may load the
// eBPF steering program: this process is privileged (root), or exec grants the
// binary the capabilities from its file attributes.
type bpfAccess struct {
	binary  string
	proc    ProcessCaps
	file    FileCaps
	hasFile bool
}

// bpfAccessOf reads this process's and binary's capabilities. On error the
// result assumes none from the part that could not be read.
func bpfAccessOf(binary string) (bpfAccess, error) {
	a := bpfAccess{binary: binary}
	var errs []error
	var err error
	if a.proc, err = ReadProcessCaps(); err != nil {
		errs = append(errs, err)
	}
	if a.file, a.hasFile, err = ReadFileCaps(binary); err != nil {
		errs = append(errs, err)
	}
	return a, errors.Join(errs...)
}

// gained is the permitted (and, with the effective flag, effective) set exec
// gives the binary from its file capabilities: (bounding & file permitted) |
// (inheritable & file inheritable), nothing under no_new_privs (prctl(2); one
// 6.18 kernel was seen granting them anyway, so this errs on the safe side).
func (a bpfAccess) gained() Caps {
	if !a.hasFile || !a.file.Effective || a.proc.NoNewPrivs {
		return 0
	}
	return a.proc.Bnd&a.file.Permitted | a.proc.Inh&a.file.Inheritable
}

// CanLoadBPF reports whether nghttpx, started by this process, gets CAP_BPF+CAP_PERFMON
// or CAP_SYS_ADMIN.
func (a bpfAccess) CanLoadBPF() bool {
	return !a.execBlocked() && (a.proc.Eff.CanLoadBPF() || a.gained().CanLoadBPF())
}

// execBlocked: the kernel refuses (EPERM) to exec a binary whose file
// capabilities are effective but not all obtainable, e.g. outside the bounding set.
func (a bpfAccess) execBlocked() bool {
	return a.hasFile && a.file.Effective && a.missingAtExec() != 0
}

func (a bpfAccess) missingAtExec() Caps {
	return a.file.Permitted &^ (a.proc.Bnd&a.file.Permitted | a.proc.Inh&a.file.Inheritable)
}

// execBlockedReason explains an execBlocked binary.
func (a bpfAccess) execBlockedReason() string {
	return fmt.Sprintf("the kernel refuses to run %s: its file capabilities %s are not all in this process's bounding set "+
		"(add them to the container's securityContext.capabilities, or use a binary without them)", a.binary, a.missingAtExec())
}

// why says, when CanLoadBPF is false, why the file capabilities do not help and
// what to do about it.
func (a bpfAccess) why() string {
	const quicBPF = "set quicBPF in the GatewayClass parameters"
	want := Caps(1<<CapBPF | 1<<CapPerfmon)
	switch {
	case a.execBlocked():
		return a.execBlockedReason()
	case !a.hasFile:
		return fmt.Sprintf("%s has no file capabilities: in Kubernetes %s (the data plane then runs nghttpx-bpf, the image's copy "+
			"with file capabilities); elsewhere run as root or setcap cap_bpf,cap_perfmon+ep a copy of nghttpx", a.binary, quicBPF)
	case !a.file.Permitted.CanLoadBPF():
		return fmt.Sprintf("the file capabilities of %s (%s) lack %s: %s, or use a copy with setcap cap_bpf,cap_perfmon+ep",
			a.binary, a.file.Permitted, want&^a.file.Permitted, quicBPF)
	case !a.file.Effective:
		return fmt.Sprintf("the file capabilities of %s lack the effective flag (setcap ...+ep)", a.binary)
	case a.proc.NoNewPrivs:
		return fmt.Sprintf("no_new_privs is set (Kubernetes: allowPrivilegeEscalation false), so exec ignores the file capabilities of %s: "+
			"%s (its data plane then allows privilege escalation)", a.binary, quicBPF)
	default:
		// Unreachable while the kernel refuses such an exec (execBlocked).
		return fmt.Sprintf("the bounding set lacks %s, so the file capabilities of %s cannot grant them: %s (the data plane's "+
			"container then adds BPF and PERFMON)", want&^a.proc.Bnd, a.binary, quicBPF)
	}
}

// CanBindPrivileged reports whether binary, started by this process, may bind
// ports below 1024 (a port under net.ipv4.ip_unprivileged_port_start): this
// process has CAP_NET_BIND_SERVICE, or exec grants it from the binary's file
// capabilities and does not refuse the binary. The in-pod data plane on a
// node's network, where that sysctl is the node's, picks its binary by it.
func CanBindPrivileged(binary string) bool {
	a, err := bpfAccessOf(binary)
	if err != nil && a.proc == (ProcessCaps{}) {
		return false
	}
	return a.canBindPrivileged()
}

func (a bpfAccess) canBindPrivileged() bool {
	return !a.execBlocked() && (a.proc.Eff.Has(CapNetBindService) || a.gained().Has(CapNetBindService))
}
