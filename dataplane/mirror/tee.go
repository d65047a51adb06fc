package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// Defaults of Options.
const (
	DefaultMaxBody     = 1 << 20
	DefaultMaxInFlight = 64
	DefaultTimeout     = 10 * time.Second
)

// Options configure a Tee.
type Options struct {
	// Internal is nghttpx's internal frontend, "127.0.0.1:PORT".
	Internal string
	// MaxBody is the largest request body that is mirrored (default 1 MiB).
	MaxBody int64
	// MaxInFlight bounds the copies being sent at once (default 64).
	MaxInFlight int
	// Timeout bounds one copy, answer included (default 10s).
	Timeout time.Duration
	Log     logr.Logger
}

// Stats are the tee's counters.
type Stats struct {
	// Requests forwarded to their primary group.
	Requests atomic.Int64
	// Mirrored copies answered (any status); Failed copies got no answer.
	Mirrored, Failed atomic.Int64
	// Dropped copies: too many in flight. TooLarge: requests whose body was over
	// MaxBody, forwarded without copies.
	Dropped, TooLarge atomic.Int64
}

// Tee forwards requests and their copies to nghttpx's internal frontend.
type Tee struct {
	opts   Options
	base   *url.URL
	tr     *http.Transport
	proxy  *httputil.ReverseProxy
	slots  chan struct{}
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
	stats  Stats
}

// New makes a Tee; opts.Internal is required.
func New(opts Options) (*Tee, error) {
	if _, _, err := net.SplitHostPort(opts.Internal); err != nil || opts.Internal == "" {
		return nil, fmt.Errorf("mirror: internal frontend %q: want host:port", opts.Internal)
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	t := &Tee{
		opts:  opts,
		base:  &url.URL{Scheme: "http", Host: opts.Internal},
		slots: make(chan struct{}, opts.MaxInFlight),
		tr: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
			// Requests go out as they came in: no Accept-Encoding of our own.
			DisableCompression: true,
		},
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.proxy = &httputil.ReverseProxy{
		Rewrite:       t.rewrite,
		Transport:     t.tr,
		FlushInterval: -1, // stream answers as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			t.opts.Log.V(1).Info("forwarding to nghttpx failed", "error", err.Error())
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return t, nil
}

// Stats returns the live counters.
func (t *Tee) Stats() *Stats { return &t.stats }

// Serve serves ln until ctx is done, then stops sending copies.
func (t *Tee) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: t, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		srv.Close()
	}()
	err := srv.Serve(ln)
	close(done)
	t.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("mirror tee: %w", err)
}

// Close cancels the copies in flight and waits for them.
func (t *Tee) Close() {
	t.cancel()
	t.wg.Wait()
	t.tr.CloseIdleConnections()
}

// Wait waits for the copies in flight (tests).
func (t *Tee) Wait() { t.wg.Wait() }

// ServeHTTP forwards r to its primary group and sends its copies.
func (t *Tee) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	primary := r.Header.Get(render.MirrorPrimaryHeader)
	keys := strings.Fields(r.Header.Get(render.MirrorKeysHeader))
	r.Header.Del(render.MirrorPrimaryHeader)
	r.Header.Del(render.MirrorKeysHeader)
	r.Header.Del(render.MirrorTargetHeader)
	if primary == "" {
		http.Error(w, "not a mirrored request", http.StatusBadRequest)
		return
	}
	body, whole, err := t.readBody(r)
	if err != nil {
		http.Error(w, "reading the request body failed", http.StatusBadRequest)
		return
	}
	if whole {
		for _, k := range keys {
			t.copy(r, body, k)
		}
	} else if len(keys) > 0 {
		t.stats.TooLarge.Add(1)
	}
	t.stats.Requests.Add(1)
	r.Header.Set(render.MirrorTargetHeader, primary)
	t.proxy.ServeHTTP(w, r)
}

// readBody buffers up to MaxBody bytes of r's body. whole is false when the body
// is larger: r.Body then still yields all of it, for the primary only.
func (t *Tee) readBody(r *http.Request) (body []byte, whole bool, _ error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true, nil
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, t.opts.MaxBody+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(buf)) > t.opts.MaxBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
		return nil, false, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.ContentLength = int64(len(buf))
	r.TransferEncoding = nil
	return buf, true, nil
}

// rewrite points the primary request at the internal frontend, keeping what the
// client sent (Host, X-Forwarded-*), which ReverseProxy would otherwise change.
func (t *Tee) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(t.base)
	pr.Out.Host = pr.In.Host
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
}

// hopHeaders are not copied to a mirror request (RFC 9110 7.6.1 plus the
// ones ReverseProxy also drops).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// copy sends one copy of r to group key in the background, or counts it as
// dropped when MaxInFlight copies are under way.
func (t *Tee) copy(r *http.Request, body []byte, key string) {
	select {
	case t.slots <- struct{}{}:
	default:
		t.stats.Dropped.Add(1)
		return
	}
	h := r.Header.Clone()
	for _, c := range r.Header.Values("Connection") {
		for _, n := range strings.Split(c, ",") {
			h.Del(strings.TrimSpace(n))
		}
	}
	for _, n := range hopHeaders {
		h.Del(n)
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // send none rather than Go's
	}
	h.Set(render.MirrorTargetHeader, key)
	u := *t.base
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	method, host := r.Method, r.Host
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer func() { <-t.slots }()
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			t.stats.Failed.Add(1)
			return
		}
		req.Header, req.Host = h, host
		resp, err := t.tr.RoundTrip(req)
		if err != nil {
			t.stats.Failed.Add(1)
			t.opts.Log.V(1).Info("mirror copy failed", "group", key, "error", err.Error())
			return
		}
		// Read a little so the connection can be reused; the answer is ignored.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t.stats.Mirrored.Add(1)
	}()
}
