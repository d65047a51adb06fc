package nghttpx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeBuild creates root/<key>/bin/nghttpx, marked complete at mtime when complete.
func fakeBuild(t *testing.T, root, key string, complete bool, mtime time.Time) string {
	t.Helper()
	bin := filepath.Join(root, "nghttpx-gateway", "nghttpx", key, "bin", "nghttpx")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if complete {
		m := filepath.Join(filepath.Dir(filepath.Dir(bin)), completeMarker)
		if err := os.WriteFile(m, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(m, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func noPath(string) (string, error) { return "", errors.New("not in PATH") }

func TestFindOrder(t *testing.T) {
	cache := t.TempDir()
	now := time.Now()
	older := fakeBuild(t, cache, "r1", true, now.Add(-time.Hour))
	newer := fakeBuild(t, cache, "r2", true, now)
	fakeBuild(t, cache, "r3-unfinished", false, now.Add(time.Hour))
	explicit := older

	got, err := find(env(map[string]string{EnvBinary: explicit, "XDG_CACHE_HOME": cache}), noPath)
	if err != nil || got != explicit {
		t.Errorf("with %s: got %q, %v; want %q", EnvBinary, got, err, explicit)
	}
	got, err = find(env(map[string]string{"XDG_CACHE_HOME": cache}), noPath)
	if err != nil || got != newer {
		t.Errorf("XDG cache: got %q, %v; want newest complete %q", got, err, newer)
	}
	home := t.TempDir()
	inHome := fakeBuild(t, filepath.Join(home, ".cache"), "r1", true, now)
	got, err = find(env(map[string]string{"HOME": home}), noPath)
	if err != nil || got != inHome {
		t.Errorf("HOME cache: got %q, %v; want %q", got, err, inHome)
	}
	got, err = find(env(map[string]string{"HOME": t.TempDir()}), func(string) (string, error) { return "/usr/sbin/nghttpx", nil })
	if err != nil || got != "/usr/sbin/nghttpx" {
		t.Errorf("PATH: got %q, %v", got, err)
	}
}

func TestFindErrors(t *testing.T) {
	_, err := find(env(map[string]string{EnvBinary: "/nonexistent/nghttpx"}), noPath)
	if err == nil || !strings.Contains(err.Error(), EnvBinary) {
		t.Errorf("missing NGHTTPX_BIN: err %v, want it to name %s", err, EnvBinary)
	}
	_, err = find(env(map[string]string{"HOME": t.TempDir()}), noPath)
	if err == nil || !strings.Contains(err.Error(), "make nghttpx") {
		t.Errorf("nothing found: err %v, want a hint to run make nghttpx", err)
	}
}

func TestCompanions(t *testing.T) {
	bin := "/c/nghttpx/k/bin/nghttpx"
	if got, want := BPFObject(bin), "/c/nghttpx/k/lib/bpf/reuseport_kern.o"; got != want {
		t.Errorf("BPFObject = %q, want %q", got, want)
	}
	if got, want := H2load(bin), "/c/nghttpx/k/bin/h2load"; got != want {
		t.Errorf("H2load = %q, want %q", got, want)
	}
}

func TestParseLogLine(t *testing.T) {
	l, ok := ParseLogLine("2026-11-21T23:55:48.641Z 8936 8937 48e5aeaa ERROR (shrpx_config.cc:123) frontend: Invalid host, port: bad")
	want := LogLine{PID: "8937", Severity: SeverityError, Source: "shrpx_config.cc:123", Message: "frontend: Invalid host, port: bad"}
	if !ok || l != want {
		t.Errorf("got %+v %v, want %+v", l, ok, want)
	}
	for _, s := range []string{"", "127.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 1 \"-\" \"curl\"", "a b c d BOGUS (x.cc:1) m"} {
		if _, ok := ParseLogLine(s); ok {
			t.Errorf("ParseLogLine(%q) ok, want not a log line", s)
		}
	}
}

func TestParseH2load(t *testing.T) {
	out := "finished in 1.2s, 166 req/s\nrequests: 200 total, 200 started, 199 done, 198 succeeded, 2 failed, 1 errored, 0 timeout\nstatus codes: 198 2xx\n"
	got, err := ParseH2load(out)
	want := H2loadResult{Total: 200, Started: 200, Done: 199, Succeeded: 198, Failed: 2, Errored: 1}
	if err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseH2load("connect error\n"); err == nil {
		t.Error("no requests line: want an error")
	}
}
