//go:build integration

package standalone_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// TestLiveMirror runs a RequestMirror route through `run`: the runner starts the
// Gateway's tee, the first mirroring route adds nghttpx's internal frontend (one
// reload), the primary answers and the mirror's echo-basic logs the copy.
func TestLiveMirror(t *testing.T) {
	l := &live{t: t, dir: t.TempDir(), echo: map[string]*testenv.Echo{}, appliers: map[string]*apply.Applier{}}
	for _, p := range []string{"a", "s"} {
		l.echo[p] = testenv.StartEcho(t, p)
	}
	l.port = testenv.FreePort(t)
	l.write("gateway.yaml", gatewayYAML(l.port))
	l.write("app.yaml", l.serviceYAML("app", "a"))
	l.write("shadow.yaml", l.serviceYAML("shadow", "s"))
	l.write("stable.yaml", routeYAML("stable", "stable.example", stableRoute))
	l.start(context.Background())
	eventually(t, "the stable route serves", 15*time.Second, wantPod(l.port, "stable.example", "/", "a"))
	a := l.applier()
	before := snapshot(a)

	l.write("mirror.yaml", routeYAML("mirror", "mirror.example", `  - filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, port: 80}}
    backendRefs: [{name: app, port: 80}]
`))
	id := 0
	eventually(t, "the primary answers and the mirror logs the copy", 15*time.Second, func() error {
		id++
		path := fmt.Sprintf("/m?id=%d", id)
		if err := wantPod(l.port, "mirror.example", path, "a")(); err != nil {
			return err
		}
		line := "Echoing back request made to " + path + " to client"
		for range 50 {
			if strings.Contains(l.echo["s"].Logs(), line) {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("no copy of %s at the mirror", path)
	})
	after := snapshot(a)
	t.Logf("mirror route added: %s -> %s", before, after)
	if after.reloads == before.reloads {
		t.Errorf("no reload: the internal frontend needs one")
	}
	if err := wantPod(l.port, "stable.example", "/", "a")(); err != nil {
		t.Errorf("the stable route after the reload: %v", err)
	}
	e, err := testenv.DoEcho(request(l.port, "mirror.example", "/headers", "X-Ngxgw-Target", "svc-x"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range e.Headers {
		if strings.HasPrefix(strings.ToLower(k), "x-ngxgw-") {
			t.Errorf("internal header %s reached the primary: %q", k, e.Headers[k])
		}
	}
}
