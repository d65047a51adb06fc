package render

import "testing"

func TestExtraLineWarning(t *testing.T) {
	for line, warn := range map[string]bool{
		"insecure=yes":                      true,
		"verify-client=yes":                 true,
		"verify-client-cacert=/etc/ca.pem":  true,
		"verify-client-tolerate-expired=1":  true,
		"cacert=/etc/ca.pem":                true,
		"no-verify-ocsp=yes":                true,
		"backend-http-proxy-uri=http://p:3": true,
		"tls-min-proto-version=TLSv1.0":     true,
		"tls-min-proto-version=TLSv1.2":     false,
		"workers=4":                         false,
		"add-response-header=x-a: insecure": false,
	} {
		if got := ExtraLineWarning(line) != ""; got != warn {
			t.Errorf("ExtraLineWarning(%q) warns = %v, want %v", line, got, warn)
		}
	}
}
