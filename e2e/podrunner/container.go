package podrunner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mountScript runs in the container's private mount namespace (created by `ip netns
// exec`): it bind-mounts the volumes listed in $1 (triples kind/src/dst), then execs
// the container's program.
const mountScript = `set -e
f=$1; shift
exec 3<"$f"
while IFS= read -r kind <&3 && IFS= read -r src <&3 && IFS= read -r dst <&3; do
	mount --bind "$src" "$dst"
done
exec 3<&-
exec "$@"`

// container is one container of a pod and its current process, if any.
type container struct {
	w    *podWorker
	spec corev1.Container
	init bool

	mu           sync.Mutex
	prepared     bool
	proc         Process
	imageErr     error
	env          []string
	mountsFile   string
	state        corev1.ContainerState
	lastState    corev1.ContainerState
	restarts     int32
	ready        bool
	started      bool
	log, prevLog *logFile
	pid          int
	exited       chan struct{} // closed when the current process has exited
	stopping     bool
	succeeded    chan struct{} // init containers: closed after exit 0
	stopCh       chan struct{}
	stopOnce     sync.Once
	superDone    chan struct{}
}

func newContainer(w *podWorker, spec corev1.Container, init bool) *container {
	return &container{
		w: w, spec: spec, init: init,
		state:     corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		succeeded: make(chan struct{}),
		stopCh:    make(chan struct{}),
	}
}

func (c *container) sidecar() bool {
	return c.init && c.spec.RestartPolicy != nil && *c.spec.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// prepare resolves image, environment and mounts. An unknown image is not an error
// here: the container then stays waiting with ErrImagePull.
func (c *container) prepare(ctx context.Context, eb *envBuilder, volumes map[string]string) error {
	c.mu.Lock()
	done := c.prepared
	c.mu.Unlock()
	if done {
		return nil
	}
	env, vars, err := eb.build(ctx, &c.spec)
	if err != nil {
		return err
	}
	spec := c.spec
	spec.Command = expandAll(spec.Command, vars)
	spec.Args = expandAll(spec.Args, vars)
	var proc Process
	fn, ok := c.w.r.cfg.Images.Lookup(spec.Image)
	imageErr := error(errImageUnknown{image: spec.Image})
	if ok {
		imageErr = nil
		if proc, err = fn(spec); err != nil {
			imageErr = fmt.Errorf("image %s: %w", spec.Image, err)
		} else if len(proc.Argv) == 0 {
			imageErr = fmt.Errorf("image %s: empty command", spec.Image)
		}
	}
	ms, err := containerMounts(&spec, volumes)
	if err != nil {
		return err
	}
	var lines []string
	for _, m := range ms {
		kind := "d"
		if m.file {
			kind = "f"
		}
		lines = append(lines, kind, m.src, m.dst)
	}
	mf := filepath.Join(c.w.dir, "mounts-"+c.spec.Name)
	if err := os.WriteFile(mf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if imageErr == nil {
		if err := c.w.acquireMounts(ms); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prepared, c.proc, c.imageErr, c.env, c.mountsFile = true, proc, imageErr, append(env, proc.Env...), mf
	if imageErr != nil {
		c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: imageErr.Error()}}
	}
	return nil
}

func expandAll(in []string, vars map[string]string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, vars)
	}
	return out
}

// startSupervisor runs the container, restarting it per the pod's restart policy.
func (c *container) startSupervisor(ctx context.Context) {
	c.mu.Lock()
	if c.superDone != nil {
		c.mu.Unlock()
		return
	}
	c.superDone = make(chan struct{})
	imageErr := c.imageErr
	c.mu.Unlock()
	go func() {
		defer close(c.superDone)
		if imageErr != nil {
			<-c.stopCh
			return
		}
		c.supervise(ctx)
	}()
}

func (c *container) restartPolicy() corev1.RestartPolicy {
	if c.sidecar() {
		return corev1.RestartPolicyAlways
	}
	c.w.mu.Lock()
	p := c.w.pod.Spec.RestartPolicy
	c.w.mu.Unlock()
	if c.init && p == corev1.RestartPolicyAlways {
		return corev1.RestartPolicyOnFailure
	}
	if p == "" {
		return corev1.RestartPolicyAlways
	}
	return p
}

func (c *container) supervise(ctx context.Context) {
	backoff := time.Second
	for {
		startedAt := time.Now()
		code, reason, err := c.runOnce(ctx)
		if err != nil {
			c.w.r.log.Error(err, "container start failed", "pod", c.w.key(), "container", c.spec.Name)
		}
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		if c.init && code == 0 && !c.sidecar() {
			close(c.succeeded)
			return
		}
		policy := c.restartPolicy()
		if policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && code == 0) {
			return
		}
		if time.Since(startedAt) > time.Minute {
			backoff = time.Second
		}
		c.mu.Lock()
		c.restarts++
		c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container %s (%s, exit code %d)", backoff, c.spec.Name, reason, code),
		}}
		c.mu.Unlock()
		c.w.notify()
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-c.stopCh:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// runOnce starts one instance and waits for it to exit.
func (c *container) runOnce(ctx context.Context) (int, string, error) {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return -1, "Stopped", nil
	}
	logPath := filepath.Join(c.w.dir, "logs", fmt.Sprintf("%s-%d.log", c.spec.Name, c.restarts))
	lf, err := createLog(logPath)
	if err != nil {
		c.mu.Unlock()
		return -1, "StartError", err
	}
	if c.log != nil {
		c.prevLog = c.log
	}
	c.log = lf
	w := c.w
	w.mu.Lock()
	nsName := w.net.ns.Name
	w.mu.Unlock()
	args := append([]string{"netns", "exec", nsName, "/bin/sh", "-c", mountScript, "podrunner-mount", c.mountsFile}, c.proc.Argv...)
	cmd := exec.Command("ip", args...)
	cmd.Env = c.env
	cmd.Dir = w.dir
	if c.spec.WorkingDir != "" {
		if fi, err := os.Stat(c.spec.WorkingDir); err == nil && fi.IsDir() {
			cmd.Dir = c.spec.WorkingDir
		}
	}
	stdout, stderr := lf.stream("stdout"), lf.stream("stderr")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Own process group so stop reaches children; die with the runner's process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		now := metav1.Now()
		c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: now, FinishedAt: now}}
		c.lastState = c.state
		c.mu.Unlock()
		lf.close()
		w.notify()
		return 128, "StartError", err
	}
	exited := make(chan struct{})
	startedAt := metav1.Now()
	c.pid = cmd.Process.Pid
	c.exited = exited
	c.started = true
	c.ready = c.spec.ReadinessProbe == nil
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}
	c.mu.Unlock()
	w.notify()
	if c.spec.ReadinessProbe != nil {
		go c.probeLoop(ctx, exited)
	}

	werr := cmd.Wait()
	stdout.flush()
	stderr.flush()
	lf.close()
	code, reason := 0, "Completed"
	if werr != nil {
		reason = "Error"
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = ee.ExitCode()
			}
		} else {
			code = -1
		}
	}
	c.mu.Lock()
	term := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: int32(code), Reason: reason, StartedAt: startedAt, FinishedAt: metav1.Now(),
		ContainerID: c.containerID()}}
	c.state, c.lastState = term, term
	c.ready, c.pid = false, 0
	close(exited)
	c.mu.Unlock()
	w.notify()
	return code, reason, nil
}

func (c *container) containerID() string {
	return fmt.Sprintf("podrunner://%s-%s-%d", c.w.uid, c.spec.Name, c.restarts)
}

// waitSucceeded waits for an init container to exit 0.
func (c *container) waitSucceeded(ctx context.Context) bool {
	select {
	case <-c.succeeded:
		return true
	case <-c.superDone:
		select {
		case <-c.succeeded:
			return true
		default:
			return false
		}
	case <-ctx.Done():
	case <-c.w.deleteReq:
	case <-c.w.killReq:
	}
	return false
}

// stop ends the container: preStop (graceful only), SIGTERM, then SIGKILL at deadline.
func (c *container) stop(deadline time.Time, graceful bool) {
	c.mu.Lock()
	c.stopping = true
	pid, exited := c.pid, c.exited
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stopCh) })
	if pid != 0 {
		if graceful && c.spec.Lifecycle != nil && c.spec.Lifecycle.PreStop != nil {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			if err := c.runHook(ctx, c.spec.Lifecycle.PreStop); err != nil {
				c.w.r.log.V(1).Info("preStop hook failed", "pod", c.w.key(), "container", c.spec.Name, "err", err)
			}
			cancel()
		}
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-exited:
		case <-t.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
		t.Stop()
		// Children that ignored SIGTERM but share the group go too.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	c.mu.Lock()
	sd := c.superDone
	c.mu.Unlock()
	if sd != nil {
		<-sd
	}
}

func killPid(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }

// runHook executes a lifecycle handler: sleep, httpGet, tcpSocket, or exec. Exec of
// `sleep N` (directly or through `sh -c`) sleeps here; other programs run from the
// host inside the pod's network namespace when they exist on this machine.
func (c *container) runHook(ctx context.Context, h *corev1.LifecycleHandler) error {
	switch {
	case h.Sleep != nil:
		return sleepCtx(ctx, time.Duration(h.Sleep.Seconds)*time.Second)
	case h.HTTPGet != nil:
		return c.httpGet(ctx, h.HTTPGet)
	case h.TCPSocket != nil:
		return c.tcpCheck(ctx, h.TCPSocket)
	case h.Exec != nil:
		argv := h.Exec.Command
		if d, ok := sleepCommand(argv); ok {
			return sleepCtx(ctx, d)
		}
		if len(argv) == 0 {
			return nil
		}
		if _, err := exec.LookPath(argv[0]); err != nil {
			return fmt.Errorf("exec hook %q: %w", argv, err)
		}
		c.w.mu.Lock()
		ns := c.w.net.ns
		c.w.mu.Unlock()
		cmd := ns.Command(ctx, argv[0], argv[1:]...)
		cmd.Env = c.env
		return cmd.Run()
	}
	return nil
}

// sleepCommand recognises ["sleep","N"] and ["sh","-c","sleep N"].
func sleepCommand(argv []string) (time.Duration, bool) {
	if len(argv) >= 3 && filepath.Base(argv[0]) != "sleep" && argv[1] == "-c" {
		argv = strings.Fields(argv[2])
	}
	if len(argv) != 2 || filepath.Base(argv[0]) != "sleep" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(argv[1], "s"), 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *container) httpGet(ctx context.Context, g *corev1.HTTPGetAction) error {
	port, err := c.w.portFor(&c.spec, g.Port.String())
	if err != nil {
		return err
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := scheme + "://" + net.JoinHostPort(c.w.hostFor(g.Host), port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	req.Header.Set("User-Agent", "kube-probe/1.36")
	tr := &http.Transport{
		DialContext:       c.w.r.cfg.Netns.DialContext,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes do not verify, like kubelet
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

func (c *container) tcpCheck(ctx context.Context, t *corev1.TCPSocketAction) error {
	port, err := c.w.portFor(&c.spec, t.Port.String())
	if err != nil {
		return err
	}
	conn, err := c.w.r.cfg.Netns.DialContext(ctx, "tcp", net.JoinHostPort(c.w.hostFor(t.Host), port))
	if err != nil {
		return err
	}
	return conn.Close()
}

// probeLoop runs the readiness probe for one container instance.
func (c *container) probeLoop(ctx context.Context, exited <-chan struct{}) {
	p := c.spec.ReadinessProbe
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	success, failure := max(p.SuccessThreshold, 1), max(p.FailureThreshold, 1)
	wait := time.Duration(p.InitialDelaySeconds) * time.Second
	var okRun, failRun int32
	for {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-exited:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
		wait = period
		pctx, cancel := context.WithTimeout(ctx, timeout)
		var err error
		switch {
		case p.HTTPGet != nil:
			err = c.httpGet(pctx, p.HTTPGet)
		case p.TCPSocket != nil:
			err = c.tcpCheck(pctx, p.TCPSocket)
		}
		// exec and grpc probes are not run here: they count as success.
		cancel()
		if err == nil {
			okRun, failRun = okRun+1, 0
		} else {
			okRun, failRun = 0, failRun+1
		}
		c.mu.Lock()
		changed := false
		if c.exited == exited {
			if !c.ready && okRun >= success {
				c.ready, changed = true, true
			} else if c.ready && failRun >= failure {
				c.ready, changed = false, true
			}
		}
		c.mu.Unlock()
		if changed {
			c.w.notify()
		}
	}
}
