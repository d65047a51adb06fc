package proxyagent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/instance"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/recheck"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// BindAddress is what the data plane binds in its pod: the Service in front of
// the pod carries the Gateway's address.
const BindAddress = "0.0.0.0"

// DataPlane is the nghttpx of the agent's instance (an *apply.Applier in
// production, instance.Nghttpx).
type DataPlane = instance.Process

// Options configure an Agent.
type Options struct {
	// Gateway is the one Gateway this agent serves.
	Gateway        types.NamespacedName
	ControllerName string
	// AdminAddr serves /healthz, /readyz and /status (default ":9901").
	AdminAddr string
	// StateDir is the parent of the Gateway's nghttpx state directory.
	StateDir string
	// Render carries workers, features and HTTP/3 (settings.RenderOptions);
	// StateDir is set here, and the ports are the instance's (APIPort 0: a free
	// one).
	Render render.Options
	// NewDataPlane makes the data plane for a state directory.
	NewDataPlane instance.NewProcess
	// DrainPeriod is how long readiness fails before nghttpx stops (default 5s).
	DrainPeriod time.Duration
	// StopTimeout bounds nghttpx's graceful stop (default 30s).
	StopTimeout time.Duration
	// Ingress, when set, means the Gateway is a synthetic one of the Ingress
	// shim: the agent also watches Ingresses, IngressClasses and the operator
	// ConfigMap and runs the shim with these options, which must be the
	// controller's so that both compute the same model.
	Ingress *ingressshim.Options
	// ProxyProtocol is --proxy-proto: every TCP listener requires a PROXY
	// protocol header. For a synthetic Gateway it is the Ingress controller's
	// flag; for a real one the controller sets it from the Gateway's resolved
	// settings (GatewayClass parameters, annotation).
	ProxyProtocol bool
	// KeysSecret names the Secret, in the Gateway's namespace, with the QUIC and
	// TLS ticket keys all replicas share (provision.KeysName; see keys.go).
	// Empty: nghttpx keeps its own per-process keys.
	KeysSecret string
	// NghttpxSecret, with KeysSecret, names the original nghttpx Ingress
	// controller's keys Secret (its --nghttpx-secret): the QUIC and TLS ticket
	// keys come from it, in that controller's format, so that its pods and ours
	// share them during a migration (keys.go). The admin token still comes from
	// KeysSecret. With Clientset it is read by name (source.Named).
	NghttpxSecret types.NamespacedName
	// Clientset, when set, makes the agent read every Secret and ConfigMap it
	// uses by name (source.Named: one list and watch per object with field
	// selector metadata.name), which RBAC grants by resourceNames; the cache
	// from NewCache then holds no Secret but the keys Secret and no ConfigMap.
	Clientset kubernetes.Interface
	// OCSP is OCSP stapling from certificate Secrets (--ocsp-stapling), as the
	// controller translates it, so that both compute the same model.
	OCSP translate.OCSPOptions
	// Features are the detected features of the data plane's nghttpx,
	// reported on /status (nil: not reported).
	Features *features.Features
	// Metrics, when set, is served on the admin port as GET /metrics (no
	// token: Prometheus scrapes the pod, and the metrics hold no secret).
	Metrics http.Handler
	// AccessLog receives nghttpx's access log (nil: the instance's own sink).
	AccessLog *accesslog.Sink
	// Stats, when set, exports the data plane's apply counters.
	Stats *apply.StatsSet
	Log   logr.Logger
}

// Agent serves one Gateway.
type Agent struct {
	opts Options
	st   state
	// inst is the Gateway's data plane: its ports, the mirror tee (from Run on;
	// mirrors are off until then) and nghttpx (from the first Sync on).
	inst *instance.Instance
	// retry re-runs a failed build after a backoff.
	retry time.Duration
	// keys follows the keys Secret (nil without Options.KeysSecret) through
	// reader, the started cache.
	keys   *sharedKeys
	reader client.Reader
	// recheck rebuilds when a translation's OCSPRecheck passes (set by Run).
	recheck *recheck.Timer
	// notify is the build loop's Notify (a func(), set by Run): shutdown
	// rebuilds so /nghttpx-healthz turns 503.
	notify atomic.Value
}

// New checks opts.
func New(opts Options) (*Agent, error) {
	if opts.Gateway.Name == "" || opts.Gateway.Namespace == "" {
		return nil, errors.New("proxy: the Gateway namespace and name are required")
	}
	if opts.NewDataPlane == nil {
		return nil, errors.New("proxy: no data plane")
	}
	if opts.ControllerName == "" {
		opts.ControllerName = translate.DefaultControllerName
	}
	if opts.AdminAddr == "" {
		opts.AdminAddr = ":9901"
	}
	if opts.DrainPeriod == 0 {
		opts.DrainPeriod = 5 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	dir, err := filepath.Abs(opts.StateDir)
	if err != nil || opts.StateDir == "" {
		return nil, fmt.Errorf("proxy: state directory %q: %w", opts.StateDir, err)
	}
	opts.StateDir = dir
	a := &Agent{opts: opts}
	gwDir := pipeline.StateDirFor(opts.StateDir, &model.Gateway{Source: model.ObjectRef{Namespace: opts.Gateway.Namespace, Name: opts.Gateway.Name}})
	a.inst, err = instance.New(instance.Options{StateDir: gwDir, APIPort: opts.Render.APIPort, NewProcess: opts.NewDataPlane, Log: opts.Log,
		AccessLog: opts.AccessLog, Stats: opts.Stats, Gateway: opts.Gateway.String()})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	a.st.counters = a.counters
	a.st.features = opts.Features
	a.st.metrics = opts.Metrics
	if opts.KeysSecret != "" {
		a.keys = &sharedKeys{secret: types.NamespacedName{Namespace: opts.Gateway.Namespace, Name: opts.KeysSecret},
			original: opts.NghttpxSecret, log: opts.Log.WithName("keys")}
		a.st.token = a.keys.adminToken
	}
	return a, nil
}

// Handler serves the admin endpoints.
func (a *Agent) Handler() http.Handler { return a.st.handler() }

// Status returns what /status reports.
func (a *Agent) Status() Status { return a.st.snapshot() }

func (a *Agent) counters(s *Status) {
	st := a.inst.Stats()
	if st == nil {
		return
	}
	s.Reloads, s.BackendPosts, s.RouteWrites, s.Restarts = st.Reloads.Load(), st.BackendPosts.Load(), st.RouteWrites.Load(), st.Restarts.Load()
}

// NewCache returns a cache for what the agent watches: its own Gateway only (by
// name), everything else cluster-wide (routes may come from any namespace and
// may reference Services and Secrets across namespaces). With ing (a synthetic
// Gateway of the Ingress shim) Ingresses are limited to --watch-namespace and
// ConfigMaps to the operator ConfigMap.
//
// keysSecret, when set, is the only Secret the cache holds (by name, in the
// Gateway's namespace), for an agent with Options.Clientset: its other Secrets
// and ConfigMaps are read by name, not cached.
func NewCache(cfg *rest.Config, gw types.NamespacedName, ing *ingressshim.Options, keysSecret string) (cache.Cache, error) {
	scheme, err := source.NewScheme()
	if err != nil {
		return nil, err
	}
	byObject := map[client.Object]cache.ByObject{
		&gatewayv1.Gateway{}: {
			Namespaces: map[string]cache.Config{gw.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", gw.Name),
		},
	}
	if ing != nil {
		maps.Copy(byObject, source.IngressCacheOptions(&source.Ingress{Shim: *ing}))
	}
	if keysSecret != "" {
		byObject[&corev1.Secret{}] = cache.ByObject{
			Namespaces: map[string]cache.Config{gw.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", keysSecret),
		}
	}
	return cache.New(cfg, cache.Options{Scheme: scheme, ByObject: byObject})
}

// sourceIngress is the Source's Ingress configuration (nil for a real Gateway).
func (a *Agent) sourceIngress() *source.Ingress {
	if a.opts.Ingress == nil {
		return nil
	}
	return &source.Ingress{Shim: *a.opts.Ingress}
}

// Run serves until ctx is done, then drains and stops nghttpx. c must not be
// started yet; Run starts it.
func (a *Agent) Run(ctx context.Context, c cache.Cache) error {
	log := a.opts.Log
	ln, err := net.Listen("tcp", a.opts.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin port: %w", err)
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "admin server stopped")
		}
	}()
	defer srv.Close()
	// The RequestMirror tee outlives nghttpx's graceful stop (shutdown closes
	// the instance).
	if err := a.inst.StartMirror(ctx); err != nil {
		return err
	}

	// The loop outlives ctx by the drain period: endpoints keep changing while
	// in-flight traffic drains.
	loopCtx, stopLoop := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoop()
	cacheErr := make(chan error, 1)
	go func() { cacheErr <- c.Start(loopCtx) }()

	var named *source.Named
	if a.opts.Clientset != nil {
		named = source.NewNamed(loopCtx, a.opts.Clientset)
		if a.keys != nil {
			a.keys.named = named
		}
	}
	src := source.New(c, source.Options{ControllerName: a.opts.ControllerName, Gateway: a.opts.Gateway, Ingress: a.sourceIngress(),
		Named: named, Log: log})
	b := &source.Batcher{}
	a.notify.Store(b.Notify)
	// A stapled OCSP response expires with no object changing: rebuild then.
	a.recheck = &recheck.Timer{Fire: b.Notify}
	defer a.recheck.Stop()
	loopDone := make(chan struct{})
	watchErr := make(chan error, 1)
	go func() {
		defer close(loopDone)
		syncCtx, cancel := context.WithTimeout(loopCtx, 5*time.Minute)
		err := src.Start(syncCtx, b.Notify)
		cancel()
		if err == nil && a.keys != nil {
			a.reader = c
			err = a.keys.watch(loopCtx, c, b.Notify)
		}
		if err != nil {
			watchErr <- err
			return
		}
		log.Info("caches synced; building")
		b.Notify()
		b.Run(loopCtx, func(ctx context.Context) { a.build(ctx, src, b) })
	}()

	select {
	case <-ctx.Done():
	case err := <-cacheErr:
		a.shutdown(loopDone, stopLoop, 0)
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		return fmt.Errorf("cache: %w", err)
	case err := <-watchErr:
		// Nothing was served yet (readiness never passed): exit so the pod restarts.
		a.shutdown(loopDone, stopLoop, 0)
		return fmt.Errorf("watching the API server (check the proxy's RBAC): %w", err)
	}
	a.shutdown(loopDone, stopLoop, a.drainPeriod())
	return nil
}

// drainPeriod is how long readiness fails before nghttpx stops: the drain
// period, or the original's --deferred-shutdown-period when longer.
func (a *Agent) drainPeriod() time.Duration {
	if a.opts.Ingress != nil {
		return max(a.opts.DrainPeriod, a.opts.Ingress.DeferredShutdownPeriod)
	}
	return a.opts.DrainPeriod
}

// shutdown fails readiness, waits drain, stops the loop and nghttpx.
func (a *Agent) shutdown(loopDone <-chan struct{}, stopLoop func(), drain time.Duration) {
	a.st.mu.Lock()
	a.st.draining = true
	a.st.mu.Unlock()
	// An Ingress data plane's /nghttpx-healthz turns 503 (Sync reads draining).
	if n, ok := a.notify.Load().(func()); ok && a.opts.Ingress != nil && a.opts.Ingress.DeferredShutdownPeriod > 0 {
		n()
	}
	if drain > 0 {
		a.opts.Log.Info("draining: readiness fails, nghttpx keeps serving", "period", drain)
		time.Sleep(drain)
	}
	stopLoop()
	<-loopDone
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.StopTimeout)
	defer cancel()
	if err := a.inst.Close(ctx); err != nil {
		a.opts.Log.Error(err, "stopping nghttpx")
	}
}

// snapshotter is what build needs from a source.Source.
type snapshotter interface {
	Snapshot(ctx context.Context) (*load.Input, error)
}

// build translates, renders and applies one batch; a failure is retried with
// backoff (the last good configuration keeps serving).
func (a *Agent) build(ctx context.Context, src snapshotter, b *source.Batcher) {
	if a.keys != nil && a.reader != nil {
		a.keys.refresh(ctx, a.reader)
	}
	in, err := src.Snapshot(ctx)
	if err == nil {
		err = a.Sync(ctx, in)
	}
	if err == nil {
		a.retry = 0
		return
	}
	a.retry = min(max(2*a.retry, 500*time.Millisecond), 30*time.Second)
	a.opts.Log.Error(err, "configuration not applied; retrying", "in", a.retry)
	time.AfterFunc(a.retry, b.Notify)
}

// Sync brings the data plane to what in says about the agent's Gateway.
func (a *Agent) Sync(ctx context.Context, in *load.Input) error {
	gw := a.opts.Gateway
	ro := a.opts.Render
	var keyFiles map[string][]byte
	gwDir := a.inst.StateDir()
	if a.keys != nil {
		keyFiles = a.keys.configure(&ro, gwDir)
	}
	po := pipeline.Options{
		Gateway: translate.Options{
			ControllerName: a.opts.ControllerName,
			BindAddresses:  []string{BindAddress},
			OCSP:           a.opts.OCSP,
			Now:            metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
			// Without the nghttpx patch, listeners with client certificate
			// validation are left out (the rest keeps serving); the model then
			// differs from the controller's, so the Gateway is not Programmed.
			NoClientValidation: !ro.Features.ClientVerify,
			// The controller resolved the class parameters; their effect
			// arrives as flags (ProxyProtocol, Render.HTTP3,
			// Render.QUICRequireToken), and this role
			// cannot read the parameters ConfigMap.
			SkipParameters: true,
		},
		Render:   ro,
		StateDir: a.opts.StateDir,
	}
	ports := a.inst.Ports()
	po.Render.APIPort, po.Render.MirrorTeePort, po.Render.MirrorInternalPort = ports.API, ports.MirrorTee, ports.MirrorInternal
	po.Gateway.ReservedPorts = a.reservedPorts()
	if a.opts.Ingress != nil {
		po.Ingress, po.ProxyProtocol = *a.opts.Ingress, a.opts.ProxyProtocol
		po.Ingress.ShuttingDown = a.draining()
	} else {
		// A real Gateway: the pipeline renders Render.ProxyProtocol for it.
		po.Render.ProxyProtocol = a.opts.ProxyProtocol
	}
	out := pipeline.Build(in, po)
	a.recheck.Set(out.Translation.OCSPRecheck)
	var rg *pipeline.RenderedGateway
	for i := range out.Gateways {
		if s := out.Gateways[i].Model.Source; s.Namespace == gw.Namespace && s.Name == gw.Name {
			rg = &out.Gateways[i]
		}
	}
	if rg == nil {
		// Not ours, not accepted, or nothing to serve: keep what runs (a deleted
		// Gateway's pods are garbage-collected anyway).
		a.setResult("", errors.New("the Gateway has no configuration to serve (missing, not accepted, or no valid listener)"))
		a.opts.Log.Info("nothing to serve for the Gateway; keeping the current configuration", "gateway", gw.String())
		return nil
	}
	if rg.Err != nil {
		a.setResult("", rg.Err)
		return rg.Err
	}
	for _, d := range rg.Config.Dropped {
		a.opts.Log.Info("part of the Gateway cannot be expressed and is not served (a translator bug; please report it)",
			"what", d.What, "reason", d.Reason, "object", d.Source.Kind+" "+d.Source.Namespace+"/"+d.Source.Name)
	}
	hash := model.Hash(rg.Model)
	cfg := *rg.Config
	if keyFiles != nil && rg.StateDir == gwDir {
		// The applier writes them and reloads nghttpx when they change.
		cfg.Files = maps.Clone(cfg.Files)
		if cfg.Files == nil {
			cfg.Files = map[string][]byte{}
		}
		maps.Copy(cfg.Files, keyFiles)
	}
	if rg.StateDir != gwDir {
		return fmt.Errorf("the Gateway's state directory %s is not the instance's %s (a bug)", rg.StateDir, gwDir)
	}
	running := a.inst.Running()
	err := a.inst.Apply(ctx, cfg)
	if err == nil && !running {
		a.opts.Log.Info("nghttpx started", "stateDir", rg.StateDir, "modelHash", hash)
	}
	if err != nil {
		err = fmt.Errorf("apply configuration %s: %w", hash[:12], err)
		a.setResult("", err)
		return err
	}
	a.setResult(hash, nil)
	a.opts.Log.V(1).Info("configuration applied", "modelHash", hash)
	return nil
}

// setResult records an apply: hash is the applied model's, or "" when the
// latest model was not applied (err says why).
func (a *Agent) setResult(hash string, err error) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	if err != nil {
		a.st.applied, a.st.err = false, err.Error()
		return
	}
	a.st.hash, a.st.applied, a.st.err, a.st.ready = hash, true, "", true
}

// reservedPorts are the ports of this pod the agent and nghttpx use besides the
// listeners: a listener on one is not accepted (the controller reserves the admin
// port too, so both translate the Gateway alike).
func (a *Agent) reservedPorts() map[int32]string {
	r := map[int32]string{}
	if _, ps, err := net.SplitHostPort(a.opts.AdminAddr); err == nil {
		if p, err := strconv.Atoi(ps); err == nil {
			r[int32(p)] = "the proxy's admin endpoint"
		}
	}
	return a.inst.ReservedPorts(r)
}

// draining reports whether shutdown began.
func (a *Agent) draining() bool {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	return a.st.draining
}
