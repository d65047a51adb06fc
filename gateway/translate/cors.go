package translate

import (
	"slices"
	"strconv"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// defaultCORSMaxAge is the CRD default of maxAge, applied here too because objects
// read from files never pass the API server's defaulting.
const defaultCORSMaxAge = 5

// corsMethods are the values allowMethods accepts besides "*".
var corsMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// corsFilter converts a CORS filter. It repeats the CRD's validation (objects from
// files skip it) and normalises origins, so the data plane compares them by parts.
func corsFilter(f *gatewayv1.HTTPCORSFilter) (*model.CORS, *ruleError) {
	if f == nil {
		return nil, unsupported("filter configuration is missing")
	}
	out := &model.CORS{MaxAgeSeconds: f.MaxAge}
	switch {
	case f.MaxAge == 0:
		out.MaxAgeSeconds = defaultCORSMaxAge
	case f.MaxAge < 0:
		return nil, unsupported("cors.maxAge must be at least 1")
	}
	if f.AllowCredentials != nil {
		out.AllowCredentials = *f.AllowCredentials
	}
	for _, o := range f.AllowOrigins {
		if o == "*" {
			if len(f.AllowOrigins) > 1 {
				return nil, unsupported(`cors.allowOrigins: "*" cannot be combined with other origins`)
			}
			out.AllowAnyOrigin = true
			continue
		}
		co, err := parseCORSOrigin(string(o))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out.AllowOrigins, co) {
			out.AllowOrigins = append(out.AllowOrigins, co)
		}
	}
	for _, m := range f.AllowMethods {
		s := string(m)
		if s == "*" && len(f.AllowMethods) > 1 {
			return nil, unsupported(`cors.allowMethods: "*" cannot be combined with other methods`)
		}
		if s != "*" && !slices.Contains(corsMethods, s) {
			return nil, unsupported("cors.allowMethods: unsupported method %q", s)
		}
		if !slices.Contains(out.AllowMethods, s) {
			out.AllowMethods = append(out.AllowMethods, s)
		}
	}
	var err *ruleError
	if out.AllowHeaders, err = corsHeaderNames("allowHeaders", f.AllowHeaders, true); err != nil {
		return nil, err
	}
	if out.ExposeHeaders, err = corsHeaderNames("exposeHeaders", f.ExposeHeaders, false); err != nil {
		return nil, err
	}
	return out, nil
}

// corsHeaderNames lower-cases and de-duplicates header names; "*" is a wildcard,
// alone when starAlone.
func corsHeaderNames(field string, names []gatewayv1.HTTPHeaderName, starAlone bool) ([]string, *ruleError) {
	var out []string
	for _, h := range names {
		n := strings.ToLower(string(h))
		switch {
		case n == "*":
			if starAlone && len(names) > 1 {
				return nil, unsupported(`cors.%s: "*" cannot be combined with other names`, field)
			}
		case !isToken(n):
			return nil, unsupported("cors.%s: %q is not a valid header name", field, h)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// parseCORSOrigin parses "scheme://host[:port]" as the CRD's pattern allows it: scheme
// http or https, host a DNS name (or IPv4 address), "*" or "*.name".
func parseCORSOrigin(o string) (model.CORSOrigin, *ruleError) {
	bad := func(why string) (model.CORSOrigin, *ruleError) {
		return model.CORSOrigin{}, unsupported("cors.allowOrigins: %q: %s", o, why)
	}
	scheme, rest, ok := strings.Cut(strings.ToLower(o), "://")
	var port int32
	switch {
	case !ok:
		return bad(`want "scheme://host[:port]" or "*"`)
	case scheme == "http":
		port = 80
	case scheme == "https":
		port = 443
	default:
		return bad("scheme must be http or https")
	}
	host, ps, hasPort := strings.Cut(rest, ":")
	if hasPort {
		p, err := strconv.Atoi(ps)
		if err != nil || p < 1 || p > 65535 || ps[0] == '+' {
			return bad("port must be a number from 1 to 65535")
		}
		port = int32(p)
	}
	name := host
	if host != "*" {
		name = strings.TrimPrefix(host, "*.")
		if !isDNSName(name) {
			return bad(`host must be a DNS name, "*" or "*." followed by a DNS name`)
		}
	}
	return model.CORSOrigin{Scheme: scheme, Host: host, Port: port}, nil
}

// isDNSName reports whether s is a lower-case RFC 1123 name (IPv4 addresses pass).
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isToken reports whether s is a non-empty RFC 9110 token (a header name).
func isToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
