package proxyagent

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// The class of the Gateway names a parameters ConfigMap that the proxy cannot
// read (it is not in its input); the controller, which can, sees it.
const paramsClass = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec:
  controllerName: zlab.co.jp/nghttpx
  parametersRef: {group: "", kind: ConfigMap, name: params, namespace: sys}
`

const paramsConfigMap = `
---
apiVersion: v1
kind: ConfigMap
metadata: {name: params, namespace: sys}
data: {proxyProtocol: "true"}
`

func TestRealGatewayProxyProtocol(t *testing.T) {
	base := strings.Replace(objects, `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: zlab.co.jp/nghttpx}
`, paramsClass, 1)
	if base == objects {
		t.Fatal("test objects changed: GatewayClass not replaced")
	}
	proxyIn, err := load.DecodeYAML([]byte(strings.ReplaceAll(base, "ENDPOINT", "10.244.0.10")))
	if err != nil {
		t.Fatal(err)
	}
	ctrlIn, err := load.DecodeYAML([]byte(strings.ReplaceAll(base+paramsConfigMap, "ENDPOINT", "10.244.0.10")))
	if err != nil {
		t.Fatal(err)
	}
	// The controller's view: the class is accepted with its parameters.
	res := translate.Translate(ctrlIn, translate.Options{})
	if len(res.Models) != 1 || res.Models[0].Settings == nil || !res.Models[0].Settings.ProxyProtocol {
		t.Fatalf("controller model settings: %+v", res.Models)
	}

	for _, pp := range []bool{true, false} {
		dp := &fakeDP{}
		a, err := New(Options{
			Gateway:       types.NamespacedName{Namespace: "ns", Name: "gw"},
			StateDir:      t.TempDir(),
			Render:        render.Options{APIPort: 9999},
			ProxyProtocol: pp,
			NewDataPlane:  func(string) (DataPlane, error) { return dp, nil },
			Log:           testr.New(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Sync(context.Background(), proxyIn); err != nil {
			t.Fatal(err)
		}
		if dp.starts != 1 {
			t.Fatalf("--proxy-proto=%v: the Gateway was not served (class parameters not skipped?)", pp)
		}
		main := string(dp.last.Main)
		if got := strings.Contains(main, "frontend=0.0.0.0,80;no-tls;proxyproto"); got != pp {
			t.Errorf("--proxy-proto=%v: proxyproto frontend %v in\n%s", pp, got, main)
		}
		// Programmed compares hashes: the proxy's must equal the controller's.
		if got, want := a.Status().ModelHash, model.Hash(res.Models[0]); got != want {
			t.Errorf("--proxy-proto=%v: proxy hash %s, controller hash %s", pp, got, want)
		}
	}
}
