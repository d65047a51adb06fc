package nghttpx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// EnvBinary names the environment variable that overrides the binary search.
const EnvBinary = "NGHTTPX_BIN"

// completeMarker is created by hack/build-nghttpx.sh once a build passed its checks.
const completeMarker = ".complete"

// Find returns the path of the nghttpx binary to run.
func Find() (string, error) {
	return find(os.Getenv, exec.LookPath)
}

// find is Find with its environment injected, for tests.
func find(getenv func(string) string, lookPath func(string) (string, error)) (string, error) {
	if p := getenv(EnvBinary); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return filepath.Abs(p)
	}
	if dir := cacheDir(getenv); dir != "" {
		p, err := newestBuild(filepath.Join(dir, "nghttpx-gateway", "nghttpx"))
		if err != nil {
			return "", err
		}
		if p != "" {
			return p, nil
		}
	}
	if p, err := lookPath("nghttpx"); err == nil {
		return filepath.Abs(p)
	}
	return "", errors.New("nghttpx not found: set NGHTTPX_BIN, or run `make nghttpx` to build one with mruby, HTTP/3 and eBPF")
}

func cacheDir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return d
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache")
	}
	return ""
}

// newestBuild returns the binary of the most recently completed build under root,
// or "" when there is none.
func newestBuild(root string) (string, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read build cache %s: %w", root, err)
	}
	var best string
	var bestTime time.Time
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		prefix := filepath.Join(root, e.Name())
		st, err := os.Stat(filepath.Join(prefix, completeMarker))
		if err != nil {
			continue // unfinished or failed build
		}
		bin := filepath.Join(prefix, "bin", "nghttpx")
		if executable(bin) != nil {
			continue
		}
		if best == "" || st.ModTime().After(bestTime) {
			best, bestTime = bin, st.ModTime()
		}
	}
	return best, nil
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// BPFObject is where the build installs the eBPF QUIC steering program for binary.
// The binary's compiled-in default (lib/nghttp2/reuseport_kern.o) is not used, so
// configurations must name this path explicitly.
func BPFObject(binary string) string {
	return filepath.Join(filepath.Dir(filepath.Dir(binary)), "lib", "bpf", "reuseport_kern.o")
}

// H2load is the h2load built together with binary.
func H2load(binary string) string {
	return filepath.Join(filepath.Dir(binary), "h2load")
}
