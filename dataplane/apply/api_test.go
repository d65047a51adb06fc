package apply

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

func TestAPIAddr(t *testing.T) {
	for main, want := range map[string]string{
		"frontend=127.0.0.1,3000;no-tls\nfrontend=127.0.0.1,15000;api;no-tls\n": "127.0.0.1:15000",
		"frontend=*,15001;no-tls;api\n":                                         "127.0.0.1:15001",
		"frontend=::1,15002;api;no-tls\n":                                       "[::1]:15002",
		"  frontend=0.0.0.0,15003;api\n":                                        "127.0.0.1:15003",
	} {
		got, err := apiAddr([]byte(main))
		if err != nil || got != want {
			t.Errorf("apiAddr(%q) = %q, %v; want %q", main, got, err, want)
		}
	}
	for _, main := range []string{
		"frontend=127.0.0.1,3000;no-tls\n",
		"frontend=unix:/run/api.sock;api\n",
		"frontend=127.0.0.1,http;api\n",
		"# frontend=127.0.0.1,15000;api\n",
		"frontend=127.0.0.1,15000;apix\n",
	} {
		if got, err := apiAddr([]byte(main)); err == nil {
			t.Errorf("apiAddr(%q) = %q, want an error", main, got)
		}
	}
}

// fakeAPI answers like nghttpx's API frontend and records backendconfig bodies.
func fakeAPI(t *testing.T, backendStatus int) (addr string, bodies chan string) {
	bodies = make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == revisionPath:
			io.WriteString(w, `{"status":"Success","code":200,"data":{"configRevision":7}}`)
		case r.Method == http.MethodPost && r.URL.Path == backendPath:
			b, _ := io.ReadAll(r.Body)
			bodies <- string(b)
			w.WriteHeader(backendStatus)
			if backendStatus == http.StatusOK {
				io.WriteString(w, `{"status":"Success","code":200}`)
			} else {
				io.WriteString(w, `{"status":"Failure","code":400}`)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), bodies
}

func TestAPIClient(t *testing.T) {
	ctx := context.Background()
	c := newAPIClient()
	addr, bodies := fakeAPI(t, http.StatusOK)
	rev, err := c.revision(ctx, addr)
	if err != nil || rev != 7 {
		t.Fatalf("revision = %d, %v; want 7", rev, err)
	}
	groups := []render.BackendGroup{{Key: "a", Lines: []string{"backend=127.0.0.1,1;/a/", "backend=127.0.0.1,2;/a/"}}, {Key: "b", Lines: []string{"backend=127.0.0.1,3;/b/"}}}
	if err := c.postBackends(ctx, addr, groups, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := <-bodies, "backend=127.0.0.1,1;/a/\nbackend=127.0.0.1,2;/a/\nbackend=127.0.0.1,3;/b/\n"; got != want {
		t.Errorf("body %q, want %q (every line ends with a newline)", got, want)
	}

	bad, _ := fakeAPI(t, http.StatusBadRequest)
	if err := c.postBackends(ctx, bad, groups, time.Second); !errors.Is(err, ErrRejected) {
		t.Errorf("400 Failure: err %v, want ErrRejected", err)
	}
	notAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer notAPI.Close()
	if _, err := c.revision(ctx, strings.TrimPrefix(notAPI.URL, "http://")); err == nil || errors.Is(err, ErrRejected) {
		t.Errorf("non-JSON answer: err %v, want a transient error", err)
	}
}

func TestValidate(t *testing.T) {
	ok := base()
	if err := validate(ok); err != nil {
		t.Fatalf("base config: %v", err)
	}
	for name, change := range map[string]func(c *render.Config){
		"no main":        func(c *render.Config) { c.Main = nil },
		"no API":         func(c *render.Config) { c.Main = []byte("frontend=127.0.0.1,80;no-tls\n") },
		"escaping file":  func(c *render.Config) { c.Files["../x"] = nil },
		"absolute file":  func(c *render.Config) { c.Files["/etc/x"] = nil },
		"reserved file":  func(c *render.Config) { c.Files[render.BackendFile] = nil },
		"unclean file":   func(c *render.Config) { c.Files["a//b"] = nil },
		"duplicate key":  func(c *render.Config) { c.Backends = append(c.Backends, c.Backends[0]) },
		"newline inside": func(c *render.Config) { c.Backends[0].Lines = []string{"backend=1,2;/\nworkers=9"} },
		"no backends":    func(c *render.Config) { c.Backends = nil },
	} {
		c := base()
		change(c)
		if err := validate(c); err == nil {
			t.Errorf("%s: validate accepted it", name)
		}
	}
}
