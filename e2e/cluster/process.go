package cluster

import (
	"path/filepath"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// startProcess runs argv inside netns with output in logDir/<name>.log, in its own
// process group, killed if this process dies.
func startProcess(netns, dir, logDir, name string, argv []string) (*proc.Logged, error) {
	return proc.StartLogged(name, filepath.Join(logDir, name+".log"), dir, nil,
		append([]string{"ip", "netns", "exec", netns}, argv...))
}
