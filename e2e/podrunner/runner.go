package podrunner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Config configures a Runner. Zero values get the defaults noted per field.
type Config struct {
	Client kubernetes.Interface
	// Netns is the cluster network namespace that holds Bridge; pod namespaces are joined to it.
	Netns *NetNS
	// Bridge is the bridge device in Netns (default "br0").
	Bridge string
	// PodCIDR is the pod range; NodeIP (on Bridge) is the pods' gateway, the Node's
	// InternalIP and the address of the kubelet endpoint.
	PodCIDR *net.IPNet
	NodeIP  net.IP
	// NodeName defaults to "ngxgw-node".
	NodeName string
	// KubeletPort defaults to 10250.
	KubeletPort int
	// KubeletCert serves the kubelet endpoint; ClientCA, if set, is required of callers.
	KubeletCert tls.Certificate
	ClientCA    *x509.CertPool
	// LoadBalancerCIDR is where LoadBalancer Services get their address (must be local
	// in Netns, e.g. assigned to lo). Nil disables the load-balancer provider.
	LoadBalancerCIDR *net.IPNet
	// ServiceCIDR, if set (and local in Netns), makes ClusterIP:port forward to endpoints too.
	ServiceCIDR *net.IPNet
	// APIServerHost/Port become KUBERNETES_SERVICE_HOST/PORT in every container.
	APIServerHost string
	APIServerPort int
	// StateDir holds pod directories (volumes, logs).
	StateDir string
	// NetnsPrefix names pod namespaces "<prefix>-<n>" (default Netns.Name).
	NetnsPrefix string
	Images      ImageMap
	Log         logr.Logger
}

// Runner is the kubelet stand-in. Create with New, run with Run.
type Runner struct {
	cfg    Config
	client kubernetes.Interface
	log    logr.Logger
	ipam   *ipam
	mounts *mountPoints
	lb     *lbProvider

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	nextNS  int

	pods  corelisters.PodLister
	queue workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Client == nil || cfg.Netns == nil || cfg.PodCIDR == nil || cfg.NodeIP == nil || cfg.StateDir == "" {
		return nil, errors.New("podrunner: Client, Netns, PodCIDR, NodeIP and StateDir are required")
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "br0"
	}
	if cfg.NodeName == "" {
		cfg.NodeName = "ngxgw-node"
	}
	if cfg.KubeletPort == 0 {
		cfg.KubeletPort = 10250
	}
	if cfg.NetnsPrefix == "" {
		cfg.NetnsPrefix = cfg.Netns.Name
	}
	if cfg.Images == nil {
		cfg.Images = ImageMap{}
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "pods"), 0o755); err != nil {
		return nil, fmt.Errorf("podrunner state dir: %w", err)
	}
	r := &Runner{
		cfg:     cfg,
		client:  cfg.Client,
		log:     cfg.Log,
		ipam:    newIPAM(cfg.PodCIDR, cfg.NodeIP),
		mounts:  newMountPoints(),
		workers: map[types.UID]*podWorker{},
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	return r, nil
}

// NodeName is the name of the Node this runner registers.
func (r *Runner) NodeName() string { return r.cfg.NodeName }

// Run registers the Node, serves the kubelet endpoint, runs pods and load balancers
// until ctx is done, then stops every pod process and removes pod namespaces
// (without deleting the Pod objects). ready is closed once the Node is registered
// and caches are synced.
func (r *Runner) Run(ctx context.Context, ready chan<- struct{}) error {
	defer r.shutdown()
	if err := r.registerNode(ctx); err != nil {
		return err
	}
	srv, err := r.serveKubelet()
	if err != nil {
		return err
	}
	defer srv.Close()

	factory := informers.NewSharedInformerFactory(r.client, 10*time.Minute)
	podInf := factory.Core().V1().Pods()
	r.pods = podInf.Lister()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			r.queue.Add(key)
		}
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, n any) { enqueue(n) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				r.forget(p.UID)
			}
			enqueue(obj)
		},
	}); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	if r.cfg.LoadBalancerCIDR != nil || r.cfg.ServiceCIDR != nil {
		r.lb = newLBProvider(r, factory)
	}
	factory.Start(ctx.Done())
	for t, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("podrunner: cache for %v did not sync", t)
		}
	}
	go r.keepNodeFresh(ctx)
	if r.lb != nil {
		go r.lb.run(ctx)
	}
	go func() {
		<-ctx.Done()
		r.queue.ShutDown()
	}()
	for range 2 {
		go func() {
			for r.processNext(ctx) {
			}
		}()
	}
	if ready != nil {
		close(ready)
	}
	<-ctx.Done()
	return nil
}

func (r *Runner) processNext(ctx context.Context) bool {
	key, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(key)
	if err := r.syncPod(ctx, key); err != nil {
		if ctx.Err() == nil {
			r.log.V(1).Info("pod sync failed, retrying", "pod", key, "err", err)
		}
		r.queue.AddRateLimited(key)
		return true
	}
	r.queue.Forget(key)
	return true
}

func (r *Runner) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := r.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" {
		if pod.DeletionTimestamp != nil || (pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != corev1.DefaultSchedulerName) {
			return nil
		}
		return r.bind(ctx, pod)
	}
	if pod.Spec.NodeName != r.cfg.NodeName {
		return nil
	}
	r.mu.Lock()
	w := r.workers[pod.UID]
	if w == nil && pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		w = newPodWorker(r, pod.DeepCopy())
		r.workers[pod.UID] = w
		go w.run(ctx)
	}
	r.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		if w == nil {
			return r.finalizeDelete(ctx, pod)
		}
		w.requestDelete(pod.DeepCopy())
	}
	return nil
}

func (r *Runner) bind(ctx context.Context, pod *corev1.Pod) error {
	err := r.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: r.cfg.NodeName},
	}, metav1.CreateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // already bound or gone
	}
	if err != nil {
		return fmt.Errorf("bind %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// finalizeDelete removes a terminating pod object for which nothing runs here.
func (r *Runner) finalizeDelete(ctx context.Context, pod *corev1.Pod) error {
	zero := int64(0)
	err := r.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// forget kills a pod whose object vanished (deleted with grace 0 by someone else).
func (r *Runner) forget(uid types.UID) {
	r.mu.Lock()
	w := r.workers[uid]
	r.mu.Unlock()
	if w != nil {
		w.requestKill()
	}
}

func (r *Runner) removeWorker(uid types.UID) {
	r.mu.Lock()
	delete(r.workers, uid)
	r.mu.Unlock()
}

func (r *Runner) newNetnsName() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextNS++
	return fmt.Sprintf("%s-%d", r.cfg.NetnsPrefix, r.nextNS)
}

// worker finds the running worker of ns/name (for the kubelet endpoint).
func (r *Runner) worker(ns, name string) *podWorker {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *podWorker
	for _, w := range r.workers {
		if w.namespace == ns && w.name == name && (best == nil || w.created.After(best.created)) {
			best = w
		}
	}
	return best
}

// shutdown stops all pods quickly; used when the runner itself stops.
func (r *Runner) shutdown() {
	r.mu.Lock()
	ws := make([]*podWorker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	for _, w := range ws {
		w.requestKill()
	}
	for _, w := range ws {
		select {
		case <-w.done:
		case <-time.After(15 * time.Second):
			r.log.Info("pod did not stop in time", "pod", w.namespace+"/"+w.name)
		}
	}
	if r.lb != nil {
		r.lb.closeAll()
	}
}

// retryUntil runs fn until it succeeds or ctx ends, backing off up to 5s.
func retryUntil(ctx context.Context, fn func(context.Context) error) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 200 * time.Millisecond, Factor: 1.5, Cap: 5 * time.Second, Steps: 1 << 30},
		func(ctx context.Context) (bool, error) {
			last = fn(ctx)
			return last == nil, nil
		})
	if err != nil && last != nil {
		return last
	}
	return err
}
