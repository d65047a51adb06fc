package proxyagent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// httpsInput is the test objects plus an HTTPS listener with a fresh certificate.
func httpsInput(t *testing.T) *load.Input {
	t.Helper()
	in := input(t, "10.0.0.5")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "a.example"}, DNSNames: []string{"a.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	in.Secrets = append(in.Secrets, corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cert"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		},
	})
	gw := &in.Gateways[0]
	gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{
		Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
		TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModeTerminate),
			CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "cert"}}},
	})
	return in
}

func keysSecret(t *testing.T, st keys.State) *corev1.Secret {
	t.Helper()
	data, ann := keys.Encode(st)
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw-nghttpx-keys", Annotations: ann}, Data: data}
}

// The keys Secret's material reaches nghttpx's files and configuration, a
// rotation changes them, and a broken or deleted Secret keeps the last keys.
func TestSharedKeysReachConfig(t *testing.T) {
	ctx := context.Background()
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(s).Build()
	dp := &fakeDP{}
	dir := t.TempDir()
	a, err := New(Options{
		Gateway:      types.NamespacedName{Namespace: "ns", Name: "gw"},
		StateDir:     dir,
		Render:       render.Options{APIPort: 9999},
		KeysSecret:   "gw-nghttpx-keys",
		NewDataPlane: func(string) (DataPlane, error) { return dp, nil },
		Log:          testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.reader = cl
	in := httpsInput(t)
	sync := func() {
		t.Helper()
		a.keys.refresh(ctx, a.reader)
		if err := a.Sync(ctx, in); err != nil {
			t.Fatal(err)
		}
	}

	// No Secret yet: nghttpx serves with its own keys.
	sync()
	if dp.starts != 1 || strings.Contains(string(dp.last.Main), "tls-ticket-key-file") || len(dp.last.Files) == 0 {
		t.Fatalf("without the Secret: starts %d, main:\n%s", dp.starts, dp.last.Main)
	}
	for name := range dp.last.Files {
		if strings.HasPrefix(name, keysDir) {
			t.Errorf("key file %s written without a Secret", name)
		}
	}
	if code, _ := get(t, a.Handler(), "/readyz"); code != 200 {
		t.Errorf("/readyz %d without the keys Secret; the proxy must serve anyway", code)
	}

	st, _, err := keys.Rotate(keys.State{}, time.Now(), keys.Periods{QUIC: time.Hour, Tickets: time.Hour}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec := keysSecret(t, st)
	if err := cl.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	sync()
	gwDir := filepath.Join(dir, "ns_gw")
	main := string(dp.last.Main)
	var ticketLines []string
	for _, l := range strings.Split(main, "\n") {
		if strings.HasPrefix(l, "tls-ticket-key-file=") {
			ticketLines = append(ticketLines, strings.TrimPrefix(l, "tls-ticket-key-file="))
		}
	}
	if len(ticketLines) != len(st.Tickets.Keys) {
		t.Fatalf("main configuration names %d ticket key files, want %d:\n%s", len(ticketLines), len(st.Tickets.Keys), main)
	}
	for i, p := range ticketLines {
		rel, err := filepath.Rel(gwDir, p)
		if err != nil || !bytes.Equal(dp.last.Files[rel], st.Tickets.Keys[i]) {
			t.Errorf("ticket key file %d (%s) does not hold ticket key %d", i, p, i)
		}
	}
	if !bytes.Equal(dp.last.Files[quicSecretName], keys.QUICSecretFile(st.QUIC.Keys)) {
		t.Errorf("QUIC secret file %q, want the Secret's", dp.last.Files[quicSecretName])
	}

	// A rotation changes the files; the first ticket file holds the new encrypting key.
	st2, _, _ := keys.Rotate(st, time.Now().Add(time.Hour), keys.Periods{QUIC: time.Hour, Tickets: time.Hour}, rand.Reader)
	data, ann := keys.Encode(st2)
	sec.Data, sec.Annotations = data, ann
	if err := cl.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	sync()
	if !bytes.Equal(dp.last.Files[ticketKeyName+"0"], st2.Tickets.Keys[0]) || !bytes.Equal(st2.Tickets.Keys[0], st.Tickets.Keys[1]) {
		t.Error("after a rotation the first ticket file does not hold the announced key")
	}

	// Broken, then deleted: the last good keys stay.
	sec.Data[keys.DataTLSTicketKeys] = []byte("short")
	if err := cl.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	sync()
	if !bytes.Equal(dp.last.Files[ticketKeyName+"0"], st2.Tickets.Keys[0]) {
		t.Error("a malformed Secret replaced the keys")
	}
	if err := cl.Delete(ctx, client.Object(sec)); err != nil {
		t.Fatal(err)
	}
	sync()
	if !bytes.Equal(dp.last.Files[quicSecretName], keys.QUICSecretFile(st2.QUIC.Keys)) {
		t.Error("a deleted Secret dropped the keys")
	}
}

// originalKM is a --nghttpx-secret Secret as the original controller writes it.
func originalKM(t *testing.T, tickets bool) *corev1.Secret {
	t.Helper()
	rnd := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	q0, q1 := rnd(68), rnd(68)
	q0[0], q1[0] = q0[0]&0x3f|1<<6, q1[0]&0x3f|2<<6
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "nghttpx-km", Annotations: map[string]string{
			keys.AnnotationOriginalQUICUpdated: "2026-12-07T06:00:00Z", keys.AnnotationOriginalTicketUpdated: "2026-12-07T06:00:00Z"}},
		Data: map[string][]byte{keys.DataOriginalQUIC: keys.OriginalQUICText([][]byte{q0, q1})},
	}
	if tickets {
		s.Data[keys.DataOriginalTicketKeys] = rnd(3 * keys.OriginalTicketKeyLen)
	}
	return s
}

// ticketFiles returns the ticket key files the main configuration names, in
// order, and the cipher line.
func ticketFiles(t *testing.T, cfg render.Config, gwDir string) ([][]byte, string) {
	t.Helper()
	var files [][]byte
	var cipher string
	for _, l := range strings.Split(string(cfg.Main), "\n") {
		if p, ok := strings.CutPrefix(l, "tls-ticket-key-file="); ok {
			rel, err := filepath.Rel(gwDir, p)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, cfg.Files[rel])
		}
		if c, ok := strings.CutPrefix(l, "tls-ticket-key-cipher="); ok {
			cipher = c
		}
	}
	return files, cipher
}

// With --nghttpx-secret the keys come from the original controller's Secret
// in its format; what it lacks comes from our keys Secret; the admin token is
// always ours.
func TestOriginalKeysReachConfig(t *testing.T) {
	ctx := context.Background()
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	st, _, err := keys.Rotate(keys.State{}, time.Now(), keys.Periods{QUIC: time.Hour, Tickets: time.Hour}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	own := keysSecret(t, st)
	tok, _ := keys.NewAdminToken(rand.Reader)
	own.Data[keys.DataAdminToken] = tok
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(own).Build()
	dp := &fakeDP{}
	dir := t.TempDir()
	a, err := New(Options{
		Gateway:       types.NamespacedName{Namespace: "ns", Name: "gw"},
		StateDir:      dir,
		Render:        render.Options{APIPort: 9999, HTTP3: true, Features: render.Features{QUIC: true}},
		KeysSecret:    "gw-nghttpx-keys",
		NghttpxSecret: types.NamespacedName{Namespace: "kube-system", Name: "nghttpx-km"},
		NewDataPlane:  func(string) (DataPlane, error) { return dp, nil },
		Log:           testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.reader = cl
	in := httpsInput(t)
	gwDir := filepath.Join(dir, "ns_gw")
	sync := func() {
		t.Helper()
		a.keys.refresh(ctx, a.reader)
		if err := a.Sync(ctx, in); err != nil {
			t.Fatal(err)
		}
	}

	// The original Secret does not exist yet: our own keys serve meanwhile.
	sync()
	if files, cipher := ticketFiles(t, dp.last, gwDir); len(files) != 2 || cipher != "aes-256-cbc" || !bytes.Equal(files[0], st.Tickets.Keys[0]) {
		t.Fatalf("without the original Secret: %d ticket files, cipher %q", len(files), cipher)
	}
	if !bytes.Equal(a.keys.adminToken(), tok) {
		t.Error("admin token not read from our keys Secret")
	}

	// The original ran without --share-tls-ticket-key: only QUIC keys there.
	orig := originalKM(t, false)
	if err := cl.Create(ctx, orig); err != nil {
		t.Fatal(err)
	}
	sync()
	if got := dp.last.Files[quicSecretName]; !bytes.Equal(got, orig.Data[keys.DataOriginalQUIC]) {
		t.Fatalf("QUIC secret file %q, want the original Secret's value byte for byte", got)
	}
	if !strings.Contains(string(dp.last.Main), "frontend-quic-secret-file="+filepath.Join(gwDir, quicSecretName)) {
		t.Errorf("no frontend-quic-secret-file line:\n%s", dp.last.Main)
	}
	if files, cipher := ticketFiles(t, dp.last, gwDir); len(files) != 2 || cipher != "aes-256-cbc" {
		t.Errorf("ticket keys must stay ours while the original Secret has none: %d files, cipher %q", len(files), cipher)
	}

	// Ticket keys appear there (our leader or an original one with
	// --share-tls-ticket-key added them): 48-byte keys in Secret order.
	orig = originalKM(t, true)
	var cur corev1.Secret
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "nghttpx-km"}, &cur); err != nil {
		t.Fatal(err)
	}
	cur.Data = orig.Data
	if err := cl.Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	sync()
	files, cipher := ticketFiles(t, dp.last, gwDir)
	raw := orig.Data[keys.DataOriginalTicketKeys]
	if len(files) != 3 || cipher != keys.OriginalTicketCipher {
		t.Fatalf("%d ticket files with cipher %q, want 3 with %s", len(files), cipher, keys.OriginalTicketCipher)
	}
	for i, f := range files {
		if !bytes.Equal(f, raw[i*48:(i+1)*48]) {
			t.Errorf("ticket file %d is not the Secret's key %d", i, i)
		}
	}
	if !bytes.Equal(dp.last.Files[quicSecretName], orig.Data[keys.DataOriginalQUIC]) {
		t.Error("QUIC secret file is not the original Secret's")
	}

	// Malformed later: the last good original keys stay (not ours).
	cur.Data[keys.DataOriginalTicketKeys] = raw[:47]
	if err := cl.Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	sync()
	if files, cipher := ticketFiles(t, dp.last, gwDir); len(files) != 3 || cipher != keys.OriginalTicketCipher || !bytes.Equal(files[0], raw[:48]) {
		t.Errorf("a malformed original Secret replaced its keys: %d files, cipher %q", len(files), cipher)
	}
}
