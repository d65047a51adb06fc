//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// metricsPort is the controller's --metrics-bind-address port in config/controller.
const metricsPort = "8080"

// leader finds the controller's leader-election Lease and the pod holding it: by the
// holder identity (controller-runtime uses "<hostname>_<uuid>", and a pod's hostname
// is its name) or, where hostnames are not per pod, by the leader metric that only
// the leading replica reports.
func (s *suite) leader(ctx context.Context, t *testing.T) (*coordinationv1.Lease, string) {
	t.Helper()
	var lease *coordinationv1.Lease
	var pod string
	var seen []string
	err := e2eutil.Poll(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		seen = seen[:0]
		leases, err := s.cs.CoordinationV1().Leases(systemNS).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		pods, err := e2eutil.Pods(ctx, s.cs, systemNS, "app.kubernetes.io/name="+controllerApp)
		if err != nil {
			return false, nil
		}
		for i := range leases.Items {
			le := &leases.Items[i]
			if le.Spec.HolderIdentity == nil || *le.Spec.HolderIdentity == "" {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s held by %q", le.Name, *le.Spec.HolderIdentity))
			for j := range pods {
				p := &pods[j]
				if !e2eutil.PodReady(p) {
					continue
				}
				if strings.HasPrefix(*le.Spec.HolderIdentity, p.Name+"_") {
					lease, pod = le, p.Name
					return true, nil
				}
				b, err := s.cs.CoreV1().Pods(systemNS).ProxyGet("http", p.Name, metricsPort, "/metrics", nil).DoRaw(ctx)
				if err == nil && strings.Contains(string(b), fmt.Sprintf("leader_election_master_status{name=%q} 1", le.Name)) {
					lease, pod = le, p.Name
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no controller pod holds a Lease in %s (leases: %v)", systemNS, seen)
	}
	return lease, pod
}
