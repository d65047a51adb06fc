package provision

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// LabelKeys marks a Gateway's keys Secret (KeysName), which the controller's
// key rotator writes; the provisioner itself never touches it.
const LabelKeys = "gateway.nghttpx.dev/keys"

// KeysSecretMeta is the metadata of gw's keys Secret: named KeysName in the
// Gateway's namespace, labelled, annotated and owned like the Gateway's other
// objects (pass ForIngress options for a synthetic Gateway of the Ingress shim),
// plus LabelKeys.
func KeysSecretMeta(gw *gatewayv1.Gateway, opts Options) metav1.ObjectMeta {
	opts = opts.withDefaults()
	labels, annotations := metadata(gw, opts)
	labels[LabelKeys] = "true"
	m := metav1.ObjectMeta{Namespace: gw.Namespace, Name: KeysName(gw.Name), Labels: labels}
	if len(annotations) > 0 {
		m.Annotations = annotations
	}
	for _, o := range owners(gw, opts) {
		m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{
			APIVersion: *o.APIVersion, Kind: *o.Kind, Name: *o.Name, UID: *o.UID,
			Controller: o.Controller, BlockOwnerDeletion: o.BlockOwnerDeletion,
		})
	}
	return m
}
