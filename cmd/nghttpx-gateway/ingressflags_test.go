package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/settings"
)

// The controller hands its Ingress options to the proxies of the synthetic
// Gateways as arguments; the proxies must parse back exactly the same options,
// or their model (and its hash) would differ from the controller's.
func TestIngressProxyArgsRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--ingress-class-controller=example.com/x", "--require-ingress-class", "--default-tls-secret=kube-system/cert",
			"--default-backend-service=kube-system/fallback", "--nghttpx-configmap=kube-system/nghttpx", "--nghttpx-http-port=0",
			"--nghttpx-https-port=8443", "--proxy-proto", "--watch-namespace=apps", "--allow-mruby", "--no-default-backend-override",
			"--internal-default-backend", "--nghttpx-workers=4", "--deferred-shutdown-period=20s"},
	} {
		serve := flag.NewFlagSet("serve", flag.ContinueOnError)
		serve.SetOutput(io.Discard)
		var sf ingressFlags
		sf.register(serve, true)
		if err := serve.Parse(args); err != nil {
			t.Fatal(err)
		}
		want, err := sf.options()
		if err != nil {
			t.Fatal(err)
		}
		proxy := flag.NewFlagSet("proxy", flag.ContinueOnError)
		proxy.SetOutput(io.Discard)
		// As proxyCmd: the data-plane settings first (they own --proxy-proto).
		ps := settings.Proxy()
		ps.Flags(proxy, true)
		var pf ingressFlags
		pf.register(proxy, false)
		// As provisioned: the data-plane settings' arguments, then the Ingress ones.
		pargs := append(ps.Args(), ingressProxyArgs(want, sf.proxyProto, sf.workers)...)
		if err := proxy.Parse(pargs); err != nil {
			t.Fatalf("proxy rejects %v: %v", pargs, err)
		}
		got, err := pf.options()
		if err != nil {
			t.Fatal(err)
		}
		if ps.Workers != sf.workers {
			t.Errorf("args %v: proxy workers %d, want --nghttpx-workers %d", args, ps.Workers, sf.workers)
		}
		if !reflect.DeepEqual(got, want) || ps.ProxyProtocol != sf.proxyProto {
			t.Errorf("args %v:\nproxy options %+v (proxy-proto %v)\nwant          %+v (proxy-proto %v)", args, got, ps.ProxyProtocol, want, sf.proxyProto)
		}
		if len(pf.warnings) != 0 {
			t.Errorf("proxy warned: %v", pf.warnings)
		}
	}
}

// serve accepts the original controller's cluster flags.
func TestServeAcceptsClusterFlags(t *testing.T) {
	code, _, errOut := run(t, "serve", "--kubeconfig=/nonexistent", "--publish-service=kube-system/lb", "--allow-internal-ip",
		"--leader-elect-lease-duration=20s", "--leader-elect-resource-name=x", "--client-qps=20", "--client-burst=30")
	if code == 0 {
		t.Fatal("serve with a missing kubeconfig succeeded")
	}
	if !strings.Contains(errOut, "warning: --allow-internal-ip is no longer supported") || strings.Contains(errOut, "flag provided but not defined") {
		t.Errorf("stderr %q", errOut)
	}
}

// The original's key and Gateway API flags: the periods and the class
// controller are aliases, --nghttpx-secret is taken, the rest warn.
func TestServeAcceptsOriginalKeyAndGatewayFlags(t *testing.T) {
	code, _, errOut := run(t, "serve", "--kubeconfig=/nonexistent", "--nghttpx-secret=nghttpx-km", "--share-tls-ticket-key",
		"--tls-ticket-key-period=2h", "--quic-secret-period=3h", "--stale-assets-threshold=1h", "--gateway-api",
		"--gateway-class-controller=zlab.co.jp/nghttpx", "--feature-gates=A=true")
	if code == 0 {
		t.Fatal("serve with a missing kubeconfig succeeded")
	}
	if strings.Contains(errOut, "flag provided but not defined") || strings.Contains(errOut, "--nghttpx-secret \"") {
		t.Errorf("a flag was refused: %q", errOut)
	}
	for _, f := range []string{"share-tls-ticket-key", "stale-assets-threshold", "gateway-api", "feature-gates"} {
		if !strings.Contains(errOut, "warning: --"+f+" is no longer supported") {
			t.Errorf("no warning for --%s: %q", f, errOut)
		}
	}
	for _, bad := range []string{"a/b/c", "Upper", "ns/"} {
		code, _, errOut := run(t, "serve", "--kubeconfig=/nonexistent", "--nghttpx-secret="+bad)
		if code == 0 || !strings.Contains(errOut, "--nghttpx-secret") {
			t.Errorf("--nghttpx-secret=%s: code %d, stderr %q", bad, code, errOut)
		}
	}
	if code, _, errOut := run(t, "serve", "--kubeconfig=/nonexistent", "--serve-ingress=false", "--nghttpx-secret=nghttpx-km"); code == 0 ||
		!strings.Contains(errOut, "needs the Ingress front-end") {
		t.Errorf("--nghttpx-secret without the Ingress front-end: code %d, stderr %q", code, errOut)
	}
}

func TestParseNghttpxSecret(t *testing.T) {
	for in, want := range map[string]string{"": "/", "nghttpx-km": "sys/nghttpx-km", "ing/keys": "ing/keys"} {
		got, err := parseNghttpxSecret(in, "sys")
		if err != nil || got.Namespace+"/"+got.Name != want {
			t.Errorf("parseNghttpxSecret(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}
