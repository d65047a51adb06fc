package ingressshim

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

func portKey(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

// markBackendUsed marks the backend-config entry of b used without resolving b.
func (t *translator) markBackendUsed(is *ingressState, b networkingv1.IngressBackend) {
	if b.Service != nil {
		is.ann.backendConfigFor(b.Service.Name, portKey(b.Service.Port))
	}
}

// resolveBackend turns an Ingress backend into a backendEntry. A Service or port
// that does not exist is reported and still yields an entry: the path keeps
// answering (500) rather than falling through to a less specific route.
func (t *translator) resolveBackend(is *ingressState, b networkingv1.IngressBackend, where string) *backendEntry {
	if b.Service == nil {
		is.warn(ReasonUnsupportedBackend, "%s: only Service backends are supported, not resource backends; the path answers 500", where)
		return nil
	}
	isb := b.Service
	pk := portKey(isb.Port)
	bc := is.ann.backendConfigFor(isb.Name, pk)
	be := &backendEntry{service: isb.Name, portKey: pk, weight: bc.weight}
	if bc.proto != nil {
		be.opts.Protocol = model.BackendHTTP1
		if *bc.proto == "h2" {
			be.opts.Protocol = model.BackendH2C
		}
	}
	be.opts.TLS = deref(bc.tls, false)
	if be.opts.TLS {
		// SNI means nothing without TLS.
		be.opts.SNI = deref(bc.sni, "")
	}
	be.opts.DNS = deref(bc.dns, false)

	k := nsName{is.ing.Namespace, isb.Name}
	svc := t.services[k]
	if svc == nil {
		is.warn(ReasonBackendNotFound, "%s: Service %s does not exist; the path answers 500 until it does", where, k)
		if isb.Port.Name == "" {
			be.port = new(isb.Port.Number)
		}
		return be
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		is.warn(ReasonUnsupportedBackend, "%s: Service %s is of type ExternalName, which is not supported; the path answers 500", where, k)
	}
	for _, sp := range svc.Spec.Ports {
		if (isb.Port.Name != "" && sp.Name == isb.Port.Name) || (isb.Port.Name == "" && sp.Port == isb.Port.Number) {
			be.port = new(sp.Port)
			return be
		}
	}
	if isb.Port.Name != "" {
		is.warn(ReasonBackendNotFound, "%s: Service %s has no port named %q; the path answers 500 until it has", where, k, isb.Port.Name)
	} else {
		is.warn(ReasonBackendNotFound, "%s: Service %s has no port %d; the path answers 500 until it has", where, k, isb.Port.Number)
		be.port = new(isb.Port.Number)
	}
	return be
}

func backendNotes(be *backendEntry) []string {
	var notes []string
	note := func(format string, args ...any) {
		notes = append(notes, fmt.Sprintf("backend-config for Service %s port %s: ", be.service, be.portKey)+fmt.Sprintf(format, args...))
	}
	if be.opts.Protocol == model.BackendH2C {
		if be.opts.TLS {
			note("proto h2 over TLS has no portable equivalent (appProtocol kubernetes.io/h2 with a BackendTLSPolicy comes closest)")
		} else {
			note("proto h2 has no portable equivalent here; set appProtocol: kubernetes.io/h2c on the Service port instead")
		}
	}
	if be.opts.TLS {
		note("tls has no portable equivalent (use a BackendTLSPolicy)")
	}
	if be.opts.SNI != "" {
		note("sni has no portable equivalent (BackendTLSPolicy hostname)")
	}
	if be.opts.DNS {
		note("dns has no portable equivalent")
	}
	return notes
}
