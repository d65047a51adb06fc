package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

var nghttpxKM = types.NamespacedName{Namespace: "kube-system", Name: "nghttpx-km"}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// originalSecret is a --nghttpx-secret Secret as the original controller
// leaves it after a few ticket rotations and one QUIC rotation: three 48-byte
// ticket keys, three QUIC lines (ids 1, 0, 2: encrypting, previous,
// announced) joined by "\n", RFC 3339 timestamps, plus things of its own.
func originalSecret(t *testing.T, ticketsAt, quicAt time.Time) *corev1.Secret {
	var lines []string
	for _, id := range []byte{1, 0, 2} {
		b := random(t, 68)
		b[0] = b[0]&0x3f | id<<6
		lines = append(lines, hex.EncodeToString(b))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: nghttpxKM.Namespace, Name: nghttpxKM.Name,
			Labels: map[string]string{"team": "edge"},
			Annotations: map[string]string{
				keys.AnnotationOriginalTicketUpdated: ticketsAt.UTC().Format(time.RFC3339),
				keys.AnnotationOriginalQUICUpdated:   quicAt.UTC().Format(time.RFC3339),
				"note":                               "kept",
			}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			keys.DataOriginalTicketKeys: random(t, 3*48),
			keys.DataOriginalQUIC:       []byte(strings.Join(lines, "\n")),
			"other":                     []byte("kept"),
		},
	}
}

func getOriginal(t *testing.T, cl client.Client) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	if err := cl.Get(context.Background(), nghttpxKM, &s); err != nil {
		t.Fatalf("--nghttpx-secret Secret: %v", err)
	}
	return &s
}

// The leader extends an existing original-format Secret in place, in the
// original's scheme and on its periods (tickets 1h, QUIC 4h), and leaves the
// rest of the Secret alone.
func TestKeyRotatorExtendsOriginalSecret(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	orig := originalSecret(t, t0.Add(-30*time.Minute), t0.Add(-3*time.Hour))
	r, cl, _ := keysFixture(t, orig)
	r.periods = keys.Periods{Tickets: time.Hour, QUIC: 4 * time.Hour}
	r.original = nghttpxKM
	fc := clocktesting.NewFakeClock(t0)
	r.clock = fc

	next, err := r.sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := getOriginal(t, cl)
	if !bytes.Equal(s.Data[keys.DataOriginalTicketKeys], orig.Data[keys.DataOriginalTicketKeys]) ||
		!bytes.Equal(s.Data[keys.DataOriginalQUIC], orig.Data[keys.DataOriginalQUIC]) {
		t.Fatal("rotated before a period ended")
	}
	if want := t0.Add(30 * time.Minute); !next.Equal(want) {
		t.Errorf("next wake-up %s, want %s (the original Secret's ticket period)", next, want)
	}

	// Tickets are due: [announced, old encrypting, old previous, fresh].
	fc.SetTime(t0.Add(30*time.Minute + 5*time.Second))
	if _, err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	s = getOriginal(t, cl)
	old := orig.Data[keys.DataOriginalTicketKeys]
	got := s.Data[keys.DataOriginalTicketKeys]
	if len(got) != 4*48 || !bytes.Equal(got[:48], old[96:]) || !bytes.Equal(got[48:144], old[:96]) || bytes.Contains(old, got[144:]) {
		t.Fatalf("ticket keys after a rotation are not [announced, encrypting, previous, fresh] of 48 bytes (%d bytes)", len(got))
	}
	if s.Annotations[keys.AnnotationOriginalTicketUpdated] != "2026-12-07T06:30:05Z" {
		t.Errorf("ticket timestamp %q", s.Annotations[keys.AnnotationOriginalTicketUpdated])
	}
	if !bytes.Equal(s.Data[keys.DataOriginalQUIC], orig.Data[keys.DataOriginalQUIC]) {
		t.Error("QUIC keys rotated before their period")
	}
	if string(s.Data["other"]) != "kept" || s.Annotations["note"] != "kept" || s.Labels["team"] != "edge" || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("the rest of the Secret changed: data %v, annotations %v, labels %v", s.Data["other"], s.Annotations, s.Labels)
	}

	// QUIC is due at 07:00: 4 lines, the announced (id 2) first, fresh id 3 last.
	fc.SetTime(t0.Add(time.Hour))
	if _, err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	s = getOriginal(t, cl)
	lines := strings.Split(string(s.Data[keys.DataOriginalQUIC]), "\n")
	oldLines := strings.Split(string(orig.Data[keys.DataOriginalQUIC]), "\n")
	fresh, _ := hex.DecodeString(lines[len(lines)-1])
	if len(lines) != 4 || lines[0] != oldLines[2] || lines[1] != oldLines[0] || lines[2] != oldLines[1] || len(fresh) != 68 || keys.QUICID(fresh) != 3 {
		t.Fatalf("QUIC lines after a rotation:\n%s\nfrom\n%s", s.Data[keys.DataOriginalQUIC], orig.Data[keys.DataOriginalQUIC])
	}
	if strings.HasSuffix(string(s.Data[keys.DataOriginalQUIC]), "\n") {
		t.Error("QUIC keying materials end with a newline; the original joins lines without one")
	}
}

// Missing: the leader creates it as the original would (two keys of each
// kind), Opaque, without any label or owner of ours (the original's pods and
// leader use it too, and it must outlive our Gateways).
func TestKeyRotatorCreatesOriginalSecret(t *testing.T) {
	r, cl, _ := keysFixture(t)
	r.original = nghttpxKM
	r.clock = clocktesting.NewFakeClock(time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC))
	if _, err := r.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := getOriginal(t, cl)
	o := keys.DecodeOriginal(s.Data, s.Annotations)
	if len(o.Problems) > 0 || len(o.Tickets) != 2 || len(o.QUIC) != 2 || s.Type != corev1.SecretTypeOpaque {
		t.Fatalf("created: %d ticket keys, %d QUIC keys, type %s, problems %v", len(o.Tickets), len(o.QUIC), s.Type, o.Problems)
	}
	if keys.QUICID(o.QUIC[0]) != 0 || keys.QUICID(o.QUIC[1]) != 1 {
		t.Errorf("QUIC ids %d, %d; the original starts with 0, 1", keys.QUICID(o.QUIC[0]), keys.QUICID(o.QUIC[1]))
	}
	if len(s.Labels) != 0 || len(s.OwnerReferences) != 0 {
		t.Errorf("labels %v, owners %v on the --nghttpx-secret Secret", s.Labels, s.OwnerReferences)
	}
	// Our own keys Secret is still kept: it carries the proxies' admin token.
	getKeys(t, cl)
}

// A rotation the original leader made meanwhile (our cache still shows the
// older Secret) conflicts instead of rotating a second time.
func TestKeyRotatorOriginalStaleReadConflicts(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	orig := originalSecret(t, t0.Add(-2*time.Hour), t0)
	r, cl, _ := keysFixture(t, orig)
	r.periods = keys.Periods{Tickets: time.Hour, QUIC: 4 * time.Hour}
	r.original = nghttpxKM
	r.clock = clocktesting.NewFakeClock(t0)
	stale := getOriginal(t, cl)
	// The original leader rotates first.
	theirs := stale.DeepCopy()
	theirs.Data[keys.DataOriginalTicketKeys] = append(slices.Clone(theirs.Data[keys.DataOriginalTicketKeys][96:]), random(t, 3*48)...)
	theirs.Annotations[keys.AnnotationOriginalTicketUpdated] = t0.Format(time.RFC3339)
	if err := cl.Update(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	r.reader = originalStaleReader{Client: cl, s: stale}
	if _, err := r.sync(ctx); !apierrors.IsConflict(err) {
		t.Fatalf("sync on a stale read of the --nghttpx-secret Secret: %v, want a conflict", err)
	}
	// With a fresh read the rotation is seen and nothing is due.
	r.reader = cl
	if _, err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := getOriginal(t, cl); !bytes.Equal(s.Data[keys.DataOriginalTicketKeys], theirs.Data[keys.DataOriginalTicketKeys]) {
		t.Error("rotated again right after the original leader rotated")
	}
}

// originalStaleReader serves a stale copy of the --nghttpx-secret Secret and
// everything else from the client.
type originalStaleReader struct {
	client.Client
	s *corev1.Secret
}

func (r originalStaleReader) Get(ctx context.Context, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	if k == nghttpxKM {
		r.s.DeepCopyInto(o.(*corev1.Secret))
		return nil
	}
	return r.Client.Get(ctx, k, o, opts...)
}

// An Ingress data plane's grant adds exactly the --nghttpx-secret name in its
// namespace; the Ingress data planes get it through their arguments.
func TestOriginalKeysGrantAndArgs(t *testing.T) {
	grants := map[string]provision.Grant{"system": {Secrets: []string{"tls"}}}
	grantSecret(grants, types.NamespacedName{Namespace: "system", Name: provision.KeysName("nghttpx")})
	grantSecret(grants, nghttpxKM)
	grantSecret(grants, nghttpxKM)
	if got := grants["system"].Secrets; !slices.Equal(got, []string{"nghttpx-nghttpx-keys", "tls"}) {
		t.Errorf("system Secrets %v", got)
	}
	if got := grants["kube-system"]; !slices.Equal(got.Secrets, []string{"nghttpx-km"}) || len(got.ConfigMaps) != 0 {
		t.Errorf("kube-system grant %+v, want the one Secret", got)
	}
	o := Options{Namespace: "kube-system", NghttpxSecret: types.NamespacedName{Name: "nghttpx-km"}}.withDefaults()
	if k := o.originalKeys(); k.Name != "" {
		t.Errorf("without the Ingress front-end the original Secret is kept: %v", k)
	}
	o.Ingress = &IngressOptions{}
	if k := o.originalKeys(); k != nghttpxKM {
		t.Errorf("original keys %v, want %v (namespace defaults to the controller's)", k, nghttpxKM)
	}
	o.NoSharedKeys = true
	if k := o.originalKeys(); k.Name != "" {
		t.Errorf("with NoSharedKeys: %v", k)
	}
}
