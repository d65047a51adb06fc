package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// dataPlane is the nghttpx that run and proxy start, and what it supports.
type dataPlane struct {
	bin      string
	stateDir string // absolute, exists
	feat     features.Features
	render   render.Features // feat as the renderer uses it
}

// prepareDataPlane finds nghttpx (binary, else nghttpx.Find), creates stateDir,
// probes the binary, logs the features it lacks and refuses one without mruby,
// which routing needs; noMRubyHint (may be empty) is appended to that error.
func prepareDataPlane(ctx context.Context, log logr.Logger, binary, stateDir, noMRubyHint string) (dataPlane, error) {
	bin := binary
	if bin == "" {
		var err error
		if bin, err = nghttpx.Find(); err != nil {
			return dataPlane{}, err
		}
	}
	state, err := filepath.Abs(stateDir)
	if err != nil {
		return dataPlane{}, fmt.Errorf("state directory: %w", err)
	}
	if err := os.MkdirAll(state, 0o755); err != nil {
		return dataPlane{}, fmt.Errorf("create state directory: %w", err)
	}
	feat, err := features.Detect(logr.NewContext(ctx, log), bin)
	if err != nil {
		return dataPlane{}, fmt.Errorf("probe nghttpx %s: %w", bin, err)
	}
	for _, r := range feat.Reasons {
		log.Info("data plane feature unavailable", "reason", r)
	}
	if !feat.MRuby {
		return dataPlane{}, fmt.Errorf("nghttpx %s has no mruby, which routing needs%s", bin, noMRubyHint)
	}
	rf := feat.Render()
	rf.OCSP = false // stapling needs the fetch program that comes with OCSP support
	return dataPlane{bin: bin, stateDir: state, feat: feat, render: rf}, nil
}
