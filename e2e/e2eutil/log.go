package e2eutil

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// StderrLogger logs a suite's progress to stderr with a wall-clock time; verbosity
// 1 adds the cluster's and pod runner's (they log at V(1)).
func StderrLogger(verbosity int) logr.Logger {
	return funcr.New(func(prefix, args string) {
		fmt.Fprintf(os.Stderr, "%s %s %s\n", time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{Verbosity: verbosity})
}

// CacheDir is $CACHE_DIR, else ~/.cache/nghttpx-gateway (where hack/ puts builds).
func CacheDir() string {
	if d := os.Getenv("CACHE_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "nghttpx-gateway")
}

// ArtifactsDir is $E2E_ARTIFACTS, else a fresh <CacheDir>/e2e-artifacts/<prefix><time>.
func ArtifactsDir(prefix string) string {
	if d := os.Getenv("E2E_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(CacheDir(), "e2e-artifacts", prefix+time.Now().Format("20060102-150405"))
}
