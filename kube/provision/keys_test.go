package provision

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestKeysSecretMeta(t *testing.T) {
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw", UID: "u1"},
		Spec: gatewayv1.GatewaySpec{Infrastructure: &gatewayv1.GatewayInfrastructure{
			Labels:      map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "a"},
			Annotations: map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{"note": "x"},
		}},
	}
	m := KeysSecretMeta(gw, Options{})
	if m.Namespace != "ns" || m.Name != "gw-nghttpx-keys" || m.Name != KeysName("gw") {
		t.Errorf("name %s/%s", m.Namespace, m.Name)
	}
	if m.Labels[LabelKeys] != "true" || m.Labels[LabelManagedBy] != ManagedBy || m.Labels[LabelGatewayName] != "gw" || m.Labels["team"] != "a" || m.Annotations["note"] != "x" {
		t.Errorf("labels %v annotations %v", m.Labels, m.Annotations)
	}
	if len(m.OwnerReferences) != 1 || m.OwnerReferences[0].UID != "u1" || !*m.OwnerReferences[0].Controller {
		t.Errorf("owner references %+v", m.OwnerReferences)
	}
	if o, ok := OwnerGateway(&corev1.Secret{ObjectMeta: m}); !ok || o.Name != "gw" {
		t.Errorf("OwnerGateway %v %v", o, ok)
	}

	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx", UID: "c1"}}
	im := KeysSecretMeta(gw, Options{}.ForIngress(class))
	if len(im.OwnerReferences) != 1 || im.OwnerReferences[0].Kind != "IngressClass" || *im.OwnerReferences[0].BlockOwnerDeletion {
		t.Errorf("synthetic Gateway's keys owners %+v, want its IngressClass, not blocking", im.OwnerReferences)
	}
	if o, ok := OwnerGateway(&corev1.Secret{ObjectMeta: im}); !ok || o.Name != "gw" {
		t.Errorf("OwnerGateway of a synthetic Gateway's keys: %v %v", o, ok)
	}

	long := strings.Repeat("g", 80)
	if n := KeysName(long); len(n) > 253 || !strings.HasSuffix(n, "-nghttpx-keys") {
		t.Errorf("KeysName of a long Gateway name: %q", n)
	}
}
