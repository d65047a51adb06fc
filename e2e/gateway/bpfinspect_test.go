//go:build e2e

package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's view of nghttpx's eBPF QUIC steering. nghttpx attaches its
// program to the reuseport group of its QUIC sockets and then closes its own
// fds of it (ConnectionHandler::unload_bpf_objects), so no process holds it
// open: the program lives as long as those sockets. Its map of sockets stores
// 4-byte values, so user space cannot read socket cookies from it to tie it to a
// pod; the tests tie it by time instead (a new program while the pod runs, gone
// once the pod is). Listing programs by ID needs root (CAP_SYS_ADMIN).

// steeringProg is one loaded SK_REUSEPORT program.
type steeringProg struct {
	id   uint32
	name string
	uid  uint32
}

func (p steeringProg) String() string { return fmt.Sprintf("#%d %s uid %d", p.id, p.name, p.uid) }

func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) (uintptr, error) {
	r, _, e := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if e != 0 {
		return 0, e
	}
	return r, nil
}

// bpf_prog_info, the fields read here (uapi/linux/bpf.h).
type progInfo struct {
	Type, ID             uint32
	Tag                  [8]byte
	JitedLen, XlatedLen  uint32
	JitedInsns, XlatInsn uint64
	LoadTime             uint64
	CreatedByUID         uint32
	NrMapIDs             uint32
	MapIDs               uint64
	Name                 [16]byte
	_                    [128]byte // the rest, zeroed
}

func objInfo(fd int, info unsafe.Pointer, size uint32) error {
	attr := struct {
		Fd, Len uint32
		Info    uint64
	}{uint32(fd), size, uint64(uintptr(info))}
	_, err := bpfCall(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

func fdByID(cmd int, id uint32) (int, error) {
	attr := struct{ ID, Next, Flags uint32 }{ID: id}
	fd, err := bpfCall(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return int(fd), err
}

// steeringProgs lists the loaded SK_REUSEPORT programs.
func steeringProgs() ([]steeringProg, error) {
	var out []steeringProg
	var id uint32
	for {
		attr := struct{ Start, Next, Flags uint32 }{Start: id}
		if _, err := bpfCall(unix.BPF_PROG_GET_NEXT_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return out, nil
			}
			return nil, fmt.Errorf("BPF_PROG_GET_NEXT_ID: %w", err)
		}
		id = attr.Next
		fd, err := fdByID(unix.BPF_PROG_GET_FD_BY_ID, id)
		if err != nil {
			continue // gone meanwhile
		}
		var info progInfo
		err = objInfo(fd, unsafe.Pointer(&info), uint32(unsafe.Sizeof(info)))
		unix.Close(fd)
		if err != nil || info.Type != unix.BPF_PROG_TYPE_SK_REUSEPORT {
			continue
		}
		out = append(out, steeringProg{id: id, name: string(bytes.TrimRight(info.Name[:], "\x00")), uid: info.CreatedByUID})
	}
}
