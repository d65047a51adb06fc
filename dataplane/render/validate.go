package render

import (
	"fmt"
	"net/netip"
	"strings"
)

// Validation here is defence in depth: the gateway translator rejects these inputs
// with a condition first. Anything that reaches the renderer malformed is refused
// rather than written into a file nghttpx or the router would misread.

// internalHeaderPrefix marks the headers the router and restore.rb use between each
// other; clients and route filters may not set them.
const internalHeaderPrefix = "x-ngxgw-"

const maxStringLen = 4096

// checkHostname accepts a lower-case RFC 1123 DNS name, and with wildcard a leading
// "*." label.
func checkHostname(h string, wildcard bool) error {
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

// isTchar reports whether c is an RFC 7230 token character.
func isTchar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// headerName validates an RFC 7230 token and returns it lower-cased.
func headerName(n string) (string, error) {
	if n == "" || len(n) > 256 {
		return "", fmt.Errorf("header name %q: empty or too long", n)
	}
	for i := 0; i < len(n); i++ {
		if !isTchar(n[i]) {
			return "", fmt.Errorf("header name %q: byte %q is not a token character", n, n[i])
		}
	}
	l := strings.ToLower(n)
	if strings.HasPrefix(l, internalHeaderPrefix) {
		return "", fmt.Errorf("header name %q: the %s prefix is reserved", n, internalHeaderPrefix)
	}
	return l, nil
}

// checkHeaderValue refuses control bytes other than HTAB (CR, LF and NUL above all).
func checkHeaderValue(v string) error {
	if len(v) > maxStringLen {
		return fmt.Errorf("header value too long (%d bytes)", len(v))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("header value %q: control byte %#x", v, c)
		}
	}
	return nil
}

// checkPath accepts an absolute request path of visible ASCII; extra lists bytes
// refused on top of '#'.
func checkPath(p, extra string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("path %q must start with /", p)
	}
	if len(p) > maxStringLen {
		return fmt.Errorf("path too long (%d bytes)", len(p))
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || c == '#' || strings.IndexByte(extra, c) >= 0 {
			return fmt.Errorf("path %q: byte %q not allowed", p, c)
		}
	}
	return nil
}

// checkQueryPart validates a query parameter name or value compared byte for byte
// against the raw query string.
func checkQueryPart(what, s string, isName bool) error {
	if isName && s == "" {
		return fmt.Errorf("query parameter name is empty")
	}
	if len(s) > maxStringLen {
		return fmt.Errorf("query parameter %s too long", what)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '&' || c == '#' || isName && c == '=' {
			return fmt.Errorf("query parameter %s %q: byte %q not allowed", what, s, c)
		}
	}
	return nil
}

// checkMethod accepts an upper-case method token.
func checkMethod(m string) error {
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

// parseIP accepts a plain IPv4 or IPv6 address (no zone) and returns its canonical form.
func parseIP(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("address %q is not an IP address", s)
	}
	return a.Unmap().String(), nil
}

func checkPort(p int32) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", p)
	}
	return nil
}
