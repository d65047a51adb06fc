package proxyagent

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
)

// Status is the body of GET /status.
type Status struct {
	// ModelHash is model.Hash of the configuration nghttpx runs ("" before the
	// first apply).
	ModelHash string `json:"modelHash"`
	// Applied is true when the latest model was applied; false while it is
	// pending or after it failed (Error says why; the previous one keeps serving).
	Applied      bool   `json:"applied"`
	Error        string `json:"error,omitempty"`
	Draining     bool   `json:"draining"`
	Reloads      int64  `json:"reloads"`
	BackendPosts int64  `json:"backendPosts"`
	RouteWrites  int64  `json:"routeWrites"`
	Restarts     int64  `json:"restarts"`
	// Features are the data plane's detected nghttpx features (nil when not
	// probed): the controller reads Features.OCSP to tell whether listeners
	// can have their OCSP responses stapled.
	Features *features.Features `json:"features,omitempty"`
}

// state is what the admin handlers report; the agent updates it.
type state struct {
	mu       sync.Mutex
	hash     string
	applied  bool
	ready    bool // a configuration was applied once
	draining bool
	err      string
	counters func(*Status)
	features *features.Features // set once by New
	metrics  http.Handler       // set once by New
	// token, when set, returns what /status requires in keys.AdminTokenHeader
	// (nil while the keys Secret has not been read: /status then refuses).
	token func() []byte
}

func (s *state) snapshot() Status {
	s.mu.Lock()
	st := Status{ModelHash: s.hash, Applied: s.applied, Error: s.err, Draining: s.draining, Features: s.features}
	counters := s.counters
	s.mu.Unlock()
	if counters != nil {
		counters(&st)
	}
	return st
}

func (s *state) handler() http.Handler {
	mux := http.NewServeMux()
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		ready, draining := s.ready, s.draining
		s.mu.Unlock()
		switch {
		case draining:
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case !ready:
			http.Error(w, "no configuration applied yet", http.StatusServiceUnavailable)
		default:
			w.Write([]byte("ok\n"))
		}
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		// The port is reachable from every pod of the cluster (kubelet probes
		// need /healthz and /readyz there); /status says more, so only the
		// holders of the Gateway's keys Secret may read it.
		if s.token != nil {
			tok := s.token()
			switch {
			case tok == nil:
				http.Error(w, "no admin token yet (the Gateway's keys Secret has not been read)", http.StatusServiceUnavailable)
				return
			case !keys.AdminTokenMatches(tok, r.Header.Get(keys.AdminTokenHeader)):
				http.Error(w, "/status needs the admin token of the Gateway's keys Secret in "+keys.AdminTokenHeader, http.StatusUnauthorized)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.snapshot())
	})
	return mux
}
