package podrunner

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// serveKubelet serves the part of the kubelet API the API server proxies to:
// container logs (kubectl logs) and health.
func (r *Runner) serveKubelet() (*http.Server, error) {
	addr := net.JoinHostPort(r.cfg.NodeIP.String(), strconv.Itoa(r.cfg.KubeletPort))
	l, err := r.cfg.Netns.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kubelet endpoint %s: %w", addr, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{r.cfg.KubeletCert}, MinVersion: tls.VersionTLS12}
	if r.cfg.ClientCA != nil {
		tc.ClientCAs = r.cfg.ClientCA
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", r.handleLogs)
	srv := &http.Server{Handler: mux, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ServeTLS(l, "", ""); err != nil && err != http.ErrServerClosed {
			r.log.Error(err, "kubelet endpoint stopped")
		}
	}()
	return srv, nil
}

func (r *Runner) handleLogs(w http.ResponseWriter, req *http.Request) {
	ns, name, cname := req.PathValue("ns"), req.PathValue("pod"), req.PathValue("container")
	pw := r.worker(ns, name)
	if pw == nil {
		http.Error(w, fmt.Sprintf("pod %s/%s is not running on this node", ns, name), http.StatusNotFound)
		return
	}
	c := pw.container(cname)
	if c == nil {
		http.Error(w, fmt.Sprintf("container %q is not in pod %s/%s", cname, ns, name), http.StatusNotFound)
		return
	}
	q := req.URL.Query()
	opts := logOptions{
		follow:     q.Get("follow") == "true",
		timestamps: q.Get("timestamps") == "true",
		tailLines:  -1,
	}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "invalid tailLines", http.StatusBadRequest)
			return
		}
		opts.tailLines = n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "invalid limitBytes", http.StatusBadRequest)
			return
		}
		opts.limitBytes = n
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "invalid sinceSeconds", http.StatusBadRequest)
			return
		}
		opts.since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			http.Error(w, "invalid sinceTime", http.StatusBadRequest)
			return
		}
		opts.since = t
	}
	c.mu.Lock()
	lf := c.log
	if q.Get("previous") == "true" {
		lf = c.prevLog
		if c.log != nil && c.log.finished() {
			lf = c.log // nothing runs now (back-off or done): the last instance is the previous one
		}
	}
	c.mu.Unlock()
	if lf == nil {
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s has no logs yet", cname, ns, name), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	bw := bufio.NewWriter(w)
	out := &flushWriter{bw: bw, rw: w}
	if err := lf.serve(req.Context(), out, opts); err != nil {
		r.log.V(1).Info("serving logs", "pod", ns+"/"+name, "container", cname, "err", err)
	}
	out.Flush()
}

// flushWriter pushes each record to the client so follow streams promptly.
type flushWriter struct {
	bw *bufio.Writer
	rw http.ResponseWriter
}

func (f *flushWriter) Write(p []byte) (int, error) { return f.bw.Write(p) }

func (f *flushWriter) Flush() {
	_ = f.bw.Flush()
	if fl, ok := f.rw.(http.Flusher); ok {
		fl.Flush()
	}
}
