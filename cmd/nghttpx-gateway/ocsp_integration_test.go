//go:build integration

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// TestOCSPStaplingLive runs `nghttpx-gateway run --ocsp-stapling` (the real
// binary, so nghttpx runs the real fetch program through its symlink) with a real
// nghttpx, and edits the certificate Secret: no response, a good one, a newer
// one, a malformed one, a revoked one, then one that expires while nothing
// changes. openssl s_client -status shows what nghttpx staples after each step;
// the nghttpx main process stays the same (reloads only). The no-response,
// malformed, revoked and expired steps are the negative controls: the same check
// sees "no response sent" there.
func TestOCSPStaplingLive(t *testing.T) {
	nghttpxBin := testenv.NghttpxBin(t)
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is needed: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nghttpx-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	const host = "ocsp.example"
	p := newOCSPPKI(t, host)
	port := testenv.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg, state := t.TempDir(), t.TempDir()
	writeFile := func(name, content string) {
		t.Helper()
		tmp := filepath.Join(cfg, "."+name+".tmp") // the runner skips dot files
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(cfg, name)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("gateway.yaml", fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: zlab.co.jp/nghttpx}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nghttpx
  listeners:
  - name: https
    protocol: HTTPS
    port: %d
    hostname: %s
    tls:
      certificateRefs:
      - name: ocsp-tls
`, port, host))
	b64 := base64.StdEncoding.EncodeToString
	secret := func(resp []byte) {
		t.Helper()
		s := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: ocsp-tls, namespace: default}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
`, b64(p.ChainPEM), b64(p.KeyPEM))
		if resp != nil {
			s += "  tls.ocsp-resp: " + b64(resp) + "\n"
		}
		writeFile("secret.yaml", s)
	}

	secret(nil)
	run := testenv.Start(t, "nghttpx-gateway run", exec.Command(bin, "run", "--config", cfg, "--state-dir", state, "--metrics-addr", "127.0.0.1:0",
		"--nghttpx", nghttpxBin, "--http3=false", "--ocsp-stapling"))
	testenv.WaitTCP(t, run, addr, 30*time.Second)
	pid := nghttpxMainPID(t, run.PID)
	serial := fmt.Sprintf("%X", p.Leaf.SerialNumber.Bytes()) // as openssl prints it: 0C5B1E

	// step edits the Secret (unless resp is nil and first), then waits until the
	// staple and the listener condition say what they should.
	now := time.Now().UTC().Truncate(time.Second)
	type want struct {
		staple     bool
		thisUpdate time.Time
		condition  string // a substring of the run's status output
	}
	step := func(name string, edit func(), w want) {
		t.Helper()
		start := time.Now()
		if edit != nil {
			edit()
		}
		deadline := time.Now().Add(20 * time.Second)
		var out string
		for {
			out = sClient(t, addr, host)
			ok := handshakeOK(out) && strings.Contains(out, "CN = "+host) &&
				strings.Contains(run.Logs(), w.condition)
			if w.staple {
				ok = ok && strings.Contains(out, "OCSP Response Status: successful") &&
					strings.Contains(out, "Serial Number: "+serial) && strings.Contains(out, "Cert Status: good") &&
					strings.Contains(out, "This Update: "+w.thisUpdate.Format("Jan _2 15:04:05 2006 GMT"))
			} else {
				ok = ok && strings.Contains(out, "OCSP response: no response sent")
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: s_client output never matched (want staple=%v thisUpdate=%s, condition %q):\n%s",
					name, w.staple, w.thisUpdate, w.condition, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := nghttpxMainPID(t, run.PID); got != pid {
			t.Fatalf("%s: nghttpx main process changed from %d to %d", name, pid, got)
		}
		t.Logf("%s: as expected after %s (nghttpx pid %d)", name, time.Since(start).Round(time.Millisecond), pid)
	}

	cond := "gateway.nghttpx.zlab.co.jp/OCSPStapled="
	step("no response (control)", nil, want{condition: cond + "False (Missing"})

	r1This := now.Add(-2 * time.Hour)
	step("good response stapled", func() { secret(p.Response(t, ocsp.Good, nil, r1This, now.Add(48*time.Hour))) },
		want{staple: true, thisUpdate: r1This, condition: cond + "True"})

	r2This := now.Add(-time.Hour)
	step("newer response replaces it", func() { secret(p.Response(t, ocsp.Good, nil, r2This, now.Add(72*time.Hour))) },
		want{staple: true, thisUpdate: r2This, condition: cond + "True"})

	step("malformed response: nothing stapled, certificate served", func() { secret([]byte("definitely not DER")) },
		want{condition: cond + "False (Invalid"})

	step("good again", func() { secret(p.Response(t, ocsp.Good, nil, r2This, now.Add(72*time.Hour))) },
		want{staple: true, thisUpdate: r2This, condition: cond + "True"})

	step("revoked response: nothing stapled", func() { secret(p.Response(t, ocsp.Revoked, nil, now.Add(-time.Minute), now.Add(72*time.Hour))) },
		want{condition: cond + "False (Revoked"})

	// A response that expires while nothing changes: the translation names its
	// nextUpdate (Result.OCSPRecheck) and the runner rebuilds then, so the staple
	// goes away without any file changing.
	shortThis := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	shortNext := time.Now().UTC().Truncate(time.Second).Add(6 * time.Second)
	step("short-lived good response stapled", func() { secret(p.Response(t, ocsp.Good, nil, shortThis, shortNext)) },
		want{staple: true, thisUpdate: shortThis, condition: cond + "True"})
	step("it expires with no file changing: nothing stapled", nil, want{condition: cond + "False (Expired"})
	if late := time.Since(shortNext); late < 0 || late > 5*time.Second {
		t.Errorf("the staple went away %s after nextUpdate; want within a few seconds after it", late.Round(time.Millisecond))
	} else {
		t.Logf("staple gone %s after nextUpdate", late.Round(time.Millisecond))
	}

	// One reload per edit, each for the response file: 2 changed, 2 new again, 3
	// removed (malformed, revoked, expired).
	reloads := 0
	var took []string
	for _, l := range strings.Split(run.Logs(), "\n") {
		if strings.Contains(l, "msg=applied") && strings.Contains(l, "plan=\"reload (file tls-") &&
			(strings.Contains(l, ".crt.ocsp changed") || strings.Contains(l, ".crt.ocsp removed")) {
			reloads++
			if _, v, ok := strings.Cut(l, " took="); ok {
				took = append(took, strings.Fields(v)[0])
			}
		}
	}
	if reloads != 7 {
		t.Errorf("%d applies reloaded for the response file, want 7:\n%s", reloads, run.Logs())
	}
	// Reload time (write, SIGHUP, new configrevision): with ocsp-startup the new
	// workers accept only once their responses are loaded.
	t.Logf("reloads for the response file took %s", strings.Join(took, " "))
}

// sClient runs openssl s_client -status against addr with SNI host and returns its
// output.
func sClient(t *testing.T, addr, host string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-status", "-servername", host, "-connect", addr)
	out, _ := cmd.CombinedOutput() // stdin is /dev/null: s_client ends after the handshake
	return string(out)
}

func handshakeOK(out string) bool {
	return strings.Contains(out, "SSL handshake has read") && !strings.Contains(out, "Cipher is (NONE)")
}

// nghttpxMainPID finds the nghttpx child of the run process.
func nghttpxMainPID(t *testing.T, parent int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "(nghttpx") {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one nghttpx child of %d, found %v", parent, found)
	}
	return found[0]
}
