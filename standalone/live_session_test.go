//go:build integration

package standalone_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// TestLiveSessionPersistence: an HTTPRoute rule with sessionPersistence sets
// nghttpx's affinity cookie on the first answer, and requests carrying it stay on
// one endpoint of a two-Service split; requests without it are spread.
func TestLiveSessionPersistence(t *testing.T) {
	l := &live{t: t, dir: t.TempDir(), echo: map[string]*testenv.Echo{}, appliers: map[string]*apply.Applier{}}
	for _, p := range []string{"a", "b"} {
		l.echo[p] = testenv.StartEcho(t, p)
	}
	l.port = testenv.FreePort(t)
	l.write("gateway.yaml", gatewayYAML(l.port))
	l.write("a.yaml", l.serviceYAML("svc-a", "a"))
	l.write("b.yaml", l.serviceYAML("svc-b", "b"))
	l.write("route.yaml", routeYAML("sticky", "sticky.example", `  - sessionPersistence: {sessionName: shop-session}
    backendRefs: [{name: svc-a, port: 80}, {name: svc-b, port: 80}]
`))
	l.start(context.Background())
	eventually(t, "the route serves", 15*time.Second, func() error {
		_, err := pod(l.port, "sticky.example", "/")
		return err
	})

	// Without the cookie: both pods answer, each answer sets it.
	seen := map[string]int{}
	var cookie *http.Cookie
	for range 20 {
		req := request(l.port, "sticky.example", "/")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var got *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "shop-session" {
				got = c
			}
		}
		if got == nil {
			t.Fatalf("no shop-session cookie in %v", resp.Header.Values("Set-Cookie"))
		}
		if got.Path != "/" || got.MaxAge != 0 || !got.Expires.IsZero() {
			t.Errorf("cookie %q: want a session cookie on path /", resp.Header.Get("Set-Cookie"))
		}
		cookie = got
		p, err := pod(l.port, "sticky.example", "/")
		if err != nil {
			t.Fatal(err)
		}
		seen[p]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("without the cookie: %v, want both pods", seen)
	}
	// With it: always the same pod.
	first := ""
	for i := range 30 {
		req := request(l.port, "sticky.example", "/")
		req.AddCookie(cookie)
		e, err := testenv.DoEcho(req)
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = e.Pod
		}
		if e.Pod != first {
			t.Fatalf("request %d with cookie %s went to %s, earlier ones to %s", i, cookie, e.Pod, first)
		}
	}
	t.Logf("cookie %s pins pod %s; without it: %v", fmt.Sprint(cookie), first, seen)
}
