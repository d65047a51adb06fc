package proxyagent

import (
	"context"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"golang.org/x/crypto/ocsp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/ocsptest"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/recheck"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// ocspSecret is a TLS Secret (leaf + CA) with a good OCSP response valid until
// nextUpdate.
func ocspSecret(t *testing.T, nextUpdate time.Time) corev1.Secret {
	t.Helper()
	p := ocsptest.New(t, "CA", "ocsp.example", big.NewInt(2), time.Hour)
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cert"},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:         p.ChainPEM,
			corev1.TLSPrivateKeyKey:   p.KeyPEM,
			translate.OCSPResponseKey: p.Response(t, ocsp.Good, nil, time.Now().Add(-time.Minute), nextUpdate),
		},
	}
}

// Each build sets the rebuild timer to the stapled response's nextUpdate, and
// clears it when nothing is stapled any more.
func TestSyncSchedulesOCSPRecheck(t *testing.T) {
	const https = `
  - name: https
    port: 443
    protocol: HTTPS
    tls: {certificateRefs: [{name: cert}]}`
	objs := strings.Replace(objects, "listeners: [{name: http, port: 80, protocol: HTTP}]",
		"listeners:\n  - {name: http, port: 80, protocol: HTTP}"+https, 1)
	in, err := load.DecodeYAML([]byte(strings.ReplaceAll(objs, "ENDPOINT", "10.244.0.10")))
	if err != nil {
		t.Fatal(err)
	}
	nextUpdate := time.Now().UTC().Truncate(time.Second).Add(time.Hour)
	in.Secrets = append(in.Secrets, ocspSecret(t, nextUpdate))

	dp := &fakeDP{}
	a, err := New(Options{
		Gateway:      types.NamespacedName{Namespace: "ns", Name: "gw"},
		StateDir:     t.TempDir(),
		Render:       render.Options{APIPort: 9999, Features: render.Features{OCSP: true}, OCSPFetchProgram: "/bin/true"},
		OCSP:         translate.OCSPOptions{Enabled: true},
		Features:     &features.Features{OCSP: true},
		NewDataPlane: func(string) (DataPlane, error) { return dp, nil },
		Log:          testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	var rebuilds atomic.Int32
	a.recheck = &recheck.Timer{Clock: clk, Fire: func() { rebuilds.Add(1) }}
	ctx := context.Background()
	if err := a.Sync(ctx, in); err != nil {
		t.Fatal(err)
	}
	if !hasSuffixKey(dp.last.Files, ".ocsp") {
		t.Fatalf("response not stapled; %d files", len(dp.last.Files))
	}
	if got := a.recheck.Pending(); !got.Equal(nextUpdate) {
		t.Fatalf("rebuild scheduled for %v, want nextUpdate %v", got, nextUpdate)
	}
	clk.SetTime(nextUpdate.Add(recheck.DefaultDelay))
	if n := rebuilds.Load(); n != 1 {
		t.Fatalf("%d rebuilds requested after nextUpdate, want 1", n)
	}
	// /status reports the features the controller reads.
	if st := status(t, a.Handler()); st.Features == nil || !st.Features.OCSP {
		t.Errorf("/status features %+v", st.Features)
	}

	// Without the response nothing expires: no timer.
	a.recheck.Set(nextUpdate.Add(time.Hour))
	delete(in.Secrets[len(in.Secrets)-1].Data, translate.OCSPResponseKey)
	if err := a.Sync(ctx, in); err != nil {
		t.Fatal(err)
	}
	if got := a.recheck.Pending(); !got.IsZero() {
		t.Errorf("rebuild still scheduled for %v with nothing stapled", got)
	}
}

func hasSuffixKey(m map[string][]byte, suffix string) bool {
	for k := range m {
		if strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}
