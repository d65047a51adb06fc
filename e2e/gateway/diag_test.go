//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// diagnose saves what explains a failure (Gateway API objects with status, pods,
// events, controller and data-plane logs) under the artifacts directory, because the
// local cluster's state disappears with it; the log tails also go to the test log.
func (s *suite) diagnose(t *testing.T, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(s.artifacts, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("diagnostics: %v", err)
		return
	}
	save := func(name string, v any) {
		b, err := yaml.Marshal(v)
		if err != nil {
			b = []byte(err.Error())
		}
		_ = os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	var gws gatewayv1.GatewayList
	if err := s.cl.List(ctx, &gws, client.InNamespace(ns)); err == nil {
		save("gateways.yaml", gws.Items)
		for _, g := range gws.Items {
			t.Logf("Gateway %s: conditions %s; addresses %v; listeners %s", g.Name, condSummary(g.Status.Conditions), addrSummary(g.Status.Addresses), listenerSummary(g.Status.Listeners))
		}
	}
	var routes gatewayv1.HTTPRouteList
	if err := s.cl.List(ctx, &routes, client.InNamespace(ns)); err == nil {
		save("httproutes.yaml", routes.Items)
	}
	var gcs gatewayv1.GatewayClassList
	if err := s.cl.List(ctx, &gcs); err == nil {
		save("gatewayclasses.yaml", gcs.Items)
	}
	for _, n := range []string{ns, systemNS} {
		if ev, err := s.cs.CoreV1().Events(n).List(ctx, metav1.ListOptions{}); err == nil {
			var lines []string
			for _, e := range ev.Items {
				lines = append(lines, fmt.Sprintf("%s %s %s/%s %s: %s", e.LastTimestamp.Format(time.RFC3339), e.Type,
					e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message))
			}
			_ = os.WriteFile(filepath.Join(dir, "events-"+n+".txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		}
		pods, err := s.cs.CoreV1().Pods(n).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		save("pods-"+n+".yaml", pods.Items)
		for i := range pods.Items {
			p := &pods.Items[i]
			if n == ns && p.Labels["gateway.nghttpx.dev/gateway-name"] == "" {
				continue // echo pods say little
			}
			for _, c := range p.Spec.Containers {
				s.saveLog(ctx, t, dir, p, c.Name)
			}
		}
	}
	t.Logf("diagnostics saved in %s", dir)
}

func (s *suite) saveLog(ctx context.Context, t *testing.T, dir string, p *corev1.Pod, container string) {
	b, err := s.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		t.Logf("logs of %s/%s: %v", p.Name, container, err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, "log-"+p.Namespace+"-"+p.Name+"-"+container+".txt"), b, 0o644)
	t.Logf("last lines of %s/%s (%s):\n%s", p.Namespace, p.Name, container, tail(string(b), 25))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// dumpControllerLogs prints the controller pods' logs when the suite cannot start.
func (s *suite) dumpControllerLogs(ctx context.Context, log logr.Logger) {
	pods, err := s.pods(ctx, systemNS, "app.kubernetes.io/name="+controllerApp)
	if err != nil {
		log.Error(err, "listing controller pods")
		return
	}
	for _, p := range pods {
		b, err := s.cs.CoreV1().Pods(systemNS).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr.To[int64](40)}).DoRaw(ctx)
		log.Info("controller pod", "pod", p.Name, "phase", p.Status.Phase, "containers", p.Status.ContainerStatuses, "logErr", err)
		fmt.Fprintf(os.Stderr, "%s\n", tail(string(b), 40))
	}
}
