package translate

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Keys of the GatewayClass parameters ConfigMap. Every value is "true" or "false".
const (
	// ParamHTTP3 overrides the controller's --http3 for the class's Gateways.
	ParamHTTP3 = "http3"
	// ParamProxyProtocol makes every TCP listener of the class's Gateways require
	// a PROXY protocol (v1 or v2) header.
	ParamProxyProtocol = "proxyProtocol"
	// ParamQUICBPF grants the data plane the capabilities eBPF QUIC steering
	// needs (BPF, PERFMON) when HTTP/3 is on. Off by default: they
	// are outside the "restricted" and "baseline" Pod Security Standards.
	ParamQUICBPF = "quicBPF"
	// ParamQUICRequireToken makes the data plane validate client addresses
	// before any QUIC handshake work (nghttpx frontend-quic-require-token): a
	// client without a valid token gets a Retry. Off by default, since every
	// first-time client then pays a round trip; turn it on under attack. Tokens
	// one replica issues are valid on the others (shared QUIC keys).
	ParamQUICRequireToken = "quicRequireToken"
	// ParamWorkers is nghttpx's number of worker threads for the class's
	// Gateways, 1 to MaxWorkers; unset: the CPUs given to the data-plane pod.
	ParamWorkers = "workers"
)

// MaxWorkers bounds the workers parameter and annotation (what render accepts).
const MaxWorkers = 256

// AnnotationProxyProtocol on a Gateway ("true" or "false") overrides the class's
// proxyProtocol parameter for that Gateway.
const AnnotationProxyProtocol = "gateway.nghttpx.zlab.co.jp/proxy-protocol"

// AnnotationAccessLog on a Gateway sets its data plane's access log format:
// "json" (the default: one JSON object per request with its route), "nghttpx"
// (nghttpx's default text format) or "off" (no access log, no request metrics).
const AnnotationAccessLog = "gateway.nghttpx.zlab.co.jp/access-log"

// AnnotationWorkers on a Gateway (1 to MaxWorkers) overrides the class's workers
// parameter for that Gateway.
const AnnotationWorkers = "gateway.nghttpx.zlab.co.jp/workers"

// classParams are the validated parameters of a GatewayClass; nil fields are unset.
type classParams struct {
	http3, proxyProtocol, quicBPF, quicRequireToken *bool
	// workers is 0 when unset.
	workers int
}

// resolveParameters reads and validates the parametersRef of c. It returns the
// parameters and "" or, when they cannot be used, a message saying what to fix.
func (t *translator) resolveParameters(c *gatewayv1.GatewayClass) (*classParams, string) {
	ref := c.Spec.ParametersRef
	if ref == nil {
		return nil, ""
	}
	if t.opts.SkipParameters {
		return nil, ""
	}
	if ref.Group != "" || ref.Kind != "ConfigMap" {
		return nil, fmt.Sprintf("parametersRef must name a ConfigMap (group \"\", kind ConfigMap), not group %q kind %q", ref.Group, ref.Kind)
	}
	if ref.Namespace == nil || *ref.Namespace == "" {
		return nil, fmt.Sprintf("parametersRef to ConfigMap %q needs a namespace; set parametersRef.namespace", ref.Name)
	}
	key := nsName{string(*ref.Namespace), ref.Name}
	if ns := t.opts.ParametersNamespace; ns != "" && key.Namespace != ns {
		return nil, fmt.Sprintf("parameters ConfigMap %s must be in namespace %s (the controller's); move it there", key, ns)
	}
	cm := t.idx.configMaps[key]
	if cm == nil {
		return nil, fmt.Sprintf("parameters ConfigMap %s not found; create it or fix parametersRef", key)
	}
	return parseParameters(cm)
}

// parseParameters validates a parameters ConfigMap: known keys only, each
// "true" or "false".
func parseParameters(cm *corev1.ConfigMap) (*classParams, string) {
	p := &classParams{}
	fields := map[string]**bool{ParamHTTP3: &p.http3, ParamProxyProtocol: &p.proxyProtocol, ParamQUICBPF: &p.quicBPF,
		ParamQUICRequireToken: &p.quicRequireToken}
	var problems []string
	for _, k := range sortedKeys(cm.Data) {
		if k == ParamWorkers {
			n, ok := parseWorkers(cm.Data[k])
			if !ok {
				problems = append(problems, fmt.Sprintf("key %q: value %q is not a number from 1 to %d", k, cm.Data[k], MaxWorkers))
				continue
			}
			p.workers = n
			continue
		}
		dst, ok := fields[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown key %q", k))
			continue
		}
		b, ok := parseBool(cm.Data[k])
		if !ok {
			problems = append(problems, fmt.Sprintf("key %q: value %q is not \"true\" or \"false\"", k, cm.Data[k]))
			continue
		}
		*dst = &b
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		problems = append(problems, fmt.Sprintf("binaryData key %q is not supported", k))
	}
	if len(problems) > 0 {
		return nil, fmt.Sprintf("parameters ConfigMap %s/%s: %s; the known keys are %s, %s, %s, %s and %s",
			cm.Namespace, cm.Name, strings.Join(problems, ", "), ParamHTTP3, ParamProxyProtocol, ParamQUICBPF, ParamQUICRequireToken, ParamWorkers)
	}
	return p, ""
}

// parseWorkers accepts a decimal number of workers from 1 to MaxWorkers.
func parseWorkers(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxWorkers || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// gatewaySettings resolves the data-plane settings of a Gateway from its class's
// parameters and its annotations. It returns nil when neither sets anything, and
// a sentence about an unusable annotation, if any (the class setting applies then).
func gatewaySettings(g *gatewayv1.Gateway, p *classParams) (*model.Settings, string) {
	s := model.Settings{}
	set := false
	if p != nil {
		set = p.http3 != nil || p.proxyProtocol != nil || p.quicBPF != nil || p.quicRequireToken != nil || p.workers != 0
		s.HTTP3 = p.http3
		s.Workers = p.workers
		s.ProxyProtocol = p.proxyProtocol != nil && *p.proxyProtocol
		s.QUICBPF = p.quicBPF != nil && *p.quicBPF
		s.QUICRequireToken = p.quicRequireToken != nil && *p.quicRequireToken
	}
	problem := ""
	if v, ok := g.Annotations[AnnotationProxyProtocol]; ok {
		if b, valid := parseBool(v); valid {
			s.ProxyProtocol, set = b, true
		} else {
			problem = fmt.Sprintf("annotation %s: value %q is not \"true\" or \"false\", so the GatewayClass setting (proxyProtocol %t) applies; fix the annotation",
				AnnotationProxyProtocol, v, s.ProxyProtocol)
		}
	}
	if v, ok := g.Annotations[AnnotationAccessLog]; ok {
		switch v {
		case "json", "nghttpx", "off":
			s.AccessLog, set = v, true
		default:
			if problem != "" {
				problem += "; "
			}
			problem += fmt.Sprintf("annotation %s: value %q is not \"json\", \"nghttpx\" or \"off\", so the default access log applies; fix the annotation",
				AnnotationAccessLog, v)
		}
	}
	if v, ok := g.Annotations[AnnotationWorkers]; ok {
		if n, valid := parseWorkers(v); valid {
			s.Workers, set = n, true
		} else {
			class := "the pod's CPUs"
			if s.Workers != 0 {
				class = strconv.Itoa(s.Workers)
			}
			p := fmt.Sprintf("annotation %s: value %q is not a number from 1 to %d, so the GatewayClass setting (workers: %s) applies; fix the annotation",
				AnnotationWorkers, v, MaxWorkers, class)
			if problem != "" {
				problem += "; " + p
			} else {
				problem = p
			}
		}
	}
	if !set {
		return nil, problem
	}
	return &s, problem
}
