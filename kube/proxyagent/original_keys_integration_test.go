//go:build integration

package proxyagent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/quic-go/quic-go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Key continuity across a rolling replacement of the original nghttpx Ingress
// controller by ours, through real nghttpx: "orig" is nghttpx configured as the
// original controller configures it from its --nghttpx-secret Secret
// (tls-ticket-key/key-0..N holding the Secret's 48-byte keys in order, the
// cipher left at nghttpx's default aes-128-cbc, quic-secret.txt holding the
// Secret's value); "ours" is nghttpx configured by this package from the same
// Secret (sharedKeys with NghttpxSecret, Agent.Sync, the real applier).

const origHost = "a.example"

// origReplica is nghttpx as the original controller runs it.
type origReplica struct {
	dir       string
	addr      string
	port, api int
	nx        *testenv.Nghttpx
}

// writeOriginalFiles writes what the original controller writes for secret and
// the configuration naming them (its template's key lines, with our test
// listener and backend).
func (o *origReplica) writeOriginalFiles(t *testing.T, secret *corev1.Secret, certPEM, keyPEM []byte, echoPort int) string {
	t.Helper()
	for _, d := range []string{"tls", "tls-ticket-key"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(o.dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crt, key := write("tls/server.crt", certPEM), write("tls/server.key", keyPEM)
	raw := secret.Data[keys.DataOriginalTicketKeys]
	var conf strings.Builder
	fmt.Fprintf(&conf, "frontend=%s,%d\nfrontend=%s,%d;quic\n", o.addr, o.port, o.addr, o.port)
	fmt.Fprintf(&conf, "frontend=127.0.0.1,%d;api;no-tls\n", o.api)
	fmt.Fprintf(&conf, "frontend-quic-secret-file=%s\n", write("quic-secret.txt", secret.Data[keys.DataOriginalQUIC]))
	fmt.Fprintf(&conf, "frontend-quic-require-token=yes\n")
	fmt.Fprintf(&conf, "private-key-file=%s\ncertificate-file=%s\n", key, crt)
	for i := 0; i < len(raw)/48; i++ {
		fmt.Fprintf(&conf, "tls-ticket-key-file=%s\n", write("tls-ticket-key/key-"+strconv.Itoa(i), raw[i*48:(i+1)*48]))
	}
	fmt.Fprintf(&conf, "backend=127.0.0.1,%d;;proto=http/1.1\nworkers=1\nno-ocsp=yes\nno-quic-bpf=yes\n", echoPort)
	fmt.Fprintf(&conf, "worker-process-grace-shutdown-period=1s\nerrorlog-file=/dev/stderr\n")
	return write("nghttpx.conf", []byte(conf.String()))
}

func (o *origReplica) revision(t *testing.T) uint64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1beta1/configrevision", o.api))
	if err != nil {
		t.Fatalf("orig configrevision: %v", err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			ConfigRevision uint64 `json:"configRevision"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.Data.ConfigRevision
}

// reload rewrites orig's files for secret and reloads it as the original does
// (SIGHUP, then wait for a new configrevision).
func (o *origReplica) reload(t *testing.T, secret *corev1.Secret, certPEM, keyPEM []byte, echoPort int) {
	t.Helper()
	rev := o.revision(t)
	o.writeOriginalFiles(t, secret, certPEM, keyPEM, echoPort)
	if err := syscall.Kill(o.nx.PID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); o.revision(t) == rev; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("orig did not reload")
		}
	}
}

// tlsClient is one client with its session cache: a session it got from one
// server is offered to the next (same SNI).
type tlsClient struct {
	cache   tls.ClientSessionCache
	version uint16
}

// get does one HTTPS request to addr and reports whether the session resumed.
func (c *tlsClient) get(t *testing.T, addr string) bool {
	t.Helper()
	conf := &tls.Config{ServerName: origHost, InsecureSkipVerify: true, ClientSessionCache: c.cache, //nolint:gosec // test certificate
		MinVersion: c.version, MaxVersion: c.version, NextProtos: []string{"http/1.1"}}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /keys HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", origHost)
	// Reading to the end also takes in a TLS 1.3 NewSessionTicket.
	body, err := io.ReadAll(conn)
	if err != nil && !strings.Contains(err.Error(), "close") {
		t.Fatalf("read from %s: %v", addr, err)
	}
	if !bytes.HasPrefix(body, []byte("HTTP/1.1 200")) {
		t.Fatalf("%s answered %q", addr, body[:min(len(body), 200)])
	}
	return conn.ConnectionState().DidResume
}

func quicHandshake(t *testing.T, addr string, port int, token *quic.ClientToken) testenv.QUICResult {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	res, err := testenv.QUICHandshake(context.Background(), udp, &net.UDPAddr{IP: net.ParseIP(addr), Port: port}, origHost, token)
	if err != nil {
		t.Fatalf("QUIC handshake with %s:%d: %v", addr, port, err)
	}
	return res
}

// liveInput is the agent's Gateway with one HTTPS listener on port and a
// route to the echo server.
func liveInput(t *testing.T, port, echoPort int) (*load.Input, []byte, []byte) {
	t.Helper()
	in := httpsInput(t)
	gw := &in.Gateways[0]
	gw.Spec.Listeners = gw.Spec.Listeners[1:] // only HTTPS
	gw.Spec.Listeners[0].Port = gatewayv1.PortNumber(port)
	gw.Spec.Addresses = nil
	for i := range in.EndpointSlices {
		in.EndpointSlices[i].Endpoints[0].Addresses = []string{"127.0.0.1"}
		p := int32(echoPort)
		in.EndpointSlices[i].Ports[0].Port = &p
	}
	in.Services[0].Spec.Ports[0].TargetPort.IntVal = int32(echoPort)
	var cert, key []byte
	for _, s := range in.Secrets {
		if s.Name == "cert" {
			cert, key = s.Data["tls.crt"], s.Data["tls.key"]
		}
	}
	in.HTTPRoutes[0].Spec.ParentRefs[0].SectionName = nil
	return in, cert, key
}

func TestLiveOriginalSecretKeysShared(t *testing.T) {
	start := time.Now()
	bin := testenv.NghttpxBin(t)
	ctx := context.Background()
	feat, err := features.Detect(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	if !feat.HTTP3 {
		t.Fatal("this nghttpx has no HTTP/3: build it with make nghttpx")
	}
	rf := feat.Render()
	rf.OCSP = false // no stapling here (features.Features.Render: the caller clears it)
	echo := testenv.StartEcho(t, "keys")
	origPort, ourPort := testenv.FreeTCPUDPPort(t), testenv.FreeTCPUDPPort(t)

	// The Secret as the original leader leaves it: created, then rotated
	// (the same scheme keys.RotateOriginal implements, checked byte for byte
	// against a model of the original in dataplane/keys).
	p := keys.Periods{Tickets: time.Hour, QUIC: 4 * time.Hour}
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	o, _, err := keys.RotateOriginal(keys.Original{}, t0, p, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o, _, _ = keys.RotateOriginal(o, t0.Add(4*time.Hour), p, rand.Reader)
	data, ann := keys.EncodeOriginal(o)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "nghttpx-km", Annotations: ann},
		Type: corev1.SecretTypeOpaque, Data: data}
	if len(o.Tickets) != 3 || len(o.QUIC) != 3 {
		t.Fatalf("fixture: %d ticket keys, %d QUIC keys", len(o.Tickets), len(o.QUIC))
	}

	in, certPEM, keyPEM := liveInput(t, ourPort, echo.HTTPPort)
	orig := &origReplica{dir: t.TempDir(), addr: "127.0.0.2", port: origPort, api: testenv.FreePort(t)}
	conf := orig.writeOriginalFiles(t, secret, certPEM, keyPEM, echo.HTTPPort)
	orig.nx = testenv.StartNghttpx(t, conf, orig.api)
	testenv.WaitTCP(t, orig.nx.Process, net.JoinHostPort(orig.addr, strconv.Itoa(orig.port)), 10*time.Second)

	// Ours: the agent's shared keys from the Secret, rendered and applied.
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(secret).Build()
	stateDir := t.TempDir()
	a, err := New(Options{
		Gateway:  types.NamespacedName{Namespace: "ns", Name: "gw"},
		StateDir: stateDir,
		Render: render.Options{APIPort: testenv.FreePort(t), Workers: 1, Features: rf, HTTP3: true, QUICRequireToken: true,
			GracePeriod: time.Second},
		KeysSecret:    "gw-nghttpx-keys",
		NghttpxSecret: types.NamespacedName{Namespace: "kube-system", Name: "nghttpx-km"},
		NewDataPlane: func(dir string) (DataPlane, error) {
			return apply.New(apply.Options{Binary: bin, StateDir: dir, Log: testr.New(t).WithName("ours"), StopGrace: 2 * time.Second})
		},
		Log: testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.reader = cl
	sync := func() {
		t.Helper()
		a.keys.refresh(ctx, cl)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := a.Sync(sctx, in); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.inst.Close(sctx)
	})
	ours := net.JoinHostPort("127.0.0.3", strconv.Itoa(ourPort))
	origAddr := net.JoinHostPort(orig.addr, strconv.Itoa(orig.port))
	waitTLS(t, ours)

	// What nghttpx reads is identical on both sides.
	gwDir := filepath.Join(stateDir, "ns_gw")
	sameFile := func(what, ourRel, origRel string) {
		t.Helper()
		x, err1 := os.ReadFile(filepath.Join(gwDir, ourRel))
		y, err2 := os.ReadFile(filepath.Join(orig.dir, origRel))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s: ours (%s) and the original's (%s) differ: %v %v", what, ourRel, origRel, err1, err2)
		}
	}
	sameFile("QUIC secret file", quicSecretName, "quic-secret.txt")
	for i := range o.Tickets {
		sameFile("ticket key "+strconv.Itoa(i), ticketKeyName+strconv.Itoa(i), "tls-ticket-key/key-"+strconv.Itoa(i))
	}
	mainConf, _ := os.ReadFile(filepath.Join(gwDir, render.MainFile))
	if !strings.Contains(string(mainConf), "tls-ticket-key-cipher=aes-128-cbc") {
		t.Errorf("our configuration does not use the original's ticket cipher:\n%s", mainConf)
	}

	// TLS session resumption both ways, TLS 1.2 and 1.3.
	for _, v := range []struct {
		name string
		v    uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		c := &tlsClient{cache: tls.NewLRUClientSessionCache(4), version: v.v}
		if c.get(t, origAddr) {
			t.Fatalf("%s: first connection to orig resumed", v.name)
		}
		if !c.get(t, origAddr) {
			t.Fatalf("%s: orig does not resume its own session: the test proves nothing", v.name)
		}
		if !c.get(t, ours) {
			t.Errorf("%s: a session from orig does not resume on ours", v.name)
		}
		c2 := &tlsClient{cache: tls.NewLRUClientSessionCache(4), version: v.v}
		c2.get(t, ours)
		if !c2.get(t, origAddr) {
			t.Errorf("%s: a session from ours does not resume on orig", v.name)
		}
		if !t.Failed() {
			t.Logf("%s: sessions resume orig -> ours and ours -> orig", v.name)
		}
	}

	// QUIC address validation tokens: both require one; a token one issued
	// (NEW_TOKEN) is accepted by the other without a Retry.
	first := quicHandshake(t, orig.addr, orig.port, nil)
	if !first.Retried || first.NewToken == nil {
		t.Fatalf("orig: tokenless client retried %v, NEW_TOKEN %v: require-token not in effect, the test proves nothing", first.Retried, first.NewToken != nil)
	}
	if res := quicHandshake(t, "127.0.0.3", ourPort, first.NewToken); res.Retried {
		t.Error("ours sent a Retry to a client holding orig's NEW_TOKEN")
	}
	fromOurs := quicHandshake(t, "127.0.0.3", ourPort, nil)
	if !fromOurs.Retried || fromOurs.NewToken == nil {
		t.Fatalf("ours: tokenless client retried %v: require-token not in effect", fromOurs.Retried)
	}
	if res := quicHandshake(t, orig.addr, orig.port, fromOurs.NewToken); res.Retried {
		t.Error("orig sent a Retry to a client holding ours' NEW_TOKEN")
	}
	if !t.Failed() {
		t.Log("QUIC: NEW_TOKENs of orig accepted by ours and of ours by orig, without Retry")
	}

	// A rotation (by our leader, in the original's scheme): ours picks it up
	// first while orig still has the old Secret, as in a rolling window.
	before := &tlsClient{cache: tls.NewLRUClientSessionCache(4), version: tls.VersionTLS13}
	before.get(t, origAddr)
	o2, changed, err := keys.RotateOriginal(o, t0.Add(8*time.Hour), p, rand.Reader)
	if err != nil || !changed {
		t.Fatalf("rotate: %v %v", changed, err)
	}
	var cur corev1.Secret
	if err := cl.Get(ctx, client.ObjectKeyFromObject(secret), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Data, cur.Annotations = keys.EncodeOriginal(o2)
	if err := cl.Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	sync()
	waitTLS(t, ours)
	if !before.get(t, ours) {
		t.Error("after rotation, ours does not resume a session orig issued before it")
	}
	// Ours now encrypts with the key orig had as announced: orig, not yet
	// reloaded, resumes it.
	after := &tlsClient{cache: tls.NewLRUClientSessionCache(4), version: tls.VersionTLS13}
	after.get(t, ours)
	if !after.get(t, origAddr) {
		t.Error("orig (old Secret) does not resume a session ours issued under the rotated Secret")
	}
	tokOurs := quicHandshake(t, "127.0.0.3", ourPort, nil).NewToken
	if res := quicHandshake(t, orig.addr, orig.port, tokOurs); res.Retried {
		t.Error("orig (old Secret) sent a Retry for ours' token under the rotated Secret")
	}
	// orig reloads the rotated Secret; everything issued before still works.
	orig.reload(t, &cur, certPEM, keyPEM, echo.HTTPPort)
	if !before.get(t, origAddr) || !after.get(t, origAddr) {
		t.Error("orig lost sessions across its own reload of the rotated Secret")
	}
	if res := quicHandshake(t, orig.addr, orig.port, first.NewToken); res.Retried {
		t.Error("orig (rotated) sent a Retry for its own token from before the rotation")
	}
	if !t.Failed() {
		t.Log("rotation in the original's scheme: sessions and tokens carry over in both directions during the rolling window")
	}

	// Negative control: ours with an unrelated Secret resumes nothing of orig's.
	st, _, _ := keys.RotateOriginal(keys.Original{}, t0, p, rand.Reader)
	cur.Data, cur.Annotations = keys.EncodeOriginal(st)
	if err := cl.Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	sync()
	waitTLS(t, ours)
	fresh := &tlsClient{cache: tls.NewLRUClientSessionCache(4), version: tls.VersionTLS13}
	fresh.get(t, origAddr)
	if fresh.get(t, ours) {
		t.Error("negative control: ours with other keys resumed orig's session")
	}
	if res := quicHandshake(t, "127.0.0.3", ourPort, first.NewToken); !res.Retried {
		t.Error("negative control: ours with other keys accepted orig's token")
	}
	t.Logf("original-format keys shared through real nghttpx: wall time %s", time.Since(start).Round(time.Millisecond))
}

// waitTLS waits until addr completes TLS handshakes (after a reload the new
// worker takes over).
func waitTLS(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: origHost}) //nolint:gosec // test
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no TLS: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
