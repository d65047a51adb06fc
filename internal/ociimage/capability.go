package ociimage

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// capNumbers are the Linux capability numbers (include/uapi/linux/capability.h).
var capNumbers = map[string]uint{
	"chown": 0, "dac_override": 1, "dac_read_search": 2, "fowner": 3, "fsetid": 4,
	"kill": 5, "setgid": 6, "setuid": 7, "setpcap": 8, "linux_immutable": 9,
	"net_bind_service": 10, "net_broadcast": 11, "net_admin": 12, "net_raw": 13,
	"ipc_lock": 14, "ipc_owner": 15, "sys_module": 16, "sys_rawio": 17, "sys_chroot": 18,
	"sys_ptrace": 19, "sys_pacct": 20, "sys_admin": 21, "sys_boot": 22, "sys_nice": 23,
	"sys_resource": 24, "sys_time": 25, "sys_tty_config": 26, "mknod": 27, "lease": 28,
	"audit_write": 29, "audit_control": 30, "setfcap": 31, "mac_override": 32,
	"mac_admin": 33, "syslog": 34, "wake_alarm": 35, "block_suspend": 36,
	"audit_read": 37, "perfmon": 38, "bpf": 39, "checkpoint_restore": 40,
}

const (
	vfsCapRevision2 = 0x02000000
	vfsCapEffective = 0x000001
	// xattrCapRecord is the PAX record name runtimes map to the security.capability xattr.
	xattrCapRecord = "SCHILY.xattr.security.capability"
)

// FileCaps is a file's capability sets; Effective applies to all permitted ones, as
// the kernel's single effective bit for file capabilities does.
type FileCaps struct {
	Permitted, Inheritable uint64
	Effective              bool
}

// ParseCaps reads setcap's text form for the cases files need: space separated
// clauses "cap_a,cap_b+ep" (operator + or =, flags from e, i, p).
func ParseCaps(text string) (FileCaps, error) {
	var fc FileCaps
	clauses := strings.Fields(text)
	if len(clauses) == 0 {
		return fc, fmt.Errorf("empty capability text")
	}
	effSeen, noEffSeen := false, false
	for _, cl := range clauses {
		i := strings.IndexAny(cl, "+=")
		if i <= 0 {
			return fc, fmt.Errorf("capability clause %q: want names+flags, e.g. cap_bpf+ep", cl)
		}
		var bits uint64
		for _, n := range strings.Split(cl[:i], ",") {
			num, ok := capNumbers[strings.TrimPrefix(strings.ToLower(n), "cap_")]
			if !ok {
				return fc, fmt.Errorf("capability clause %q: unknown capability %q", cl, n)
			}
			bits |= 1 << num
		}
		flags := cl[i+1:]
		if flags == "" || strings.Trim(flags, "eip") != "" {
			return fc, fmt.Errorf("capability clause %q: flags must be a combination of e, i, p", cl)
		}
		if strings.Contains(flags, "p") {
			fc.Permitted |= bits
		}
		if strings.Contains(flags, "i") {
			fc.Inheritable |= bits
		}
		if strings.Contains(flags, "e") {
			effSeen = true
		} else {
			noEffSeen = true
		}
	}
	if effSeen && noEffSeen {
		return fc, fmt.Errorf("capabilities %q: a file has one effective bit, so e must be given for all clauses or none", text)
	}
	fc.Effective = effSeen
	return fc, nil
}

// VFSCapData is the version 2 vfs_cap_data the kernel stores in security.capability.
func (fc FileCaps) VFSCapData() []byte {
	b := make([]byte, 20)
	magic := uint32(vfsCapRevision2)
	if fc.Effective {
		magic |= vfsCapEffective
	}
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(fc.Permitted))
	binary.LittleEndian.PutUint32(b[8:], uint32(fc.Inheritable))
	binary.LittleEndian.PutUint32(b[12:], uint32(fc.Permitted>>32))
	binary.LittleEndian.PutUint32(b[16:], uint32(fc.Inheritable>>32))
	return b
}
