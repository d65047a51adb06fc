package validate

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// Hostname accepts a lower-case RFC 1123 DNS name (labels of 1 to 63 bytes, 253 in
// all), and with wildcard a leading "*." label.
func Hostname(h string, wildcard bool) error {
	name := h
	if wildcard && strings.HasPrefix(h, "*.") {
		name = h[2:]
	}
	if name == "" || len(h) > 253 {
		return fmt.Errorf("hostname %q: empty or longer than 253 bytes", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("hostname %q: empty label or label longer than 63 bytes", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(label)-1
			if !ok {
				return fmt.Errorf("hostname %q: byte %q not allowed (lower-case RFC 1123 names only)", h, c)
			}
		}
	}
	return nil
}

// IsTchar reports whether c is an RFC 9110 token character.
func IsTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Token accepts an RFC 9110 token of at most MaxNameLen bytes; what names it in
// messages ("header name", "cookie name").
func Token(what, n string) error {
	if n == "" || len(n) > MaxNameLen {
		return fmt.Errorf("%s %q: empty or longer than %d bytes", what, n, MaxNameLen)
	}
	for i := 0; i < len(n); i++ {
		if !IsTchar(n[i]) {
			return fmt.Errorf("%s %q: byte %q is not a token character", what, n, n[i])
		}
	}
	return nil
}

// HeaderName validates a header name a route may match, set, add or remove and
// returns it lower-cased: a token outside the reserved InternalHeaderPrefix.
func HeaderName(n string) (string, error) {
	if err := Token("header name", n); err != nil {
		return "", err
	}
	l := strings.ToLower(n)
	if strings.HasPrefix(l, InternalHeaderPrefix) {
		return "", fmt.Errorf("header name %q: the %s prefix is reserved for nghttpx-gateway", n, InternalHeaderPrefix)
	}
	return l, nil
}

// HeaderValue refuses control bytes other than HTAB (CR, LF and NUL above all).
func HeaderValue(v string) error {
	if len(v) > MaxStringLen {
		return fmt.Errorf("header value longer than %d bytes", MaxStringLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("header value %q: control byte %#x (no CR, LF or other control characters)", v, c)
		}
	}
	return nil
}

// Path accepts an absolute request path of visible ASCII without '#'; extra lists
// further refused bytes ("?" for paths compared with or written as the path
// without query).
func Path(p, extra string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("path %q must start with /", p)
	}
	if len(p) > MaxStringLen {
		return fmt.Errorf("path longer than %d bytes", MaxStringLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || c == '#' || strings.IndexByte(extra, c) >= 0 {
			return fmt.Errorf("path %q: byte %q not allowed", p, c)
		}
	}
	return nil
}

// QueryPart validates a query parameter name or value, which the router compares
// byte for byte with the raw query string: no space, '&', '#' (or '=' in a name).
func QueryPart(isName bool, s string) error {
	what := "value"
	if isName {
		what = "name"
	}
	if isName && s == "" {
		return fmt.Errorf("query parameter name is empty")
	}
	if len(s) > MaxStringLen {
		return fmt.Errorf("query parameter %s longer than %d bytes", what, MaxStringLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '&' || c == '#' || isName && c == '=' {
			return fmt.Errorf("query parameter %s %q: byte %q not allowed (compared with the raw query: write it percent-encoded)", what, s, c)
		}
	}
	return nil
}

// Method accepts an upper-case method token.
func Method(m string) error {
	if m == "" || len(m) > 32 {
		return fmt.Errorf("method %q: empty or too long", m)
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < 'A' || c > 'Z' {
			return fmt.Errorf("method %q: only upper-case letters allowed", m)
		}
	}
	return nil
}

// CookieName accepts an RFC 6265 cookie name (a token), as affinity-cookie-name=.
func CookieName(n string) error { return Token("cookie name", n) }

// CookiePath accepts a cookie path for affinity-cookie-path=: a path without the
// bytes that end or split a backend parameter or a Set-Cookie attribute.
func CookiePath(p string) error { return Path(p, ";,\\\"") }

// IP accepts a plain IPv4 or IPv6 address (no zone) and returns its canonical form.
func IP(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("address %q is not an IP address", s)
	}
	return a.Unmap().String(), nil
}

// Port accepts 1-65535.
func Port(p int32) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", p)
	}
	return nil
}

// TimeoutMillis accepts 0 (unset) to MaxTimeoutMillis.
func TimeoutMillis(what string, ms int64) error {
	if ms < 0 || ms > MaxTimeoutMillis {
		return fmt.Errorf("%s %s out of range (0 to %s, the longest nghttpx-gateway configures)", what, millis(ms), MaxTimeout)
	}
	return nil
}

func millis(ms int64) string {
	if ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return fmt.Sprintf("%dms", ms)
	}
	return (time.Duration(ms) * time.Millisecond).String()
}
