package mirror

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// seen is one request the fake internal frontend received.
type seen struct {
	target, path, host, body string
	header                   http.Header
}

// fakeInternal stands in for nghttpx's internal frontend: it records every
// request and answers with the target it was sent to.
type fakeInternal struct {
	mu    sync.Mutex
	got   []seen
	block chan struct{} // when set, mirror copies wait on it
}

func (f *fakeInternal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	target := r.Header.Get(render.MirrorTargetHeader)
	f.mu.Lock()
	f.got = append(f.got, seen{target: target, path: r.URL.RequestURI(), host: r.Host, body: string(b), header: r.Header.Clone()})
	block := f.block
	f.mu.Unlock()
	if block != nil && target != "primary" {
		<-block
	}
	w.Header().Set("X-Answered-By", target)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, "from "+target)
}

func (f *fakeInternal) byTarget() map[string]seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]seen{}
	for _, s := range f.got {
		out[s.target] = s
	}
	return out
}

func newTee(t *testing.T, opts Options) (*Tee, *fakeInternal, *httptest.Server) {
	t.Helper()
	f := &fakeInternal{}
	internal := httptest.NewServer(f)
	t.Cleanup(internal.Close)
	opts.Internal = strings.TrimPrefix(internal.URL, "http://")
	tee, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(tee)
	t.Cleanup(func() { front.Close(); tee.Close() })
	return tee, f, front
}

func send(t *testing.T, url, method, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url+"/__ngxgw/mirror-tee/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "app.example.com"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// No Accept-Encoding from the test client: the tee must not add one either.
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestPrimaryAnswerAndCopies(t *testing.T) {
	tee, f, front := newTee(t, Options{})
	resp := send(t, front.URL, "POST", "hello body", map[string]string{
		render.MirrorPrimaryHeader: "primary",
		render.MirrorKeysHeader:    "m1 m2",
		"X-Ngxgw-Path":             "/real?x=1",
		"X-Forwarded-For":          "192.0.2.9",
		"X-Forwarded-Proto":        "https",
		"X-Custom":                 "c",
	})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || string(b) != "from primary" || resp.Header.Get("X-Answered-By") != "primary" {
		t.Fatalf("primary answer: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	tee.Wait()
	got := f.byTarget()
	if len(got) != 3 {
		t.Fatalf("want primary + 2 copies, got %v", got)
	}
	for _, target := range []string{"primary", "m1", "m2"} {
		s, ok := got[target]
		if !ok {
			t.Fatalf("nothing sent to %s", target)
		}
		if s.body != "hello body" || s.host != "app.example.com" || s.path != "/__ngxgw/mirror-tee/" {
			t.Errorf("%s: body %q host %q path %q", target, s.body, s.host, s.path)
		}
		for k, want := range map[string]string{"X-Ngxgw-Path": "/real?x=1", "X-Forwarded-For": "192.0.2.9", "X-Forwarded-Proto": "https", "X-Custom": "c"} {
			if v := s.header.Get(k); v != want {
				t.Errorf("%s: %s = %q, want %q", target, k, v, want)
			}
		}
		for _, k := range []string{render.MirrorPrimaryHeader, render.MirrorKeysHeader, "Accept-Encoding"} {
			if v, ok := s.header[http.CanonicalHeaderKey(k)]; ok {
				t.Errorf("%s: header %s leaked: %q", target, k, v)
			}
		}
	}
	st := tee.Stats()
	if st.Requests.Load() != 1 || st.Mirrored.Load() != 2 || st.Failed.Load() != 0 {
		t.Errorf("stats: requests %d mirrored %d failed %d", st.Requests.Load(), st.Mirrored.Load(), st.Failed.Load())
	}
}

func TestTooLargeBodyGoesToPrimaryOnly(t *testing.T) {
	tee, f, front := newTee(t, Options{MaxBody: 8})
	body := strings.Repeat("x", 100)
	resp := send(t, front.URL, "PUT", body, map[string]string{render.MirrorPrimaryHeader: "primary", render.MirrorKeysHeader: "m1"})
	resp.Body.Close()
	tee.Wait()
	got := f.byTarget()
	if len(got) != 1 || got["primary"].body != body {
		t.Fatalf("want the whole body at the primary only, got %v", got)
	}
	if tee.Stats().TooLarge.Load() != 1 {
		t.Errorf("TooLarge = %d", tee.Stats().TooLarge.Load())
	}
}

func TestCopiesBoundedInFlight(t *testing.T) {
	tee, f, front := newTee(t, Options{MaxInFlight: 1})
	f.block = make(chan struct{})
	resp := send(t, front.URL, "GET", "", map[string]string{render.MirrorPrimaryHeader: "primary", render.MirrorKeysHeader: "m1 m2 m3"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("primary status %d", resp.StatusCode)
	}
	if d := tee.Stats().Dropped.Load(); d != 2 {
		t.Errorf("Dropped = %d, want 2 (one slot)", d)
	}
	close(f.block)
	tee.Wait()
	if m := tee.Stats().Mirrored.Load(); m != 1 {
		t.Errorf("Mirrored = %d, want 1", m)
	}
}

func TestCopyTimeout(t *testing.T) {
	tee, f, front := newTee(t, Options{Timeout: 100 * time.Millisecond})
	f.block = make(chan struct{})
	defer close(f.block)
	resp := send(t, front.URL, "GET", "", map[string]string{render.MirrorPrimaryHeader: "primary", render.MirrorKeysHeader: "slow"})
	resp.Body.Close()
	start := time.Now()
	tee.Wait()
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("copy not bounded by the timeout: %s", el)
	}
	if tee.Stats().Failed.Load() != 1 {
		t.Errorf("Failed = %d, want 1", tee.Stats().Failed.Load())
	}
}

func TestRefusesRequestWithoutPrimary(t *testing.T) {
	_, f, front := newTee(t, Options{})
	resp := send(t, front.URL, "GET", "", map[string]string{render.MirrorKeysHeader: "m1"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	if n := len(f.byTarget()); n != 0 {
		t.Fatalf("%d requests forwarded", n)
	}
}

func TestNewNeedsInternal(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without Internal succeeded")
	}
}
