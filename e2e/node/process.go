package node

import (
	"path/filepath"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// startProcess runs one node component with output in logDir/<name>.log, in its own
// process group, killed if this process dies; PATH is fixed so that containerd and
// kubelet find runc, iptables and the CNI plugins wherever the test was started.
func startProcess(logDir, name, dir string, argv []string) (*proc.Logged, error) {
	return proc.StartLogged(name, filepath.Join(logDir, name+".log"), dir,
		[]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, argv)
}
