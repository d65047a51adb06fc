package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/recheck"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/status"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// Stats are the controller's counters.
type Stats struct {
	Builds      atomic.Int64
	BuildErrors atomic.Int64
	// LastBuildNanos is the duration of the last snapshot + translation.
	LastBuildNanos atomic.Int64
}

// Controller is the `serve` role.
type Controller struct {
	opts   Options
	mgr    manager.Manager
	cache  cache.Cache
	src    *source.Source
	prov   *provision.Provisioner
	writer *status.Writer
	poll   *poller
	batch  *source.Batcher
	stats  Stats
	log    logr.Logger
	ing    *ingressFrontEnd // nil without Options.Ingress
	// metrics are the controller's series; events records Events on Gateway
	// API objects (leader only).
	metrics *ctrlMetrics
	events  *objectEvents
	keys    *keyRotator // nil with Options.NoSharedKeys
	// elector campaigns for the Lease; nil without Options.LeaderElect (then
	// this replica always leads).
	elector *elector

	dirty     atomic.Bool // inputs changed since the last translation
	leader    atomic.Bool
	built     atomic.Bool // the first translation after sync is done
	provision atomic.Bool // provisioning is due (inputs changed, error, new leader)
	inPodDue  atomic.Bool // the in-pod data plane asked for a Sync (inpod.go)

	// Owned by the batch goroutine.
	in     *load.Input
	out    *pipeline.Output
	retry  time.Duration
	retryT *time.Timer
	addrT  *time.Timer // looks again when a pending static address times out
	// inPodFailed: the last in-pod Sync failed; the next batch retries it.
	inPodFailed bool

	// ocspT translates again when a stapled OCSP response expires (ocsp.go).
	ocspT *recheck.Timer
	// certs are the listener certificates of the last translation; certT runs
	// a batch when the next one enters its CertificateExpiring window.
	certs []listenerCert
	certT *time.Timer
	// provisionErrs are the Gateways the last provisioning failed for.
	provisionErrs map[types.NamespacedName]error
}

// New builds the manager and wires everything; Start runs it.
func New(cfg *rest.Config, opts Options) (*Controller, error) {
	opts = opts.withDefaults()
	scheme, err := source.NewScheme()
	if err != nil {
		return nil, err
	}
	owned := labels.SelectorFromSet(labels.Set{provision.LabelManagedBy: provision.ManagedBy})
	mo := manager.Options{
		Scheme: scheme,
		Logger: opts.Log,
		// Leader election is the elector's (leader.go): the manager's exits the
		// process when a renewal fails.
		LeaderElection:         false,
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress: opts.HealthAddr,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			// Only what we provisioned; Services stay cluster-wide (backends).
			&appsv1.Deployment{}:     {Label: owned},
			&corev1.ServiceAccount{}: {Label: owned},
			// The proxies' access grants (provision.EnsureAccess).
			&rbacv1.Role{}:        {Label: owned},
			&rbacv1.RoleBinding{}: {Label: owned},
		}},
	}
	maps.Copy(mo.Cache.ByObject, source.IngressCacheOptions(opts.Ingress.source()))
	inPodCacheOptions(mo.Cache.ByObject, opts.InPod)
	if opts.InPod != nil {
		// The in-pod data plane drains (up to the deferred shutdown period)
		// before the manager may stop.
		d := 90 * time.Second
		mo.GracefulShutdownTimeout = &d
	}
	// GatewayClass parameters ConfigMaps: the controller's namespace only.
	source.AddParametersCacheOptions(mo.Cache.ByObject, opts.Namespace)
	// Client CA bundles of Gateways may be ConfigMaps anywhere: cache them all.
	source.ClusterWideConfigMaps(mo.Cache.ByObject)
	mgr, err := manager.New(cfg, mo)
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	if k := opts.originalKeys(); k.Name != "" {
		// The Ingress data planes read their keys from it (kube/proxyagent).
		opts.Provision.IngressArgs = append(slices.Clip(opts.Provision.IngressArgs), "--nghttpx-secret="+k.String())
	}
	c := &Controller{opts: opts, mgr: mgr, cache: mgr.GetCache(), log: opts.Log, batch: &source.Batcher{}, metrics: newCtrlMetrics()}
	c.events = &objectEvents{recorder: mgr.GetEventRecorder("nghttpx-gateway"), metrics: c.metrics, log: opts.Log.WithName("events")}
	c.src = source.New(c.cache, source.Options{
		ControllerName: opts.ControllerName,
		Owned:          provision.Owned,
		Extra:          []client.Object{&appsv1.Deployment{}, &corev1.ServiceAccount{}},
		Ingress:        opts.Ingress.source(),
		Log:            opts.Log,
		// GatewayClass parameters ConfigMaps.
		ParametersNamespace: opts.Namespace,
	})
	if opts.Ingress != nil {
		c.ing = &ingressFrontEnd{opts: *opts.Ingress, recorder: mgr.GetEventRecorder("nghttpx-gateway")}
	}
	c.prov = &provision.Provisioner{Client: mgr.GetClient(), Reader: c.cache, Options: opts.Provision, Log: opts.Log.WithName("provision"),
		Observer: c.metrics}
	c.prov.Options.Settings = c.settingsSource()
	c.writer = &status.Writer{
		Reader: mgr.GetAPIReader(), Client: mgr.GetClient(), Cache: c.cache,
		ControllerName: opts.ControllerName, Log: opts.Log.WithName("status"), Observer: c.metrics,
	}
	c.poll = newPoller(int(opts.Provision.AdminPort), opts.DialContext, c.batch.Notify, opts.Log.WithName("dataplane"))
	c.poll.token = c.adminToken
	c.poll.fast, c.poll.slow = opts.PollFast, opts.PollSlow
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	if !opts.NoSharedKeys {
		c.keys = newKeyRotator(mgr.GetClient(), c.cache, opts.KeyRotation, opts.Log.WithName("keys"))
		c.keys.original = opts.originalKeys()
		c.keys.registerMetrics(metrics.Registry)
	}
	if opts.LeaderElect {
		if c.elector, err = newElector(cfg, mgr, opts); err != nil {
			return nil, err
		}
		c.elector.lead = c.lead
		if err := mgr.Add(c.elector); err != nil {
			return nil, err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("built", c.builtCheck); err != nil {
		return nil, err
	}
	if opts.InPod != nil {
		if err := mgr.AddHealthzCheck("nghttpx", c.inPodHealthz); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("nghttpx", c.inPodReadyz); err != nil {
			return nil, err
		}
	}
	if err := c.addHealthPort(); err != nil {
		return nil, err
	}
	registerMetrics(metrics.Registry, c)
	return c, nil
}

// Run builds and runs a controller until ctx is done.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	c, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return c.mgr.Start(ctx)
}

// Manager returns the underlying manager (Start runs it).
func (c *Controller) Manager() manager.Manager { return c.mgr }

// Stats returns the build counters.
func (c *Controller) Stats() *Stats { return &c.stats }

// Writer returns the status writer (for its counters).
func (c *Controller) Writer() *status.Writer { return c.writer }

// Provisioner returns the provisioner (for its counters).
func (c *Controller) Provisioner() *provision.Provisioner { return c.prov }

// Source returns the event source (for its counters).
func (c *Controller) Source() *source.Source { return c.src }

// IsLeader reports whether this replica currently writes.
func (c *Controller) IsLeader() bool { return c.leader.Load() }

// NeedLeaderElection is false: every replica translates; writing waits for
// leadership inside.
func (c *Controller) NeedLeaderElection() bool { return false }

// Start is the manager runnable: watch, then batch until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	notify := func() {
		c.dirty.Store(true)
		c.batch.Notify()
	}
	if err := c.src.Start(ctx, notify); err != nil {
		return err
	}
	c.log.Info("caches synced")
	if err := c.startInPod(ctx); err != nil {
		return err
	}
	if c.opts.InPod != nil {
		// After the last batch: nothing else applies meanwhile.
		defer c.opts.InPod.DataPlane.Stop()
	}
	go c.watchCertManager(ctx, notify)
	if c.elector == nil {
		go c.lead(ctx)
	}
	go c.poll.run(ctx)
	c.dirty.Store(true)
	c.batch.Notify()
	c.batch.Run(ctx, c.runBatch)
	return nil
}

// lead is the leader's part, until ctx (the leadership) is done: provisioning,
// status and keys. Losing the Lease ends it; the replica keeps translating and
// campaigns again (elector), so an API server outage costs no restart.
func (c *Controller) lead(ctx context.Context) {
	c.prov.Forget()
	c.leader.Store(true)
	c.provision.Store(true)
	c.log.Info("elected leader: provisioning data planes and writing status")
	c.batch.Notify()
	if c.keys != nil {
		if err := c.keys.Start(ctx); err != nil && ctx.Err() == nil {
			c.log.Error(err, "shared keys stopped")
		}
	}
	<-ctx.Done()
	c.leader.Store(false)
	c.log.Info("not leading (any more): no provisioning, status or key writes until elected again")
}

// runBatch translates when inputs changed and, as leader, provisions and writes
// status. Errors are retried with backoff.
func (c *Controller) runBatch(ctx context.Context) {
	err := c.sync(ctx)
	if err == nil {
		c.retry = 0
		return
	}
	c.retry = min(max(2*c.retry, 500*time.Millisecond), 30*time.Second)
	c.log.Error(err, "sync failed; retrying", "in", c.retry)
	if c.retryT != nil {
		c.retryT.Stop()
	}
	c.retryT = time.AfterFunc(c.retry, c.batch.Notify)
}

func (c *Controller) sync(ctx context.Context) error {
	rebuilt := false
	if c.dirty.Swap(false) || c.out == nil {
		rebuilt = true
		t0 := time.Now()
		in, err := c.src.Snapshot(ctx)
		if err != nil {
			c.dirty.Store(true)
			c.stats.BuildErrors.Add(1)
			return fmt.Errorf("snapshot: %w", err)
		}
		c.in, c.out = in, c.build(ctx, in)
		c.scheduleOCSPRecheck(c.out.Translation.OCSPRecheck)
		c.stats.Builds.Add(1)
		took := time.Since(t0)
		c.stats.LastBuildNanos.Store(int64(took))
		c.metrics.build.Observe(took.Seconds())
		c.observeTranslation()
		c.provision.Store(true)
		c.built.Store(true)
		c.log.V(1).Info("translated", "gateways", len(c.out.Translation.Gateways), "routes", len(c.out.Translation.HTTPRoutes),
			"took", time.Since(t0).Round(time.Microsecond))
	}
	inPodErr := c.syncInPod(ctx, rebuilt)
	if !c.leader.Load() {
		return inPodErr
	}
	res := c.out.Translation
	errs := []error{inPodErr}
	if c.provision.Swap(false) {
		if err := c.provisionAll(ctx, res); err != nil {
			c.provision.Store(true)
			errs = append(errs, err)
		}
		c.poll.set(c.targets(ctx))
		c.poll.pollDue(ctx, true)
	}
	written := status.WithoutSynthetic(c.withProgrammed(ctx, res), c.synthetic())
	if err := c.writer.Write(ctx, written); err != nil {
		errs = append(errs, err)
	}
	c.recordEvents(written)
	if err := c.syncIngresses(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Controller) pipelineOptions(ctx context.Context) pipeline.Options {
	po := pipeline.Options{
		Gateway: translate.Options{
			ControllerName:    c.opts.ControllerName,
			Now:               metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
			SupportedFeatures: translate.SupportedFeatures(),
			OCSP:              c.opts.OCSP,
			GatewayAddresses:  func(ns, name string) []string { return c.serviceAddresses(ctx, ns, name) },
			// GatewayClass parameters ConfigMaps are watched there only.
			ParametersNamespace: c.opts.Namespace,
		},
		// Rendering here validates what proxies will render; paths and ports only
		// need to be well-formed. The proxies' nghttpx (our image) has the
		// per-frontend client verification patch.
		Render:   render.Options{Features: render.Features{ClientVerify: true}},
		StateDir: provision.StateDir,
	}
	// The proxy's admin endpoint shares the pod with nghttpx (the agent reserves
	// it likewise).
	po.Gateway.ReservedPorts = map[int32]string{c.opts.Provision.AdminPort: "the proxy's admin endpoint"}
	c.ingressPipeline(&po)
	return po
}

// serviceAddresses are the addresses of a Gateway's provisioned Service:
// load-balancer ingress IPs or host names, else the cluster IP for ClusterIP and
// NodePort Services.
func (c *Controller) serviceAddresses(ctx context.Context, ns, name string) []string {
	if svc := c.gatewayService(ctx, ns, name); svc != nil {
		return grantedAddresses(svc)
	}
	return nil
}

// gatewayService is a Gateway's provisioned Service from the cache, nil if none.
func (c *Controller) gatewayService(ctx context.Context, ns, name string) *corev1.Service {
	var svc corev1.Service
	if err := c.cache.Get(ctx, types.NamespacedName{Namespace: ns, Name: provision.Name(name)}, &svc); err != nil {
		return nil
	}
	if gw, ok := provision.OwnerGateway(&svc); !ok || gw.Name != name {
		return nil
	}
	return &svc
}

// provisionAll provisions every Gateway of our classes, prunes the rest and
// keeps the proxies' ClusterRoleBinding.
func (c *Controller) provisionAll(ctx context.Context, res *translate.Result) error {
	keys, errs := c.ensureGateways(ctx, res)
	keep := map[types.NamespacedName]bool{}
	var bind []types.NamespacedName
	for _, k := range keys {
		keep[k] = true
		if !c.servedInPodKey(k) {
			// The in-pod Gateway has no proxy ServiceAccount to bind.
			bind = append(bind, k)
		}
	}
	c.setKeyTargets(res)
	if err := c.prov.Prune(ctx, keep); err != nil {
		errs = append(errs, err)
	}
	if err := c.grantAccess(ctx, res); err != nil {
		errs = append(errs, err)
	}
	if err := c.prov.EnsureBinding(ctx, c.mgr.GetAPIReader(), bind); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ensureGateways provisions every Gateway of res that is not being deleted and
// remembers which failed (ProvisioningFailed Events); keys are all of res's.
func (c *Controller) ensureGateways(ctx context.Context, res *translate.Result) (keys []types.NamespacedName, errs []error) {
	c.provisionErrs = map[types.NamespacedName]error{}
	for i := range res.Gateways {
		g := &res.Gateways[i]
		k := types.NamespacedName{Namespace: g.Namespace, Name: g.Name}
		keys = append(keys, k)
		if g.DeletionTimestamp != nil || c.servedInPod(g) {
			// An in-pod Gateway is served by the controller's own pods.
			continue
		}
		if err := c.ensureGateway(ctx, withListenerSetPorts(g, res.ListenerSets)); err != nil {
			errs = append(errs, err)
			c.provisionErrs[k] = err
			c.metrics.provisionFails.Inc()
		}
	}
	return keys, errs
}

// targets lists, per Gateway with a model, its hash and ready data-plane pods.
func (c *Controller) targets(ctx context.Context) map[types.NamespacedName]target {
	out := map[types.NamespacedName]target{}
	gens := map[types.NamespacedName]int64{}
	for _, g := range c.out.Translation.Gateways {
		gens[types.NamespacedName{Namespace: g.Namespace, Name: g.Name}] = g.Generation
	}
	for _, g := range c.out.Gateways {
		if g.Err != nil {
			continue
		}
		k := types.NamespacedName{Namespace: g.Model.Source.Namespace, Name: g.Model.Source.Name}
		out[k] = target{hash: model.Hash(g.Model), generation: gens[k], pods: c.readyPods(ctx, k)}
	}
	return out
}

// readyPods reads the ready endpoints of a Gateway's Service (every ready pod is
// listed whatever the Service's ports).
func (c *Controller) readyPods(ctx context.Context, gw types.NamespacedName) []string {
	var sl discoveryv1.EndpointSliceList
	if err := c.cache.List(ctx, &sl, client.InNamespace(gw.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: provision.Name(gw.Name)}); err != nil {
		return nil
	}
	var ips []string
	for _, s := range sl.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready || len(e.Addresses) == 0 {
				continue
			}
			if !slices.Contains(ips, e.Addresses[0]) {
				ips = append(ips, e.Addresses[0])
			}
		}
	}
	slices.Sort(ips)
	return ips
}

// withProgrammed returns res with every Gateway's Programmed condition held
// back until its data plane runs the current model and its static addresses
// are granted (status.addresses then lists only granted ones).
func (c *Controller) withProgrammed(ctx context.Context, res *translate.Result) *translate.Result {
	out := *res
	out.Gateways = make([]gatewayv1.Gateway, len(res.Gateways))
	stored := map[types.NamespacedName][]metav1.Condition{}
	for _, g := range c.in.Gateways {
		stored[types.NamespacedName{Namespace: g.Namespace, Name: g.Name}] = g.Status.Conditions
	}
	rendered := map[types.NamespacedName]pipeline.RenderedGateway{}
	for _, g := range c.out.Gateways {
		rendered[types.NamespacedName{Namespace: g.Model.Source.Namespace, Name: g.Model.Source.Name}] = g
	}
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	var recheck time.Duration
	for i := range res.Gateways {
		g := res.Gateways[i].DeepCopy()
		k := types.NamespacedName{Namespace: g.Namespace, Name: g.Name}
		rg := rendered[k]
		if wait := holdAddresses(g, stored[k], grantOf(c.gatewayService(ctx, g.Namespace, g.Name)), now); wait > 0 &&
			(recheck == 0 || wait < recheck) {
			recheck = wait
		}
		holdProgrammed(g, stored[k], rg.Err, c.poll.progress(k), now)
		c.holdOCSPFor(g, now)
		out.Gateways[i] = *g
	}
	storedSets := map[types.NamespacedName][]metav1.Condition{}
	for _, s := range c.in.ListenerSets {
		storedSets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s.Status.Conditions
	}
	out.ListenerSets = holdListenerSets(res.ListenerSets, out.Gateways, storedSets, now)
	if recheck > 0 {
		// A pending static address becomes "not usable" without any event.
		if c.addrT != nil {
			c.addrT.Stop()
		}
		c.addrT = time.AfterFunc(recheck+time.Second, c.batch.Notify)
	}
	return &out
}

// observeTranslation updates the series that describe the last translation:
// managed objects and listener certificates.
func (c *Controller) observeTranslation() {
	ingresses := 0
	if c.out.Ingress != nil {
		ingresses = len(c.out.Ingress.Ingresses)
	}
	c.metrics.setManaged(status.WithoutSynthetic(c.out.Translation, c.synthetic()), ingresses)
	c.certs = listenerCerts(c.out.Translation.Gateways, c.in.Secrets)
	c.metrics.setCertificates(c.certs)
}

// recordEvents records what the user must act on, on the objects written
// (leader only): rejections and unresolved references, provisioning failures,
// data planes that do not apply their configuration, expiring certificates.
func (c *Controller) recordEvents(written *translate.Result) {
	evs := conditionEvents(written, c.in, c.opts.ControllerName)
	for i := range written.Gateways {
		g := &written.Gateways[i]
		k := types.NamespacedName{Namespace: g.Namespace, Name: g.Name}
		if err := c.provisionErrs[k]; err != nil {
			evs = append(evs, provisionEvent(g, err))
		}
		if ev, ok := dataPlaneEvent(g, c.poll.progress(k)); ok {
			evs = append(evs, ev)
		}
	}
	certEvs, next := certificateEvents(written.Gateways, c.certs, time.Now())
	evs = append(evs, certEvs...)
	c.events.record(evs)
	if c.certT != nil {
		c.certT.Stop()
	}
	if !next.IsZero() {
		// Nothing changes when a certificate enters its window: look again then.
		c.certT = time.AfterFunc(time.Until(next)+time.Second, c.batch.Notify)
	}
}

// build runs the pipeline. The proxies pick their own API port; any port no
// listener uses will do for rendering here (unusedPort).
func (c *Controller) build(ctx context.Context, in *load.Input) *pipeline.Output {
	po := c.pipelineOptions(ctx)
	out := pipeline.Translate(in, po)
	po.Ports = map[types.NamespacedName]pipeline.Ports{}
	for _, m := range out.Translation.Models {
		po.Ports[types.NamespacedName{Namespace: m.Source.Namespace, Name: m.Source.Name}] = pipeline.Ports{API: unusedPort(m)}
	}
	pipeline.Render(out, po)
	return out
}

// unusedPort is a port none of gw's listeners uses, for rendering only.
func unusedPort(gw *model.Gateway) int {
	p := 9902
	for used := true; used; {
		used = false
		for _, lp := range gw.Ports {
			if int(lp.Port) == p {
				used, p = true, p+1
			}
		}
	}
	return p
}
