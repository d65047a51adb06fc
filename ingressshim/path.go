package ingressshim

import (
	"fmt"
	"net/netip"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

// matchKey is what a path claims: a host ("" for any) and a Gateway API path
// match. Two paths with the same key are the same route as far as requests go.
type matchKey struct {
	host  string
	typ   gatewayv1.PathMatchType
	value string
}

func (k matchKey) String() string {
	return fmt.Sprintf("%s %s on %s", k.typ, k.value, hostLabel(k.host))
}

func hostLabel(h string) string {
	if h == "" {
		return "any host"
	}
	return "host " + h
}

// convertPath maps an Ingress path to a Gateway API path match.
//
//   - Exact: Exact, as is.
//   - Prefix: PathPrefix without trailing "/"; both match on whole path elements,
//     so /foo matches /foo, /foo/ and /foo/bar but not /foobar, as Kubernetes
//     defines it.
//   - ImplementationSpecific (or no pathType): nghttpx's own pattern rule. A path
//     ending in "/" matches that subtree and the path without the slash, which is
//     PathPrefix without the slash; any other path matches exactly, which is
//     Exact.
//
// An empty path means "/". Paths Gateway API cannot express (not starting with
// "/", containing "?", "#", "//", dot segments, regular expression characters,
// ...) are errors.
func convertPath(p string, typ *networkingv1.PathType) (matchKey, error) {
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") {
		return matchKey{}, fmt.Errorf("must start with /")
	}
	if err := translate.ValidatePathValue(p); err != nil {
		return matchKey{}, err
	}
	if err := validate.Path(p, "?"); err != nil {
		return matchKey{}, err
	}
	t := networkingv1.PathTypeImplementationSpecific
	if typ != nil {
		t = *typ
	}
	prefix := func() matchKey {
		v := strings.TrimRight(p, "/")
		if v == "" {
			v = "/"
		}
		return matchKey{typ: gatewayv1.PathMatchPathPrefix, value: v}
	}
	switch t {
	case networkingv1.PathTypeExact:
		return matchKey{typ: gatewayv1.PathMatchExact, value: p}, nil
	case networkingv1.PathTypePrefix:
		return prefix(), nil
	case networkingv1.PathTypeImplementationSpecific:
		if strings.HasSuffix(p, "/") {
			return prefix(), nil
		}
		return matchKey{typ: gatewayv1.PathMatchExact, value: p}, nil
	}
	return matchKey{}, fmt.Errorf("pathType %q is not one of Exact, Prefix and ImplementationSpecific", t)
}

// validateHost checks an Ingress rule host: empty (any host), a DNS name, or a
// wildcard "*.name". A wildcard matches one or more labels, as in nghttpx and
// Gateway API (Kubernetes says exactly one; the original controller passed the
// host to nghttpx).
func validateHost(h string) error {
	if h == "" {
		return nil
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return fmt.Errorf("must be a DNS name, not an IP address")
	}
	var errs []string
	if strings.HasPrefix(h, "*.") {
		errs = validation.IsWildcardDNS1123Subdomain(h)
	} else {
		errs = validation.IsDNS1123Subdomain(h)
	}
	if len(errs) > 0 || validate.Hostname(h, true) != nil {
		return fmt.Errorf("is not a valid host name (lower-case letters, digits, '-' and '.' in labels of at most 63 bytes, optionally after a leading \"*.\")")
	}
	return nil
}

// hostCovers reports whether a TLS host entry (exact or "*.suffix") covers a rule
// host.
func hostCovers(tlsHost, host string) bool {
	if tlsHost == host {
		return true
	}
	if suffix, ok := strings.CutPrefix(tlsHost, "*"); ok && !strings.HasPrefix(host, "*") {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return false
}
