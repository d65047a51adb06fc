package ociimage

import (
	"encoding/hex"
	"testing"
)

func TestVFSCapData(t *testing.T) {
	for _, tc := range []struct{ text, hex string }{
		// What `setcap cap_net_bind_service,cap_bpf,cap_perfmon,cap_sys_resource+ep` stores
		// (read back with getxattr on this machine): revision 2 with the effective bit,
		// bits 10 and 24 in the low word, 38 and 39 in the high word.
		{"cap_net_bind_service,cap_bpf,cap_perfmon,cap_sys_resource+ep", "010000020004000100000000c000000000000000"},
		{"cap_net_raw+p", "0000000200200000000000000000000000000000"},
		{"cap_chown=eip", "0100000201000000010000000000000000000000"},
		{"cap_bpf+ep cap_chown+eip", "0100000201000000010000008000000000000000"},
	} {
		fc, err := ParseCaps(tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if got := hex.EncodeToString(fc.VFSCapData()); got != tc.hex {
			t.Errorf("%s: vfs_cap_data %s, want %s", tc.text, got, tc.hex)
		}
	}
}

func TestParseCapsRejects(t *testing.T) {
	for _, text := range []string{"", "cap_bpf", "cap_nope+ep", "cap_bpf+x", "cap_bpf+ep cap_chown+p", "+ep"} {
		if _, err := ParseCaps(text); err == nil {
			t.Errorf("ParseCaps(%q) accepted", text)
		}
	}
}
