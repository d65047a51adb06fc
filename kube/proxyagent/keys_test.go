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
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway"
)

// httpsInput is the test objects plus an HTTPS listener with a fresh certificate.
func httpsInput(t *testing.T) *gateway.Input {
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
