//go:build integration

package livetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/quic-go/quic-go"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Shared keying material across replicas: two independent nghttpx processes (two
// "replicas" of one Gateway, on 127.0.0.2 and 127.0.0.3, same port) rendered with
// the same QUIC secret and TLS ticket keys, each run and re-keyed by its own
// apply.Applier the way the proxy agent does. This file is an external test package
// so that it can drive the real applier (apply imports render).

// keysHost is the SNI the clients send; the listener takes any host.
const keysHost = "a.example.com"

// keyMaterial is what the leader keeps in a Gateway's Secret, each list newest
// first: the first key encrypts, every key decrypts.
type keyMaterial struct {
	quic    [][]byte // 68 bytes each, id in the top two bits of byte 0
	tickets [][]byte // render.TLSTicketKeySize bytes each
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// quicKey is a fresh keying material with id (0-3).
func quicKey(t *testing.T, id byte) []byte {
	b := randomBytes(t, 68)
	b[0] = b[0]&0x3f | id<<6
	return b
}

func ticketKey(t *testing.T) []byte { return randomBytes(t, render.TLSTicketKeySize) }

// quicSecretFile is the frontend-quic-secret-file text of keys.
func quicSecretFile(keys [][]byte) []byte {
	var b bytes.Buffer
	for _, k := range keys {
		b.WriteString(hex.EncodeToString(k) + "\n")
	}
	return b.Bytes()
}

// replica is one data-plane process of the Gateway.
type replica struct {
	name, addr  string
	port, api   int
	dir         string
	gw          *model.Gateway
	extraConfig []string
	app         *apply.Applier
}

// startReplica renders the Gateway on addr:port with keys and starts it through an
// Applier. extra are operator lines (render.Options.ExtraConfig).
func startReplica(t *testing.T, name, addr string, port, echoPort int, keys keyMaterial, extra ...string) *replica {
	t.Helper()
	cert, err := os.ReadFile("../render/testdata/certs/a.example.com.crt")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("../render/testdata/certs/a.example.com.key")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, addr: addr, port: port, api: testenv.FreePort(t), dir: t.TempDir(), extraConfig: extra}
	r.gw = &model.Gateway{
		Addresses: []string{addr},
		Ports: []model.Port{{Port: int32(port), Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{{
			CertificateNames: []string{"a"},
			VirtualHosts: []model.VirtualHost{{Rules: []model.Rule{{Name: "all",
				Match:    model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/"}},
				Backends: []model.WeightedBackend{{Weight: 1, Cluster: "echo"}}}}}},
		}}}},
		Clusters:     []model.Cluster{{Name: "echo", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(echoPort)}}}},
		Certificates: []model.Certificate{{Name: "a", CertPEM: cert, KeyPEM: key}},
	}
	r.app, err = apply.New(apply.Options{Binary: testenv.NghttpxBin(t), StateDir: r.dir, Log: testr.New(t).WithName(name),
		StopGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.app.Start(ctx, r.config(t, keys)); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.app.Stop(ctx)
	})
	// The worker serves once the API answers; the public listener is bound by then.
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatalf("%s: listener: %v", name, err)
	}
	c.Close()
	return r
}

// config renders the Gateway with keys as files in the state directory, the way
// the proxy agent delivers them: a changed key file is a reload for the applier.
func (r *replica) config(t *testing.T, keys keyMaterial) render.Config {
	t.Helper()
	opts := render.Options{StateDir: r.dir, APIPort: r.api, Workers: 1, GracePeriod: 2 * time.Second,
		HTTP3: true, Features: routing(render.Features{QUIC: true}), ExtraConfig: r.extraConfig,
		QUICSecretFile: r.dir + "/keys/quic-secret"}
	files := map[string][]byte{"keys/quic-secret": quicSecretFile(keys.quic)}
	for i, k := range keys.tickets {
		name := "keys/tls-ticket-key-" + strconv.Itoa(i)
		files[name] = k
		opts.TLSTicketKeyFiles = append(opts.TLSTicketKeyFiles, r.dir+"/"+name)
	}
	cfg, err := render.Render(r.gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	for n, b := range files {
		cfg.Files[n] = b
	}
	return *cfg
}

// rekey applies keys through the applier and checks that it reloaded nghttpx: the
// configrevision changed.
func (r *replica) rekey(t *testing.T, keys keyMaterial) {
	t.Helper()
	rev, reloads := r.app.ConfigRevision(), r.app.Stats().Reloads.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.app.Apply(ctx, r.config(t, keys)); err != nil {
		t.Fatalf("%s: apply new keys: %v", r.name, err)
	}
	if got := r.app.ConfigRevision(); got == rev || r.app.Stats().Reloads.Load() != reloads+1 {
		t.Fatalf("%s: new keys applied without exactly one reload (revision %d -> %d, reloads %d -> %d)",
			r.name, rev, got, reloads, r.app.Stats().Reloads.Load())
	}
}

// sClient runs one openssl s_client session against r with args (-sess_out,
// -sess_in, the TLS version), sends a request and returns "New" or "Reused".
func (r *replica) sClient(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	args = append([]string{"s_client", "-connect", net.JoinHostPort(r.addr, strconv.Itoa(r.port)),
		"-servername", keysHost, "-ign_eof"}, args...)
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Stdin = strings.NewReader("GET /tls HTTP/1.1\r\nHost: " + keysHost + "\r\nConnection: close\r\n\r\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	if !bytes.Contains(out, []byte("HTTP/1.1 200")) || !bytes.Contains(out, []byte(`"pod": "keys"`)) {
		t.Fatalf("%s: the request over TLS was not answered by the backend:\n%s", r.name, out)
	}
	var state string
	for line := range strings.Lines(string(out)) {
		if s, _, ok := strings.Cut(line, ", TLSv1."); ok && (s == "New" || s == "Reused") {
			if state != "" && state != s {
				t.Fatalf("openssl reports both New and Reused:\n%s", out)
			}
			state = s
		}
	}
	if state == "" {
		t.Fatalf("no New/Reused line in the openssl output:\n%s", out)
	}
	return state
}

// TestLiveSharedTicketKeys: a TLS session from one replica resumes on the other
// when both have the same ticket keys, for TLS 1.2 and 1.3; it does not with other
// keys; after a rotation (new key first, old one kept) old sessions still resume.
func TestLiveSharedTicketKeys(t *testing.T) {
	start := time.Now()
	echo := testenv.StartEcho(t, "keys")
	port := testenv.FreeTCPUDPPort(t)
	shared := keyMaterial{quic: [][]byte{quicKey(t, 0)}, tickets: [][]byte{ticketKey(t), ticketKey(t)}}
	a := startReplica(t, "a", "127.0.0.2", port, echo.HTTPPort, shared)
	b := startReplica(t, "b", "127.0.0.3", port, echo.HTTPPort, shared)

	for _, version := range []string{"-tls1_2", "-tls1_3"} {
		sess := filepath.Join(t.TempDir(), "session.pem")
		resume := func(r *replica) string { return r.sClient(t, version, "-sess_in", sess) }
		if got := a.sClient(t, version, "-sess_out", sess); got != "New" {
			t.Fatalf("%s: first session on a: %s", version, got)
		}
		if got := resume(a); got != "Reused" {
			t.Fatalf("%s: a does not resume its own session (%s): resumption is off, the test proves nothing", version, got)
		}
		if got := resume(b); got != "Reused" {
			t.Errorf("%s: a's session on b: %s, want Reused", version, got)
		}
		t.Logf("%s: session from a resumed on a and on b", version)
	}

	// Rotation on b: a new key encrypts, a's keys still decrypt.
	sess := filepath.Join(t.TempDir(), "session.pem")
	a.sClient(t, "-sess_out", sess)
	rotated := keyMaterial{quic: shared.quic, tickets: [][]byte{ticketKey(t), shared.tickets[0], shared.tickets[1]}}
	b.rekey(t, rotated)
	if got := b.sClient(t, "-sess_in", sess); got != "Reused" {
		t.Errorf("after rotation (old keys kept) a's session on b: %s, want Reused", got)
	}
	// ... and b's new tickets are under the new key, which a does not have yet.
	sessB := filepath.Join(t.TempDir(), "session-b.pem")
	b.sClient(t, "-sess_out", sessB)
	if got := a.sClient(t, "-sess_in", sessB); got != "New" {
		t.Errorf("b's ticket under the new key resumed on a, which lacks that key: %s", got)
	}

	// Negative control: b with keys a never had.
	b.rekey(t, keyMaterial{quic: shared.quic, tickets: [][]byte{ticketKey(t), ticketKey(t)}})
	if got := b.sClient(t, "-sess_in", sess); got != "New" {
		t.Errorf("a's session on b with different ticket keys: %s, want New", got)
	}
	if got := a.sClient(t, "-sess_in", sess); got != "Reused" {
		t.Errorf("a's session on a itself: %s, want Reused", got)
	}
	t.Logf("shared ticket keys: wall time %s", time.Since(start).Round(time.Millisecond))
}

// quicHandshake completes an HTTP/3 (ALPN h3) handshake with r from 127.0.0.1,
// presenting token (nil: none), and waits for the server's NEW_TOKEN.
func (r *replica) quicHandshake(t *testing.T, token *quic.ClientToken) testenv.QUICResult {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	res, err := testenv.QUICHandshake(context.Background(), udp, &net.UDPAddr{IP: net.ParseIP(r.addr), Port: r.port}, keysHost, token)
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	return res
}

// TestLiveSharedQUICTokens: b requires address validation (frontend-quic-require-
// token). A client without a token gets a Retry; a client presenting the token a
// sent it is accepted at once, because both derive token keys from the same QUIC
// secret; also after b rotated (a's key kept for decryption); not when b's keying
// material differs.
func TestLiveSharedQUICTokens(t *testing.T) {
	start := time.Now()
	echo := testenv.StartEcho(t, "keys")
	port := testenv.FreeTCPUDPPort(t)
	shared := keyMaterial{quic: [][]byte{quicKey(t, 0)}, tickets: [][]byte{ticketKey(t)}}
	a := startReplica(t, "a", "127.0.0.2", port, echo.HTTPPort, shared)
	b := startReplica(t, "b", "127.0.0.3", port, echo.HTTPPort, shared, "frontend-quic-require-token=yes")

	tokenFromA := func() *quic.ClientToken {
		res := a.quicHandshake(t, nil)
		if res.Retried {
			t.Fatal("a (no token required) sent a Retry")
		}
		return res.NewToken
	}
	if res := b.quicHandshake(t, nil); !res.Retried {
		t.Fatal("b accepted a client without a token: require-token is not in effect, the test proves nothing")
	}
	if res := b.quicHandshake(t, tokenFromA()); res.Retried {
		t.Error("b sent a Retry to a client with a's token, want it accepted")
	}
	t.Log("b: no token -> Retry; a's NEW_TOKEN -> accepted without Retry")

	// b rotates: a new key (id 1) encrypts; a's key (id 0) still validates tokens.
	b.rekey(t, keyMaterial{quic: [][]byte{quicKey(t, 1), shared.quic[0]}, tickets: shared.tickets})
	res := b.quicHandshake(t, tokenFromA())
	if res.Retried {
		t.Error("after rotation (old key kept) b sent a Retry to a client with a's token")
	}
	// b's tokens are now under the new key, which a does not know: a has no
	// require-token, so it just ignores it; b itself accepts it.
	if again := b.quicHandshake(t, res.NewToken); again.Retried {
		t.Error("b sent a Retry to a client with b's own token")
	}
	t.Log("b rotated (new key first, a's kept): a's token and b's own accepted without Retry")

	// Negative control: b's keying material is not a's (same id, other bytes).
	b.rekey(t, keyMaterial{quic: [][]byte{quicKey(t, 0)}, tickets: shared.tickets})
	if res := b.quicHandshake(t, tokenFromA()); !res.Retried {
		t.Error("b with other keying material accepted a's token without a Retry")
	}
	t.Log("negative control: b with other keying material -> Retry for a's token")
	t.Logf("shared QUIC tokens: wall time %s", time.Since(start).Round(time.Millisecond))
}

// h2loadRun is one h2load run in the background.
type h2loadRun struct {
	res nghttpx.H2loadResult
	out string
	err error
}

func startH2load(ctx context.Context, t *testing.T, args ...string) <-chan h2loadRun {
	t.Helper()
	bin := testenv.H2loadBin(t)
	ch := make(chan h2loadRun, 1)
	go func() {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		r := h2loadRun{out: string(out), err: err}
		if err == nil {
			r.res, r.err = nghttpx.ParseH2load(r.out)
		}
		ch <- r
	}()
	return ch
}

// rotated is keys after one rotation: a new QUIC key (the next id) and a new ticket
// key in front, the previous ones kept (at most four QUIC keys, nghttpx's limit).
func rotated(t *testing.T, keys keyMaterial) keyMaterial {
	id := (keys.quic[0][0]>>6 + 1) & 3
	return keyMaterial{
		quic:    append([][]byte{quicKey(t, id)}, keys.quic[:min(len(keys.quic), 3)]...),
		tickets: append([][]byte{ticketKey(t)}, keys.tickets[:min(len(keys.tickets), 3)]...),
	}
}

// TestLiveKeyRotationUnderHTTP3Load rotates the QUIC secret and the ticket keys
// through the applier while h2load sends HTTP/3 requests: across three rotations new
// connections (one request each) all succeed; across three more no request sent on
// long-lived connections is lost. Their packets reach the old worker process through the new
// one, which finds it by decrypting the connection ID with the key whose id the
// ID carries: the old key must stay in the file.
func TestLiveKeyRotationUnderHTTP3Load(t *testing.T) {
	start := time.Now()
	echo := testenv.StartEcho(t, "keys")
	port := testenv.FreeTCPUDPPort(t)
	keys := keyMaterial{quic: [][]byte{quicKey(t, 0)}, tickets: [][]byte{ticketKey(t)}}
	a := startReplica(t, "a", "127.0.0.2", port, echo.HTTPPort, keys)
	url := fmt.Sprintf("https://127.0.0.2:%d/load", port)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	rev0 := a.app.ConfigRevision()
	// 1,200 connections, 4 every 10 ms: about 3 s of new connections.
	fresh := startH2load(ctx, t, "--npn-list=h3", "-r", "4", "--rate-period=10ms", "-c", "1200", "-n", "1200", url)
	for i := range 3 {
		time.Sleep(300 * time.Millisecond)
		if len(fresh) != 0 {
			t.Fatalf("h2load ended before rotation %d: it would prove nothing", i+1)
		}
		keys = rotated(t, keys)
		a.rekey(t, keys)
	}
	run := <-fresh
	if run.err != nil {
		t.Fatalf("h2load: %v\n%s", run.err, run.out)
	}
	r := run.res
	t.Logf("new connections across 3 rotations: %+v", r)
	if r.Total != 1200 || r.Succeeded != r.Total || r.Failed != 0 || r.Errored != 0 || r.Timeout != 0 ||
		!strings.Contains(run.out, "status codes: 1200 2xx") {
		t.Errorf("requests lost across key rotations: %+v\n%s", r, run.out)
	}

	// Long-lived connections. h2load 1.52 does not reconnect after a GOAWAY: the
	// requests it has not sent on a closing connection count as failed and errored
	// without reaching nghttpx, and the run ends. So one run per rotation, and every
	// request a run did send must succeed. -N ends a connection that went silent.
	const n = 40000 // more than a second of traffic: each run ends at its rotation
	long := func(next keyMaterial) nghttpx.H2loadResult {
		t.Helper()
		run := startH2load(ctx, t, "--npn-list=h3", "-c", "16", "-m", "4", "-N", "3s", "-n", strconv.Itoa(n), url)
		// A second of traffic first: h3 through one worker does 1-3k requests/s
		// on a busy 2-core machine, so the connections are well in use.
		time.Sleep(time.Second)
		if len(run) != 0 {
			t.Fatal("h2load ended before the rotation: it would prove nothing")
		}
		a.rekey(t, next)
		res := <-run
		if res.err != nil {
			t.Fatalf("h2load: %v\n%s", res.err, res.out)
		}
		if res.res.Started < 500 {
			t.Fatalf("only %d requests sent before the rotation ended the run: %+v", res.res.Started, res.res)
		}
		return res.res
	}
	var sent, answered int
	for i := range 3 {
		keys = rotated(t, keys)
		r := long(keys)
		t.Logf("long-lived connections across rotation %d: %+v (%d never sent after GOAWAY)", i+1, r, r.Total-r.Started)
		if r.Done != r.Started || r.Succeeded != r.Started || r.Timeout != 0 ||
			r.Failed != r.Total-r.Started || r.Errored != r.Total-r.Started {
			t.Errorf("a request sent on a long-lived connection was lost across key rotation %d: %+v", i+1, r)
		}
		sent += r.Started
		answered += r.Succeeded
	}
	t.Logf("long-lived connections: %d requests sent across 3 rotations, %d answered", sent, answered)

	// Negative control: a new key without the old one. The new worker process can no
	// longer tell which process an old connection belongs to, and sent requests are
	// lost (16 connections: some hash to the new process's socket).
	r = long(keyMaterial{quic: [][]byte{quicKey(t, (keys.quic[0][0]>>6+1)&3)}, tickets: keys.tickets})
	t.Logf("negative control, old QUIC key dropped: %+v", r)
	if r.Succeeded == r.Started && r.Timeout == 0 {
		t.Errorf("no request lost although the old QUIC key was dropped: the test cannot tell: %+v", r)
	}
	if rev := a.app.ConfigRevision(); rev == rev0 || a.app.Stats().Reloads.Load() != 7 {
		t.Errorf("configrevision %d -> %d after %d reloads, want 7 reloads and a new revision", rev0, rev, a.app.Stats().Reloads.Load())
	}
	t.Logf("rotation under load: wall time %s", time.Since(start).Round(time.Millisecond))
}
