//go:build e2e

package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// keysPeriod is the controller's rotation period for both kinds of key during
// TestSharedKeys: short enough for more than 12 rotations in well under a minute.
const keysPeriod = 2 * time.Second

// keysFlags are what TestSharedKeys adds to the controller's arguments.
var keysFlags = []string{
	"--quic-key-rotation-period=" + keysPeriod.String(),
	"--tls-ticket-key-rotation-period=" + keysPeriod.String(),
}

// setControllerArgs adds (or, with add false, removes) args on the controller
// Deployment and waits for the rollout.
func (s *suite) setControllerArgs(ctx context.Context, args []string, add bool) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d appsv1.Deployment
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: controllerApp}, &d); err != nil {
			return err
		}
		c := &d.Spec.Template.Spec.Containers[0]
		c.Args = slices.DeleteFunc(c.Args, func(a string) bool { return slices.Contains(args, a) })
		if add {
			c.Args = append(c.Args, args...)
		}
		return s.cl.Update(ctx, &d)
	})
	if err != nil {
		return fmt.Errorf("controller arguments: %w", err)
	}
	return e2eutil.WaitRollout(ctx, s.cs, systemNS, controllerApp, 2*time.Minute)
}

// withControllerArgs adds args to the controller for the rest of the test (they
// are removed at cleanup); it fails the test when the rollout does not finish.
func (s *suite) withControllerArgs(ctx context.Context, t *testing.T, args []string) {
	t.Helper()
	t0 := time.Now()
	if err := s.setControllerArgs(ctx, args, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.setControllerArgs(context.Background(), args, false); err != nil {
			t.Errorf("restoring the controller: %v", err)
		}
	})
	t.Logf("controller rolled out with %v in %s", args, time.Since(t0).Round(time.Millisecond))
}

// selfSigned is a TLS Secret for host.
func selfSigned(t *testing.T, ns, name, host string) *corev1.Secret {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		},
	}
}

// keysVersion is one observed state of the keys Secret.
type keysVersion struct {
	at      time.Duration
	rv      string
	st      keys.State
	ticketN map[string]bool // hex key names of its ticket keys
}

// resumption runs two TLS 1.3 handshakes from inside the cluster network: a full
// one against from (saving the session with its ticket) and one against to that
// offers it. It returns whether the second was resumed and the ticket's key name.
//
// TLS 1.3 sends tickets after the handshake, so each s_client sends a request
// and reads the answer (-ign_eof keeps it reading after stdin ends): the ticket
// has arrived by then and -sess_out saves it.
func (s *suite) resumption(ctx context.Context, t *testing.T, dir, host, from, to string) (bool, string) {
	t.Helper()
	sess := filepath.Join(dir, fmt.Sprintf("sess-%d", time.Now().UnixNano()))
	req := "GET /keys HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	run := func(addr string, extra ...string) string {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		args := append([]string{"s_client", "-connect", net.JoinHostPort(addr, "443"), "-servername", host, "-tls1_3", "-ign_eof"}, extra...)
		cmd := s.c.Command(cctx, "openssl", args...)
		cmd.Stdin = strings.NewReader(req)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, e2eutil.Tail(string(out), 30))
		}
		return string(out)
	}
	first := run(from, "-sess_out", sess)
	if !strings.Contains(first, "HTTP/1.1 200") {
		t.Fatalf("TLS request to %s did not succeed:\n%s", from, e2eutil.Tail(first, 30))
	}
	out, err := s.c.Command(ctx, "openssl", "sess_id", "-in", sess, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl sess_id: %v\n%s", err, out)
	}
	name := ticketKeyName(string(out))
	second := run(to, "-sess_in", sess)
	return strings.Contains(second, "Reused, TLSv1.3"), name
}

// ticketKeyName is the first 16 bytes (hex) of the session ticket that
// `openssl sess_id -text` prints: the name of the server key that sealed it.
func ticketKeyName(text string) string {
	_, after, ok := strings.Cut(text, "TLS session ticket:\n")
	if !ok {
		return ""
	}
	var b []byte
	for _, line := range strings.Split(after, "\n") {
		_, rest, ok := strings.Cut(line, " - ")
		if !ok {
			break
		}
		// "5a 3c ...-...   ascii": hex bytes, with '-' in the middle.
		for _, f := range strings.Fields(strings.ReplaceAll(rest, "-", " ")) {
			if len(f) != 2 {
				break
			}
			x, err := hex.DecodeString(f)
			if err != nil {
				break
			}
			b = append(b, x...)
		}
		if len(b) >= 16 {
			return hex.EncodeToString(b[:16])
		}
	}
	return ""
}

// TestSharedKeys: with 2 s rotation periods the leader rotates a Gateway's keys
// Secret far beyond 12 times; both data-plane replicas follow it (a TLS session
// from one resumes on the other, sealed by a key from the Secret), and traffic
// through the Gateway loses nothing across the reloads.
func TestSharedKeys(t *testing.T) {
	const host = "keys.example"
	began := time.Now()
	f := features.New("shared keys").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			if _, err := exec.LookPath("openssl"); err != nil {
				t.Fatalf("openssl: %v", err)
			}
			s.withControllerArgs(ctx, t, keysFlags)
			ns := s.namespace(ctx, t, "e2e-keys")
			d, svc := echoApp(ns, "echo", 1)
			gw := newGateway(ns, "gw")
			gw.Spec.Listeners = append(gw.Spec.Listeners, httpsListener("cert"))
			s.create(ctx, t, d, svc, selfSigned(t, ns, "cert", host), gw, newRoute(ns, "route", "gw", host, rule("/", "echo")))
			s.waitDeployment(ctx, t, ns, "echo", 1, 2*time.Minute)
			g := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
			s.scaleDataPlane(ctx, t, ns, "gw", 2)
			sc := &scenario{ns: ns, gw: g, tg: target{addr: gatewayAddr(t, g, 80), host: host, path: "/keys"}}
			s.waitServes(ctx, t, sc.tg, trafficTimeout, "200 from echo", func(status int, e *echoResponse) bool {
				return status == http.StatusOK && e != nil
			})
			t.Logf("Gateway with 2 data-plane replicas serving after %s", time.Since(began).Round(time.Millisecond))
			return context.WithValue(ctx, scenarioKey{}, sc)
		}).
		Assess("rotations, cross-replica resumption, no failed request", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			pods, err := e2eutil.Pods(ctx, s.cs, sc.ns, dataPlaneSelector(sc.ns, "gw"))
			if err != nil || len(pods) != 2 {
				t.Fatalf("data-plane pods: %d, %v", len(pods), err)
			}
			ips := []string{pods[0].Status.PodIP, pods[1].Status.PodIP}
			before := s.proxyStatuses(ctx, t, sc.ns, "gw")
			l := s.startLoad(t, sc.tg, 4, 100, 2*time.Minute)
			start := time.Now()

			// Watch the Secret (polling; every version is kept).
			var versions []keysVersion
			seen := map[string]bool{}
			poll := func() {
				var sec corev1.Secret
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: dataPlaneName("gw") + "-keys"}, &sec); err != nil {
					return
				}
				if seen[sec.ResourceVersion] {
					return
				}
				seen[sec.ResourceVersion] = true
				st, err := keys.Decode(sec.Data, sec.Annotations)
				if err != nil {
					t.Errorf("keys Secret version %s unreadable: %v", sec.ResourceVersion, err)
					return
				}
				if len(versions) == 0 {
					owned := len(sec.OwnerReferences) == 1 && sec.OwnerReferences[0].Kind == "Gateway" && sec.OwnerReferences[0].UID == sc.gw.UID
					if !owned || sec.Labels["gateway.nghttpx.dev/gateway-name"] != "gw" {
						t.Errorf("keys Secret owners %+v labels %v: want the Gateway's, like its other objects", sec.OwnerReferences, sec.Labels)
					}
				}
				v := keysVersion{at: time.Since(start), rv: sec.ResourceVersion, st: st, ticketN: map[string]bool{}}
				for _, k := range st.Tickets.Keys {
					v.ticketN[hex.EncodeToString(k[:16])] = true
				}
				versions = append(versions, v)
			}

			dir := t.TempDir()
			var resumed, attempts int
			var sealedByOurKey int
			var names []string
			deadline := time.Now().Add(50 * time.Second)
			for rotations(versions) < 13 && time.Now().Before(deadline) {
				poll()
				// A session from one replica offered to the other, both ways in turn.
				from, to := ips[attempts%2], ips[(attempts+1)%2]
				ok, name := s.resumption(ctx, t, dir, host, from, to)
				attempts++
				if ok {
					resumed++
				} else {
					t.Errorf("attempt %d: a session from %s was not resumed on %s", attempts, from, to)
				}
				names = append(names, name)
				poll()
				for _, v := range versions[max(0, len(versions)-3):] {
					if v.ticketN[name] {
						sealedByOurKey++
						break
					}
				}
				time.Sleep(500 * time.Millisecond)
			}
			observed := time.Since(start)
			// Keep the load on for one more period after the last rotation we counted.
			time.Sleep(keysPeriod)
			res := l.stop()
			after := s.proxyStatuses(ctx, t, sc.ns, "gw")

			n := rotations(versions)
			t.Logf("keys Secret: %d versions, %d rotations observed in %s", len(versions), n, observed.Round(time.Millisecond))
			if n <= 12 {
				t.Errorf("only %d rotations in %s with a %s period; rotation must go on past 12 keys", n, observed.Round(time.Millisecond), keysPeriod)
			}
			checkVersions(t, versions)
			t.Logf("TLS 1.3 resumption across replicas: %d of %d; sealed by a Secret key: %d (ticket key names %v)", resumed, attempts, sealedByOurKey, names)
			if attempts < 5 || sealedByOurKey != attempts {
				t.Errorf("%d of %d tickets were sealed by a ticket key from the Secret; want all of at least 5", sealedByOurKey, attempts)
			}
			requireNoFailures(t, "HTTP load across key rotations", res, 1000)
			if d := counterDelta(t, "reloads", before, after, func(p proxyStatus) int64 { return *p.Reloads }); d < int64(n) {
				t.Errorf("%d nghttpx reloads over 2 replicas for %d rotations; each rotation must reload each replica", d, n)
			} else {
				t.Logf("nghttpx reloads over both replicas: %d", d)
			}
			if d := counterDelta(t, "restarts", before, after, proxyStatus.restarts); d != 0 {
				t.Errorf("nghttpx was restarted %d times during the rotations", d)
			}
			t.Logf("wall time so far %s", time.Since(began).Round(time.Millisecond))
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// rotations counts versions whose encrypting QUIC key differs from the one
// before (both rings rotate together with equal periods).
func rotations(vs []keysVersion) int {
	n := 0
	for i := 1; i < len(vs); i++ {
		if !bytes.Equal(vs[i].st.QUIC.Keys[0], vs[i-1].st.QUIC.Keys[0]) {
			n++
		}
	}
	return n
}

// checkVersions checks every observed version: bounded key counts, distinct
// QUIC ids, and that each new encrypting key was already announced before.
func checkVersions(t *testing.T, vs []keysVersion) {
	t.Helper()
	for i, v := range vs {
		if q, tk := len(v.st.QUIC.Keys), len(v.st.Tickets.Keys); q > keys.QUICKeep || tk > keys.TicketKeep {
			t.Errorf("version %d: %d QUIC and %d ticket keys", i, q, tk)
		}
		ids := map[int]bool{}
		for _, k := range v.st.QUIC.Keys {
			if ids[keys.QUICID(k)] {
				t.Errorf("version %d: QUIC id %d twice", i, keys.QUICID(k))
			}
			ids[keys.QUICID(k)] = true
		}
		if i == 0 {
			continue
		}
		p := vs[i-1]
		if bytes.Equal(v.st.QUIC.Keys[0], p.st.QUIC.Keys[0]) {
			continue
		}
		has := func(set [][]byte, k []byte) bool {
			return slices.ContainsFunc(set, func(x []byte) bool { return bytes.Equal(x, k) })
		}
		// Versions are polled, so one may be missed; judge only consecutive rotations:
		// the previous encrypting key is still there to decrypt.
		if has(v.st.QUIC.Keys, p.st.QUIC.Keys[1]) && !has(v.st.QUIC.Keys[1:], p.st.QUIC.Keys[0]) {
			t.Errorf("version %d: the previous encrypting QUIC key is no longer decryptable", i)
		}
		// One rotation since the last poll: what encrypts now was announced then.
		if has(v.st.QUIC.Keys[1:], p.st.QUIC.Keys[0]) &&
			(!has(p.st.QUIC.Keys[1:], v.st.QUIC.Keys[0]) || !p.ticketN[hex.EncodeToString(v.st.Tickets.Keys[0][:16])]) {
			t.Errorf("version %d (%s): the new encrypting keys were not announced in the version before", i, v.at.Round(time.Millisecond))
		}
	}
}
