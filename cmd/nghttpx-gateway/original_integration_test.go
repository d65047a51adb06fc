//go:build integration

package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

// TestOriginalInvocationLive runs the built binary as the original's image does:
// under the name nghttpx-ingress-controller (a symlink, as /nghttpx-ingress-controller
// in our image), with the program path as its first argument, and with flags
// only. Each takes serve's path with the original's defaults.
func TestOriginalInvocationLive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nghttpx-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	link := filepath.Join(dir, originalProgramName)
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{{link, "--help"}, {bin, "/" + originalProgramName, "--help"}} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", argv, err, out)
		}
		if got := flagDefaults(t, string(out), flagNames(wantOriginalDefaults)...); !reflect.DeepEqual(got, wantOriginalDefaults) {
			t.Errorf("%q defaults\n got %v\nwant %v", argv, got, wantOriginalDefaults)
		}
	}
	// Our own name without a command still prints our usage.
	if out, _ := exec.Command(bin).CombinedOutput(); !strings.Contains(string(out), "Usage: nghttpx-gateway COMMAND") {
		t.Errorf("nghttpx-gateway alone:\n%s", out)
	}

	// An API server address where nothing listens.
	kubeconfig := filepath.Join(dir, "kubeconfig")
	api := "https://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	writeKubeconfig(t, kubeconfig, api)
	var stderr bytes.Buffer
	// Flags only, and the original's flags as its examples pass them.
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--healthz-host=127.0.0.1", "--healthz-port="+strconv.Itoa(testenv.FreePort(t)),
		"--default-backend-service=kube-system/default-http-backend", "--nghttpx-conf-dir="+t.TempDir(), "--reload-rate=1", "--v=0")
	cmd.Env = append(os.Environ(), "POD_NAMESPACE=kube-system", "POD_NAME=nghttpx-ingress-controller-0")
	cmd.Stderr = &stderr
	// As the original (which reads its Pod first; the in-pod data plane
	// needs its labels), it exits when the API server cannot be reached.
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("flags only, no API server: %v, want exit 1 naming the API server\n%s", err, stderr.String())
	}
	checkLog(t, stderr.String())

	// Against an API server that answers discovery only, the controller
	// starts and serves the original's health port (11249 by default; here a
	// free port on 127.0.0.1): liveness at once, readiness not before a
	// translation nor before the in-pod nghttpx has a configuration, pprof as
	// profiling is on by default in the original. Without POD_NAME the in-pod
	// data plane starts anyway (Ingress status then needs --publish-service).
	scheme, err := source.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	api = testenv.DiscoveryServer(t, scheme).URL
	writeKubeconfig(t, kubeconfig, api)
	port := testenv.FreePort(t)
	stderr.Reset()
	cmd = exec.Command(link, "/"+originalProgramName, "--kubeconfig="+kubeconfig, "--healthz-host=127.0.0.1", "--healthz-port="+strconv.Itoa(port),
		"--default-backend-service=kube-system/default-http-backend", "--nghttpx-conf-dir="+t.TempDir())
	cmd.Env = append(os.Environ(), "POD_NAMESPACE=kube-system")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("no exit 30 s after SIGTERM")
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(60 * time.Second)
	for code, _ := get("/healthz"); code != 200; code, _ = get("/healthz") {
		if time.Now().After(deadline) {
			t.Fatal("/healthz on the health port did not answer 200 within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, body := get("/readyz"); code != 500 || !strings.Contains(body, "[-]built failed") || !strings.Contains(body, "[-]nghttpx failed") {
		t.Errorf("/readyz before any translation: %d %q", code, body)
	}
	if code, body := get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ (profiling on by default): %d %.100q", code, body)
	}
}

func writeKubeconfig(t *testing.T, path, server string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+server+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
}

func checkLog(t *testing.T, log string) {
	t.Helper()
	for _, want := range []string{`running as the original nghttpx-ingress-controller: the original's defaults apply where no flag is given`, `internal-default-backend=true`,
		`http3=false`, `leader-elect-resource-name=nghttpx-ingress-lb`, `ingress-data-plane=in-pod`, "warning: --reload-rate is no longer supported"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(log, "flag provided but not defined") {
		t.Errorf("a flag was refused")
	}
	// In-pod, the flag means what it meant in the original.
	if strings.Contains(log, "--nghttpx-conf-dir is no longer supported") {
		t.Errorf("--nghttpx-conf-dir warned about although the in-pod data plane uses it")
	}
}
