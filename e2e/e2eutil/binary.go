package e2eutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/config"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

// NghttpxBinary is $NGHTTPX_BIN, which must exist: the local cluster's data-plane
// pods run it.
func NghttpxBinary() (string, error) {
	p := os.Getenv("NGHTTPX_BIN")
	if p == "" {
		return "", errors.New("NGHTTPX_BIN is unset: the data-plane pods need nghttpx (make nghttpx prints its path)")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("NGHTTPX_BIN: %w", err)
	}
	return p, nil
}

// GatewayBinary is the first of the environment variables envs that is set (it must
// name an existing file), else cmd/nghttpx-gateway built into a temporary directory
// that cleanup removes. cleanup is never nil when err is nil.
func GatewayBinary(ctx context.Context, log logr.Logger, envs ...string) (path string, cleanup func(), err error) {
	for _, e := range envs {
		if b := os.Getenv(e); b != "" {
			if _, err := os.Stat(b); err != nil {
				return "", nil, fmt.Errorf("%s: %w", e, err)
			}
			return b, func() {}, nil
		}
	}
	dir, err := os.MkdirTemp("", "ngxgw-e2e-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("temporary directory for the build: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	out := filepath.Join(dir, "nghttpx-gateway")
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/nghttpx-gateway")
	cmd.Dir = filepath.Dir(config.Dir()) // the module root
	if b, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build ./cmd/nghttpx-gateway: %w\n%s", err, b)
	}
	log.Info("built nghttpx-gateway", "path", out, "took", time.Since(t0).Round(time.Millisecond))
	return out, cleanup, nil
}

// Images maps Image to the gateway binary for the local cluster's pod runner; the
// processes get NGHTTPX_BIN so data-plane pods find nghttpx. Callers may add entries.
func Images(gatewayBin, nghttpx string) podrunner.ImageMap {
	run := podrunner.Binary(gatewayBin)
	return podrunner.ImageMap{Image: func(c corev1.Container) (podrunner.Process, error) {
		p, err := run(c)
		p.Env = append(p.Env, "NGHTTPX_BIN="+nghttpx)
		return p, err
	}}
}
