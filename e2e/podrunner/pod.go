package podrunner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podWorker owns one pod on this node: network, volumes, containers, status.
type podWorker struct {
	r         *Runner
	uid       types.UID
	namespace string
	name      string
	created   time.Time

	mu             sync.Mutex
	pod            *corev1.Pod
	ip             net.IP
	net            *podNetwork
	dir            string
	startTime      metav1.Time
	waitReason     string // set while the sandbox or config cannot be created
	waitMessage    string
	initDone       bool
	initContainers []*container
	containers     []*container
	mountDsts      []string

	deleteOnce sync.Once
	deleteReq  chan struct{}
	killOnce   sync.Once
	killReq    chan struct{}
	dirty      chan struct{}
	done       chan struct{}
}

func newPodWorker(r *Runner, pod *corev1.Pod) *podWorker {
	w := &podWorker{
		r:         r,
		uid:       pod.UID,
		namespace: pod.Namespace,
		name:      pod.Name,
		created:   time.Now(),
		pod:       pod,
		startTime: metav1.Now(),
		deleteReq: make(chan struct{}),
		killReq:   make(chan struct{}),
		dirty:     make(chan struct{}, 1),
		done:      make(chan struct{}),
		dir:       filepath.Join(r.cfg.StateDir, "pods", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID)),
	}
	for i := range pod.Spec.InitContainers {
		w.initContainers = append(w.initContainers, newContainer(w, pod.Spec.InitContainers[i], true))
	}
	for i := range pod.Spec.Containers {
		w.containers = append(w.containers, newContainer(w, pod.Spec.Containers[i], false))
	}
	return w
}

func (w *podWorker) key() string { return w.namespace + "/" + w.name }

func (w *podWorker) requestDelete(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.deleteOnce.Do(func() { close(w.deleteReq) })
}

func (w *podWorker) requestKill() { w.killOnce.Do(func() { close(w.killReq) }) }

// notify asks the status loop to publish the current state.
func (w *podWorker) notify() {
	select {
	case w.dirty <- struct{}{}:
	default:
	}
}

// aborted reports whether the pod should stop starting things.
func (w *podWorker) aborted(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-w.deleteReq:
		return true
	case <-w.killReq:
		return true
	default:
		return false
	}
}

// sleep waits d unless the pod is being stopped; it reports whether d elapsed.
func (w *podWorker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-w.deleteReq:
	case <-w.killReq:
	}
	return false
}

func (w *podWorker) run(ctx context.Context) {
	defer close(w.done)
	defer w.r.removeWorker(w.uid)
	log := w.r.log.WithValues("pod", w.key())
	statusCtx, stopStatus := context.WithCancel(ctx)
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		w.statusLoop(statusCtx)
	}()
	w.notify()

	started := w.start(ctx)
	if started {
		log.V(1).Info("pod started", "ip", w.ip)
	}
	graceful := false
	select {
	case <-w.deleteReq:
		graceful = true
	case <-w.killReq:
	case <-ctx.Done():
	}
	w.stopContainers(graceful)
	stopStatus()
	<-statusDone
	w.teardown()
	if graceful && ctx.Err() == nil {
		w.mu.Lock()
		pod := w.pod
		w.mu.Unlock()
		fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := retryUntil(fctx, func(c context.Context) error { return w.r.finalizeDelete(c, pod) }); err != nil {
			log.Error(err, "finishing pod deletion")
		}
		cancel()
	}
	log.V(1).Info("pod stopped")
}

// start prepares the sandbox and starts containers; false if the pod stopped first.
func (w *podWorker) start(ctx context.Context) bool {
	for {
		err := w.setup(ctx)
		if err == nil {
			break
		}
		if w.aborted(ctx) {
			return false
		}
		w.r.log.V(1).Info("pod setup failed, retrying", "pod", w.key(), "err", err)
		w.notify()
		if !w.sleep(ctx, 2*time.Second) {
			return false
		}
	}
	w.notify()
	// Init containers: sidecars (restartPolicy Always) keep running; others must succeed in order.
	for _, c := range w.initContainers {
		if c.sidecar() {
			c.startSupervisor(ctx)
			continue
		}
		c.startSupervisor(ctx)
		if !c.waitSucceeded(ctx) {
			return false
		}
	}
	w.mu.Lock()
	w.initDone = true
	w.mu.Unlock()
	w.notify()
	for _, c := range w.containers {
		c.startSupervisor(ctx)
	}
	return true
}

// setup allocates the address, creates the namespace and materialises volumes and
// container configuration. Safe to call again after a failure.
func (w *podWorker) setup(ctx context.Context) (err error) {
	w.mu.Lock()
	pod := w.pod
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		if err != nil {
			w.waitMessage = err.Error()
		} else {
			w.waitReason, w.waitMessage = "", ""
		}
		w.mu.Unlock()
	}()
	w.setWaitReason("ContainerCreating")
	if err := os.MkdirAll(filepath.Join(w.dir, "logs"), 0o755); err != nil {
		return err
	}
	if w.net == nil && pod.Spec.HostNetwork {
		// Host network means the cluster namespace, with the node address.
		w.mu.Lock()
		w.ip, w.net = w.r.cfg.NodeIP, &podNetwork{ns: w.r.cfg.Netns, shared: true}
		w.mu.Unlock()
		w.notify()
	}
	if w.net == nil {
		ip, err := w.r.ipam.allocate()
		if err != nil {
			return err
		}
		pn, err := w.r.setupPodNetwork(ctx, w.r.newNetnsName(), ip)
		if err != nil {
			w.r.ipam.release(ip)
			return err
		}
		w.mu.Lock()
		w.ip, w.net = ip, pn
		w.mu.Unlock()
		w.notify()
	}
	vw := &volumeWriter{client: w.r.client, pod: pod, dir: filepath.Join(w.dir, "volumes"),
		podIP: w.ip.String(), hostIP: w.r.cfg.NodeIP.String(), node: w.r.cfg.NodeName}
	paths, err := vw.write(ctx)
	if err != nil {
		return err
	}
	eb := &envBuilder{client: w.r.client, pod: pod, podIP: w.ip.String(), hostIP: w.r.cfg.NodeIP.String(),
		node: w.r.cfg.NodeName, apiHost: w.r.cfg.APIServerHost, apiPort: w.r.cfg.APIServerPort}
	w.setWaitReason("CreateContainerConfigError")
	for _, c := range append(append([]*container{}, w.initContainers...), w.containers...) {
		if err := c.prepare(ctx, eb, paths); err != nil {
			return fmt.Errorf("container %s: %w", c.spec.Name, err)
		}
	}
	return nil
}

func (w *podWorker) setWaitReason(reason string) {
	w.mu.Lock()
	w.waitReason = reason
	w.mu.Unlock()
}

// stopContainers stops everything; graceful honours preStop and the grace period.
func (w *podWorker) stopContainers(graceful bool) {
	grace := 2 * time.Second
	if graceful {
		w.mu.Lock()
		pod := w.pod
		w.mu.Unlock()
		grace = 30 * time.Second
		switch {
		case pod.DeletionGracePeriodSeconds != nil:
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		case pod.Spec.TerminationGracePeriodSeconds != nil:
			grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
		}
	}
	deadline := time.Now().Add(grace)
	var wg sync.WaitGroup
	all := append(append([]*container{}, w.containers...), w.initContainers...)
	for _, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop(deadline, graceful)
		}()
	}
	wg.Wait()
}

func (w *podWorker) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.mu.Lock()
	pn, ip, dsts := w.net, w.ip, w.mountDsts
	w.net, w.mountDsts = nil, nil
	w.mu.Unlock()
	if pn != nil && !pn.shared {
		// Stragglers that left the container's process group still hold the namespace.
		for _, pid := range NetNSPids(ctx, pn.ns.Name) {
			killPid(pid)
		}
		pn.teardown(ctx, w.r.cfg.Netns.Name)
	}
	if ip != nil && (pn == nil || !pn.shared) {
		w.r.ipam.release(ip)
	}
	for _, d := range dsts {
		w.r.mounts.release(d)
	}
	if err := os.RemoveAll(w.dir); err != nil {
		w.r.log.Error(err, "removing pod directory", "pod", w.key())
	}
}

// acquireMounts records mount targets so teardown can release them.
func (w *podWorker) acquireMounts(ms []mount) error {
	for i, m := range ms {
		if err := w.r.mounts.acquire(m); err != nil {
			for _, done := range ms[:i] {
				w.r.mounts.release(done.dst)
			}
			return fmt.Errorf("mount target %s: %w", m.dst, err)
		}
	}
	w.mu.Lock()
	for _, m := range ms {
		w.mountDsts = append(w.mountDsts, m.dst)
	}
	w.mu.Unlock()
	return nil
}

// container finds a container (main, then init) by name.
func (w *podWorker) container(name string) *container {
	for _, c := range append(append([]*container{}, w.containers...), w.initContainers...) {
		if c.spec.Name == name {
			return c
		}
	}
	return nil
}

// hostIPFor resolves a probe or hook host: empty means the pod IP.
func (w *podWorker) hostFor(host string) string {
	if host != "" {
		return host
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ip == nil {
		return ""
	}
	return w.ip.String()
}

// portFor resolves a named container port.
func (w *podWorker) portFor(c *corev1.Container, port string) (string, error) {
	if port == "" {
		return "", errors.New("empty port")
	}
	if strings.Trim(port, "0123456789") == "" {
		return port, nil
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return fmt.Sprint(p.ContainerPort), nil
		}
	}
	return "", fmt.Errorf("no container port named %q", port)
}
