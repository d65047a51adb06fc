package render

import "strings"

// ExtraLineWarning says why an operator line that ParseExtraConfig accepts
// weakens what the data plane promises (verification of backends, of clients,
// of OCSP responses; what clients may assert to backends), or "" when it does
// not. Such lines are kept, since the operator may mean them, but must never be
// silent: callers turn the warning into a Warning event and a log line.
func ExtraLineWarning(line string) string {
	name, value, _ := strings.Cut(strings.TrimSpace(line), "=")
	switch name {
	case "insecure":
		return "turns off verification of TLS backends' certificates for every route: a man in the middle can impersonate any backend"
	case "cacert":
		return "replaces the trust store nghttpx verifies TLS backends with; every route's backends are trusted by it"
	case "verify-client", "verify-client-cacert":
		return "sets client certificate verification for every listener, overriding what each Gateway or Ingress asks for"
	case "verify-client-tolerate-expired":
		return "accepts expired client certificates"
	case "no-verify-ocsp":
		return "staples OCSP responses without verifying them"
	case "tls-no-postpone-early-data", "tls-max-early-data":
		return "lets TLS early data (0-RTT, replayable) reach backends"
	case "no-strip-incoming-x-forwarded-proto", "no-strip-incoming-early-data", "no-strip-incoming-forwarded":
		return "passes a header the client sets itself to backends, which may trust it"
	case "backend-http-proxy-uri":
		return "sends every backend connection through " + value
	case "tls-min-proto-version":
		if v := strings.ToUpper(strings.TrimSpace(value)); v == "TLSV1.0" || v == "TLSV1.1" {
			return "allows TLS versions with known weaknesses (" + value + ")"
		}
	}
	return ""
}
