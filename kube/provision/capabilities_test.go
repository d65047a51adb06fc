package provision

import (
	"context"
	"fmt"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// dataPlaneSpec is what a Gateway's settings change in its provisioned objects.
type dataPlaneSpec struct {
	args     []string
	caps     []corev1.Capability
	udpPorts int // UDP ports of the Service and of the container
	// escalate: allowPrivilegeEscalation (file capabilities work only then).
	escalate bool
	// nghttpx is the container's NGHTTPX_BIN ("" when unset: the image's).
	nghttpx string
}

func specOf(t *testing.T, dep *appsv1.Deployment, svc *corev1.Service) dataPlaneSpec {
	t.Helper()
	ctr := dep.Spec.Template.Spec.Containers[0]
	sc := ctr.SecurityContext
	if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Fatalf("container capabilities %+v: must drop ALL", sc)
	}
	if sc.AllowPrivilegeEscalation == nil || sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container privileges not pinned down: %+v", sc)
	}
	if psc := dep.Spec.Template.Spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod not forced to run as non-root: %+v", psc)
	}
	s := dataPlaneSpec{args: ctr.Args, caps: sc.Capabilities.Add, escalate: sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation}
	for _, e := range ctr.Env {
		if e.Name == "NGHTTPX_BIN" {
			s.nghttpx = e.Value
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.Protocol == corev1.ProtocolUDP {
			s.udpPorts++
		}
	}
	cudp := 0
	for _, p := range ctr.Ports {
		if p.Protocol == corev1.ProtocolUDP {
			cudp++
		}
	}
	if cudp != s.udpPorts {
		t.Errorf("container has %d UDP ports, Service %d", cudp, s.udpPorts)
	}
	return s
}

func TestSettingsShapeDataPlane(t *testing.T) {
	yes, no := true, false
	bpfCaps := []corev1.Capability{CapNetBindService, CapBPF, CapPerfmon}
	cases := []struct {
		name     string
		http3    bool // the controller's --http3
		settings *model.Settings
		wantArgs []string // must be present
		denyArgs []string // must be absent
		wantCaps []corev1.Capability
		wantUDP  int
	}{
		{name: "no settings", http3: true,
			wantArgs: []string{"--http3=true"}, denyArgs: []string{"--proxy-proto", "--quic-require-token"},
			wantCaps: []corev1.Capability{CapNetBindService}, wantUDP: 1},
		{name: "QUIC address validation", http3: true, settings: &model.Settings{QUICRequireToken: true},
			wantArgs: []string{"--http3=true", "--quic-require-token"},
			wantCaps: []corev1.Capability{CapNetBindService}, wantUDP: 1},
		{name: "QUIC address validation without HTTP/3", http3: true, settings: &model.Settings{HTTP3: &no, QUICRequireToken: true},
			wantArgs: []string{"--http3=false"}, denyArgs: []string{"--quic-require-token"},
			wantCaps: []corev1.Capability{CapNetBindService}, wantUDP: 0},
		{name: "PROXY protocol", http3: true, settings: &model.Settings{ProxyProtocol: true},
			wantArgs: []string{"--http3=true", "--proxy-proto"},
			wantCaps: []corev1.Capability{CapNetBindService}, wantUDP: 1},
		{name: "class turns HTTP/3 off", http3: true, settings: &model.Settings{HTTP3: &no, QUICBPF: true},
			wantArgs: []string{"--http3=false"}, denyArgs: []string{"--http3=true", "--proxy-proto"},
			// quicBPF without HTTP/3 grants nothing.
			wantCaps: []corev1.Capability{CapNetBindService}, wantUDP: 0},
		{name: "class turns HTTP/3 on with eBPF", http3: false, settings: &model.Settings{HTTP3: &yes, QUICBPF: true},
			wantArgs: []string{"--http3=true"}, denyArgs: []string{"--http3=false"},
			wantCaps: bpfCaps, wantUDP: 1},
		{name: "controller HTTP/3 with eBPF", http3: true, settings: &model.Settings{QUICBPF: true},
			wantArgs: []string{"--http3=true"},
			wantCaps: bpfCaps, wantUDP: 1},
		{name: "controller HTTP/3 off, eBPF asked", http3: false, settings: &model.Settings{QUICBPF: true},
			wantArgs: []string{"--http3=false"},
			wantCaps: []corev1.Capability{CapNetBindService}, wantUDP: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, c := newProvisioner(t)
			p.Options.HTTP3 = tc.http3
			var asked []string
			p.Options.Settings = func(ns, name string) *model.Settings {
				asked = append(asked, ns+"/"+name)
				return tc.settings
			}
			if err := p.Ensure(context.Background(), testGateway()); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(asked, "apps/web") {
				t.Errorf("settings asked for %v, not apps/web", asked)
			}
			_, svc, dep := getAll(t, c)
			got := specOf(t, dep, svc)
			for _, a := range tc.wantArgs {
				if !slices.Contains(got.args, a) {
					t.Errorf("args %v lack %s", got.args, a)
				}
			}
			for _, a := range tc.denyArgs {
				if slices.Contains(got.args, a) {
					t.Errorf("args %v contain %s", got.args, a)
				}
			}
			if !slices.Equal(got.caps, tc.wantCaps) {
				t.Errorf("added capabilities %v, want %v", got.caps, tc.wantCaps)
			}
			// The eBPF capabilities come with the binary that gains them (its file
			// capabilities) and the privilege escalation that lets it; never without.
			wantBPF := slices.Equal(tc.wantCaps, bpfCaps)
			if got.escalate != wantBPF {
				t.Errorf("allowPrivilegeEscalation %v, want %v", got.escalate, wantBPF)
			}
			if wantBin := map[bool]string{true: "/usr/local/bin/nghttpx-bpf"}[wantBPF]; got.nghttpx != wantBin {
				t.Errorf("NGHTTPX_BIN %q, want %q", got.nghttpx, wantBin)
			}
			if got.udpPorts != tc.wantUDP {
				t.Errorf("%d UDP ports, want %d", got.udpPorts, tc.wantUDP)
			}
		})
	}
}

// A settings change must reach the running Deployment (it rolls), and going back
// must too.
func TestSettingsChangeUpdatesDeployment(t *testing.T) {
	p, c := newProvisioner(t)
	var cur *model.Settings
	p.Options.Settings = func(string, string) *model.Settings { return cur }
	ctx := context.Background()
	gw := testGateway()
	for i, s := range []*model.Settings{nil, {ProxyProtocol: true}, {ProxyProtocol: true, QUICBPF: true}, nil} {
		cur = s
		if err := p.Ensure(ctx, gw); err != nil {
			t.Fatal(err)
		}
		_, svc, dep := getAll(t, c)
		got := specOf(t, dep, svc)
		pp := slices.Contains(got.args, "--proxy-proto")
		bpf := slices.Contains(got.caps, CapBPF)
		want := s != nil && s.ProxyProtocol
		wantBPF := s != nil && s.QUICBPF
		if pp != want || bpf != wantBPF {
			t.Errorf("step %d (%s): --proxy-proto %v (want %v), BPF %v (want %v)", i, fmt.Sprint(s), pp, want, bpf, wantBPF)
		}
		if got.escalate != wantBPF || (got.nghttpx != "") != wantBPF {
			t.Errorf("step %d (%s): allowPrivilegeEscalation %v, NGHTTPX_BIN %q; want eBPF %v", i, fmt.Sprint(s), got.escalate, got.nghttpx, wantBPF)
		}
	}
}
