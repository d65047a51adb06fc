package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels every provisioned object carries; the first two select the data-plane pods.
const (
	LabelGatewayName = "gateway.nghttpx.dev/gateway-name"
	// LabelStandardGatewayName is the Gateway API's own label for a Gateway's
	// generated objects (GEP-1762); not part of the selector.
	LabelStandardGatewayName = "gateway.networking.k8s.io/gateway-name"
	LabelGatewayNamespace    = "gateway.nghttpx.dev/gateway-namespace"
	LabelManagedBy           = "app.kubernetes.io/managed-by"
	ManagedBy                = "nghttpx-gateway"
	// FieldOwner is our server-side apply field manager.
	FieldOwner = "nghttpx-gateway"
	nameSuffix = "-nghttpx"
	keysSuffix = "-keys"
)

// Name is the name of the objects provisioned for the Gateway called gatewayName:
// "<gateway-name>-nghttpx" when that is a valid DNS-1035 label (what a Service
// name must be), otherwise a sanitised, truncated form with a hash of the
// Gateway name, so distinct Gateways never share a name.
func Name(gatewayName string) string {
	n := gatewayName + nameSuffix
	if len(validation.IsDNS1035Label(n)) == 0 {
		return n
	}
	var b strings.Builder
	for _, r := range strings.ToLower(gatewayName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := b.String()
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "gw-" + s
	}
	suffix := "-" + shortHash(gatewayName) + nameSuffix
	s = strings.TrimRight(s[:min(len(s), validation.DNS1035LabelMaxLength-len(suffix))], "-")
	return s + suffix
}

// KeysName is the name of the Secret holding the key material a Gateway's
// proxies share (package dataplane/keys): Name(gatewayName) + "-keys".
func KeysName(gatewayName string) string {
	return Name(gatewayName) + keysSuffix
}

// LabelValue fits a name into a label value (at most 63 characters).
func LabelValue(v string) string {
	if len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	h := shortHash(v)
	keep := validation.LabelValueMaxLength - len(h) - 1
	s := strings.TrimRight(v[:min(len(v), keep)], "-_.")
	return s + "-" + h
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// SelectorLabels select the data-plane pods of a Gateway.
func SelectorLabels(namespace, name string) map[string]string {
	return map[string]string{
		LabelGatewayName:      LabelValue(name),
		LabelGatewayNamespace: namespace,
	}
}
