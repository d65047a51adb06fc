package pipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/api/meta"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// FuzzTranslate feeds random objects through translate+render: an HTTPRoute whose
// hostnames, matches (path, header, query), header modifiers, rewrite, redirect,
// CORS origin, timeouts and retry come from the fuzzer, a listener with a random
// hostname and port, and an Ingress with random annotation values and host, each
// next to a friendly route and Ingress. Whatever the values: every Gateway renders
// without error and without a dropped piece (the translator rejected on the object
// what the renderer cannot write), the friendly routes are served, and no value
// adds a line or directive to any file.
func FuzzTranslate(f *testing.F) {
	f.Add("hostile.example", "/p", "x-a", "v", "q", "1", "x-b", "/r", "10s", "3", "1s", "c", "/", "web.example", "30s", uint16(8081), uint8(0))
	f.Add("a.example", "/p", "x-a", "a\nb", "q", "a b", "bad name", "/x?y=1", "25h", "100", "1000s",
		strings.Repeat("c", 300), "/p;secure", strings.Repeat("s", 64)+".example", "25h", uint16(15000), uint8(0xff))
	f.Add(strings.Repeat("l", 64)+".example", "/p", "X-Ngxgw-Retry", "500;100", "q&x", "#", "x-ngxgw-path", "/p?q", "99999h", "-1", "1x",
		"a b", "/p\n", "A.example", "1000h", uint16(9901), uint8(0x55))
	f.Add("*.example", "/%2f", "x-c", "\x00\r", "=", "\x7f", ":", "", "0s", "0", "0s", "", "", "", "", uint16(0), uint8(0xaa))
	f.Fuzz(func(t *testing.T, host, path, hname, hval, qname, qval, remove, modPath, timeout, attempts, backoff,
		cookie, cookiePath, sni, ingTimeout string, port uint16, flags uint8) {
		src := fuzzObjects(host, path, hname, hval, qname, qval, remove, modPath, timeout, attempts, backoff,
			cookie, cookiePath, sni, ingTimeout, port, flags)
		in, err := load.DecodeYAML([]byte(src))
		if err != nil {
			return // not an object the API server would hold (a value that is not JSON-typed as asked)
		}
		opts := Options{
			Gateway:  translate.Options{DefaultAddress: "127.0.0.1"},
			Render:   render.Options{APIPort: 15000, Features: render.Features{StatusRetry: true, BackendTLSVerify: true, ClientVerify: true, SNICertMap: true}},
			StateDir: "/var/run/nghttpx-gateway",
		}
		opts.Ingress.HTTPPort = 8080
		out := Build(in, opts)
		if len(out.Gateways) != 2 {
			t.Fatalf("%d Gateways rendered, want the Gateway and the Ingress class's:\n%s", len(out.Gateways), src)
		}
		for _, g := range out.Gateways {
			name := g.Model.Source.Namespace + "/" + g.Model.Source.Name
			if g.Err != nil {
				t.Fatalf("Gateway %s not rendered: %v\n%s", name, g.Err, src)
			}
			if len(g.Config.Dropped) > 0 {
				t.Fatalf("Gateway %s: the renderer dropped what the translator accepted: %v\n%s", name, g.Config.Dropped, src)
			}
			checkNoInjection(t, g.Config, src)
		}
		gw := out.Gateways[0].Config.RouteText()
		if out.Gateways[0].Model.Source.Name != "gw" {
			gw = out.Gateways[1].Config.RouteText()
		}
		if !strings.Contains(string(gw), `"httproute/default/friendly/rule/0/match/0"`) {
			t.Fatalf("friendly route not in the route table:\n%s", gw)
		}
		for _, r := range out.Translation.HTTPRoutes {
			if r.Name != "friendly" {
				continue
			}
			c := metav1.FindStatusCondition(r.Status.Parents[0].Conditions, string(gatewayv1.RouteConditionAccepted))
			if c == nil || c.Status != "True" {
				t.Fatalf("friendly route not accepted: %+v", c)
			}
		}
		var friendlyIngress bool
		for _, ir := range out.Ingress.Ingresses {
			if ir.Name == "friendly" && len(ir.HTTPRoutes) > 0 {
				for _, g := range out.Gateways {
					if strings.Contains(string(g.Config.RouteText()), "\"friendly.example\"") && g.Model.Source.Name != "gw" {
						friendlyIngress = true
					}
				}
			}
		}
		if !friendlyIngress {
			t.Fatalf("friendly Ingress not served")
		}
	})
}

func fuzzObjects(host, path, hname, hval, qname, qval, remove, modPath, timeout, attempts, backoff,
	cookie, cookiePath, sni, ingTimeout string, port uint16, flags uint8) string {
	q := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	// Half the runs make the values match the CRD's patterns, so that they reach
	// the data-plane checks rather than the translator's CRD re-validation.
	if flags&1 != 0 {
		host, sni = crdHostname(host), crdHostname(sni)
		hname, qname = crdToken(hname), crdToken(qname)
		path, modPath, cookiePath = crdPath(path), crdPath(modPath), crdPath(cookiePath)
	}
	listenerPort := int(port)
	if listenerPort == 0 || listenerPort == 8080 {
		listenerPort = 8081
	}
	pathConfig, _ := json.Marshal(map[string]any{
		"hostile.example/": map[string]any{"affinity": "cookie", "affinityCookieName": cookie, "affinityCookiePath": cookiePath,
			"readTimeout": ingTimeout, "writeTimeout": ingTimeout},
	})
	backendConfig, _ := json.Marshal(map[string]any{"web": map[string]any{"80": map[string]any{"tls": true, "sni": sni}}})
	redirect := ""
	if flags&2 != 0 {
		redirect = fmt.Sprintf(`
  - matches: [{path: {type: PathPrefix, value: /redirect}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {hostname: %s, path: {type: ReplacePrefixMatch, replacePrefixMatch: %s}}`, q(host), q(modPath))
	}
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: zlab.co.jp/nghttpx}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nghttpx
  listeners:
  - {name: http, protocol: HTTP, port: 8080}
  - {name: hostile, protocol: HTTP, port: %d, hostname: %s}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{port: 8080}]
endpoints: [{addresses: [10.244.0.41], conditions: {ready: true}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: friendly, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [friendly.example]
  rules:
  - backendRefs: [{name: web, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hostile-host, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [%s]
  rules:
  - backendRefs: [{name: web, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hostile, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [hostile.example]
  rules:
  - matches:
    - path: {type: PathPrefix, value: %s}
      headers: [{name: %s, value: %s}]
      queryParams: [{name: %s, value: %s}]
    backendRefs: [{name: web, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /set}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: %s, value: %s}], remove: [%s]}
    backendRefs: [{name: web, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /rewrite}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: %s, path: {type: ReplaceFullPath, replaceFullPath: %s}}
    backendRefs: [{name: web, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cors}}]
    filters:
    - type: CORS
      cors: {allowOrigins: [%s]}
    backendRefs: [{name: web, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /timeouts}}]
    timeouts: {request: %s}
    retry: {codes: [503], attempts: %s, backoff: %s}
    backendRefs: [{name: web, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /backend}}]
    backendRefs:
    - name: web
      port: 80
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier: {add: [{name: %s, value: %s}]}%s
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: hostile
  namespace: default
  annotations:
    ingress.zlab.co.jp/path-config: %s
    ingress.zlab.co.jp/backend-config: %s
spec:
  rules:
  - host: hostile.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
  - host: %s
    http:
      paths:
      - {path: %s, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: friendly, namespace: default}
spec:
  rules:
  - host: friendly.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`, listenerPort, q(host), q(host),
		q(path), q(hname), q(hval), q(qname), q(qval), q(hname), q(hval), q(remove),
		q(host), q(modPath), q("https://"+host), q(timeout), attemptsValue(attempts), q(backoff), q(hname), q(hval), redirect,
		q(string(pathConfig)), q(string(backendConfig)), q(host), q(path))
}

// attemptsValue is attempts as a YAML integer when it is one, else 1.
func attemptsValue(s string) string {
	if regexp.MustCompile(`^-?[0-9]{1,9}$`).MatchString(s) {
		return s
	}
	return "1"
}

var (
	crdHostnameRE = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	crdTokenRE    = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_`|~]{1,256}$")
)

// crdHostname folds s onto the CRD's hostname pattern (labels of any length).
func crdHostname(s string) string {
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789-."
	var b strings.Builder
	for i := 0; i < len(s) && i < 253; i++ {
		b.WriteByte(alpha[int(s[i])%len(alpha)])
	}
	if h := b.String(); crdHostnameRE.MatchString(h) {
		return h
	}
	return "x" + strings.Trim(strings.ReplaceAll(b.String(), ".", ""), "-") + "x.example"
}

func crdToken(s string) string {
	if crdTokenRE.MatchString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s) && i < 256; i++ {
		if c := s[i]; crdTokenRE.MatchString(string(c)) {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "x-fuzz"
	}
	return b.String()
}

// crdPath keeps the CRD's path alphabet.
func crdPath(s string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(s) && i < 1023; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

var (
	// Every main configuration line is name=value of our own directives, with
	// values from paths, addresses and numbers only.
	mainLine = regexp.MustCompile(`^[a-z0-9-]+=[A-Za-z0-9/._,*;:=-]+$`)
	// A backend line: address, pattern, then parameters nghttpx-gateway writes;
	// the few user values (sni, cookie name and path) cannot hold ';' or spaces.
	backendLineRE = regexp.MustCompile(`^backend=[0-9a-f.:]+,[0-9]+;/(__ngxgw/[a-z0-9-]+/)?` +
		`(;(proto=(h2|http/1\.1)|tls|dns|dnf|mruby=/[A-Za-z0-9/._-]+|sni=[a-z0-9.-]+|tls-ca=/[A-Za-z0-9/._-]+|tls-san=/[A-Za-z0-9/._-]+|` +
		`(read|write)-timeout=[0-9]+m?s|affinity=(ip|cookie)|affinity-cookie-name=[!#$%&'*+.^_` + "`" + `|~A-Za-z0-9-]+|` +
		`affinity-cookie-path=/[!-~]*|affinity-cookie-secure=(auto|yes|no)|affinity-cookie-stickiness=(loose|strict)))*$`)
	// routes.rb tokens: strings of safe bytes and \xHH escapes, integers, our
	// symbols, literals and punctuation.
	rubyToken = regexp.MustCompile(`^(\s+|"([A-Za-z0-9 ./_:-]|\\x[0-9a-f]{2})*"|-?[0-9]+|:[a-z_]+|=>|true|false|lambda|\.call|[{}\[\](),+])`)
)

// routeLiterals are the head and the shards of the route table; the shard
// list, which the router reads without evaluating it, holds hex digits only.
func routeLiterals(cfg *render.Config) [][]byte {
	out := [][]byte{cfg.RouteTable}
	for _, n := range slices.Sorted(maps.Keys(cfg.RouteShards)) {
		if strings.HasSuffix(n, ".rb") {
			out = append(out, cfg.RouteShards[n])
		}
	}
	return out
}

// checkNoInjection proves every file nghttpx parses holds only our lines.
func checkNoInjection(t *testing.T, cfg *render.Config, src string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(string(cfg.Main), "\n"), "\n") {
		if strings.HasPrefix(l, "# ") {
			continue
		}
		if !mainLine.MatchString(l) {
			t.Fatalf("main configuration line %q is not ours\n%s", l, src)
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(render.BackendConf(cfg.Backends)), "\n"), "\n") {
		if !backendLineRE.MatchString(l) {
			t.Fatalf("backend line %q is not ours\n%s", l, src)
		}
	}
	for n, b := range cfg.RouteShards {
		if strings.HasSuffix(n, ".names") && strings.Trim(string(b), "0123456789abcdef") != "" {
			t.Fatalf("shard list %s holds more than hex digits: %q", n, b)
		}
	}
	for _, table := range routeLiterals(cfg) {
		header, body, _ := strings.Cut(string(table), "\n")
		if !strings.HasPrefix(header, "# nghttpx-gateway route table") {
			t.Fatalf("route table header %q", header)
		}
		for len(body) > 0 {
			m := rubyToken.FindString(body)
			if m == "" {
				t.Fatalf("routes.rb outside the literal grammar at %.60q\n%s", body, src)
			}
			body = body[len(m):]
		}
	}
}
