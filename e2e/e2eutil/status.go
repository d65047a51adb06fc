package e2eutil

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
)

// ProxyStatus reads a data-plane pod's /status on port through the API
// server's pod proxy, with the admin token of its Gateway's keys Secret (the
// pod's ServiceAccount name plus "-keys", see kube/provision KeysName).
func ProxyStatus(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, port string) ([]byte, error) {
	tok, err := AdminToken(ctx, cs, p)
	if err != nil {
		return nil, err
	}
	return cs.CoreV1().RESTClient().Get().Namespace(p.Namespace).Resource("pods").Name(p.Name+":"+port).
		SubResource("proxy").Suffix("status").SetHeader(keys.AdminTokenHeader, tok).DoRaw(ctx)
}

// AdminToken is the /status token of a data-plane pod's Gateway.
func AdminToken(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) (string, error) {
	name := p.Spec.ServiceAccountName + "-keys"
	s, err := cs.CoreV1().Secrets(p.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("keys Secret %s/%s for the admin token: %w", p.Namespace, name, err)
	}
	return string(s.Data[keys.DataAdminToken]), nil
}
