package healthport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// Check is one named health or readiness check; a nil error passes.
type Check struct {
	Name string
	Func func(*http.Request) error
}

// Server is the health port.
type Server struct {
	// Addr is the listen address, ":11249" for the original's default.
	Addr string
	// Healthz and Readyz are the checks behind /healthz and /readyz.
	Healthz, Readyz []Check
	// Profiling serves net/http/pprof under /debug/pprof/.
	Profiling bool
	// Metrics, when set, is served on /metrics.
	Metrics http.Handler
	Log     logr.Logger
}

// Handler returns the health port's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	install(mux, "/healthz", s.Healthz)
	install(mux, "/readyz", s.Readyz)
	if s.Metrics != nil {
		mux.Handle("/metrics", s.Metrics)
	}
	if s.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	return mux
}

// install serves path (all checks) and path/NAME (one check each).
func install(mux *http.ServeMux, path string, checks []Check) {
	kind := strings.TrimPrefix(path, "/")
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { serveChecks(w, r, kind, checks) })
	for _, c := range checks {
		mux.HandleFunc(path+"/"+c.Name, func(w http.ResponseWriter, r *http.Request) {
			serveChecks(w, r, kind, []Check{c})
		})
	}
}

func serveChecks(w http.ResponseWriter, r *http.Request, kind string, checks []Check) {
	excluded := map[string]bool{}
	for _, e := range r.URL.Query()["exclude"] {
		for _, n := range strings.Split(e, ",") {
			excluded[strings.TrimSpace(n)] = true
		}
	}
	var report strings.Builder
	failed := false
	for _, c := range checks {
		if excluded[c.Name] {
			fmt.Fprintf(&report, "[+]%s excluded: ok\n", c.Name)
			continue
		}
		if err := c.Func(r); err != nil {
			failed = true
			// The reason goes to the verbose report only: probes need no detail.
			fmt.Fprintf(&report, "[-]%s failed: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(&report, "[+]%s ok\n", c.Name)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, verbose := r.URL.Query()["verbose"]
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%s%s check failed\n", report.String(), kind)
		return
	}
	if verbose {
		fmt.Fprintf(w, "%s%s check passed\n", report.String(), kind)
		return
	}
	fmt.Fprint(w, "ok")
}

// Start listens on Addr and serves until ctx is done (a manager runnable).
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("health port: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	log := s.Log
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	log.Info("serving the health port", "addr", ln.Addr().String(), "profiling", s.Profiling)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("health port: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// NeedLeaderElection is false: every replica answers its own probes.
func (s *Server) NeedLeaderElection() bool { return false }
