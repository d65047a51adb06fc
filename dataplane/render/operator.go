package render

import (
	"fmt"
	"strings"
)

// Operator configuration: extra main-configuration lines from the operator (the
// Ingress ConfigMap key nghttpx-conf). They come after ours, so a tunable we set
// (workers, add-x-forwarded-for, no-via, ...) can be overridden; what the data plane
// relies on cannot be set at all. frontend-quic-require-token is a tunable: real
// Gateways get it from the class parameter quicRequireToken, the Ingress data
// plane (whose Gateways ignore class parameters) only from here.

// managedDirective says why the renderer owns a main-configuration option:
// listeners and the backend API, routing, certificates, the router program, process
// supervision, reload timing, QUIC and OCSP plumbing.
func managedDirective(name string) (string, bool) {
	switch name {
	case "frontend":
		return "listeners come from the Gateway (Ingress ports)", true
	case "backend":
		return "backends come from the routes", true
	case "include", "conf":
		return "the configuration is generated", true
	case "mruby-file":
		return "use the nghttpx-mruby-file-content key", true
	case "ignore-per-pattern-mruby-error":
		return "a script that fails to compile must not be skipped", true
	case "private-key-file", "certificate-file", "subcert", "private-key-passwd-file":
		return "certificates come from TLS Secrets", true
	case "daemon", "pid-file", "user":
		return "the process is supervised", true
	case "errorlog-file", "errorlog-syslog":
		return "the error log is collected by the supervisor", true
	case "worker-process-grace-shutdown-period", "max-worker-processes":
		return "reloads are timed by the data plane", true
	case "frontend-quic-secret-file":
		return "HTTP/3 keying material is managed", true
	case "quic-bpf-program-file", "no-quic-bpf":
		return "HTTP/3 steering is managed", true
	case "altsvc", "http2-altsvc":
		return "Alt-Svc follows the HTTP/3 listeners", true
	case "fetch-ocsp-response-file", "no-ocsp", "ocsp-startup":
		return "OCSP stapling is managed", true
	}
	if strings.HasPrefix(name, "tls-ticket-key-") {
		// An extra key file, another cipher or memcached would silently replace
		// the shared keys (nghttpx falls back to per-process keys).
		return "TLS session ticket keys are shared by the data plane", true
	}
	if strings.HasPrefix(name, "api-") {
		return "the backend API is the data plane's", true
	}
	return "", false
}

// ParseExtraConfig splits the operator's extra configuration into the lines the
// main configuration may carry, in order, and describes each line it drops. Blank
// lines and # comments are skipped. A line must be name=value with a lower-case
// option name that the renderer does not manage and no control characters; whether
// nghttpx knows the option is for nghttpx to say (it then refuses the
// configuration, and the previous one keeps serving).
func ParseExtraConfig(text string) (lines, problems []string) {
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		if err := checkExtraLine(l); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v; the line is ignored", i+1, err))
			continue
		}
		lines = append(lines, l)
	}
	return lines, problems
}

func checkExtraLine(l string) error {
	if len(l) > maxStringLen {
		return fmt.Errorf("longer than %d bytes", maxStringLen)
	}
	name, value, ok := strings.Cut(l, "=")
	if !ok {
		return fmt.Errorf("%q is not of the form name=value", l)
	}
	if name == "" || name[0] == '-' {
		return fmt.Errorf("option name %q is not valid", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("option name %q: byte %q not allowed (only [a-z0-9-])", name, c)
		}
	}
	if why, ok := managedDirective(name); ok {
		return fmt.Errorf("option %s is managed by nghttpx-gateway (%s)", name, why)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("option %s: control byte %#x in the value", name, c)
		}
	}
	return nil
}
