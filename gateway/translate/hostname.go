package translate

import (
	"cmp"
	"slices"
	"strings"
)

func isWildcard(h string) bool { return strings.HasPrefix(h, "*.") }

// intersectHostname returns the hostnames that both a and b accept as one hostname
// pattern (the more specific of the two), and whether they overlap at all. "" stands
// for any hostname. A wildcard "*.example.com" covers "foo.example.com" and
// "a.b.example.com" but not "example.com".
func intersectHostname(a, b string) (string, bool) {
	switch {
	case a == "":
		return b, true
	case b == "":
		return a, true
	case a == b:
		return a, true
	}
	aw, bw := isWildcard(a), isWildcard(b)
	switch {
	case aw && !bw:
		if strings.HasSuffix(b, a[1:]) {
			return b, true
		}
	case !aw && bw:
		if strings.HasSuffix(a, b[1:]) {
			return a, true
		}
	case aw && bw:
		if strings.HasSuffix(a[1:], b[1:]) {
			return a, true
		}
		if strings.HasSuffix(b[1:], a[1:]) {
			return b, true
		}
	}
	return "", false
}

// effectiveHostnames returns the hostname patterns under which a route with the
// given hostnames is served on a listener with listenerHost: the intersections,
// deduplicated and in precedence order. Route hostnames that do not intersect are
// ignored; an empty result means the route does not match the listener.
func effectiveHostnames(listenerHost string, routeHosts []string) []string {
	if len(routeHosts) == 0 {
		return []string{listenerHost}
	}
	var out []string
	for _, h := range routeHosts {
		if x, ok := intersectHostname(listenerHost, h); ok && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	sortHostnames(out)
	return out
}

// compareHostnames orders hostname patterns by precedence: exact names first
// (alphabetically), then wildcards, longer (more specific) first, then "" (any).
// Two patterns that can match the same host are never ordered against their
// specificity: a wildcard that covers another is shorter than it.
func compareHostnames(a, b string) int {
	rank := func(h string) int {
		switch {
		case h == "":
			return 2
		case isWildcard(h):
			return 1
		}
		return 0
	}
	if c := cmp.Compare(rank(a), rank(b)); c != 0 {
		return c
	}
	if isWildcard(a) {
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func sortHostnames(hs []string) {
	slices.SortFunc(hs, compareHostnames)
}
