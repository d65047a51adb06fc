package controller

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/nghttpx-gateway/nghttpx-gateway/kube/healthport"
)

// builtCheck is readiness: the first translation after the caches synced ran,
// the controller's counterpart of the original's "nghttpx reloaded once" (its
// pods are ready once their nghttpx has a configuration; ours translate, and
// the data planes report their own readiness).
func (c *Controller) builtCheck(*http.Request) error {
	if !c.built.Load() {
		return errors.New("the first translation has not run yet")
	}
	return nil
}

// addHealthPort serves Options.HealthzAddr (--healthz-port): /healthz,
// /readyz, /metrics and, with Options.Profiling, pprof, as the original
// nghttpx Ingress controller's health port does.
func (c *Controller) addHealthPort() error {
	if c.opts.HealthzAddr == "" || c.opts.HealthzAddr == "0" {
		return nil
	}
	hp := &healthport.Server{
		Healthz:   []healthport.Check{{Name: "ping", Func: healthz.Ping}},
		Readyz:    []healthport.Check{{Name: "ping", Func: healthz.Ping}, {Name: "built", Func: c.builtCheck}},
		Profiling: c.opts.Profiling,
		Metrics:   promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}),
	}
	if c.opts.InPod != nil {
		// The original's checks: nghttpx runs, and it was configured once.
		hp.Healthz = append(hp.Healthz, healthport.Check{Name: "nghttpx", Func: c.inPodHealthz})
		hp.Readyz = append(hp.Readyz, healthport.Check{Name: "nghttpx", Func: c.inPodReadyz})
	}
	// A manager.Server starts with the manager's other HTTP servers, before the
	// caches sync, so liveness answers while they do.
	shutdown := 5 * time.Second
	return c.mgr.Add(&manager.Server{
		Name:            "healthport",
		Server:          &http.Server{Addr: c.opts.HealthzAddr, Handler: hp.Handler(), ReadHeaderTimeout: 10 * time.Second},
		ShutdownTimeout: &shutdown,
	})
}
