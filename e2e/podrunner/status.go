package podrunner

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// statusLoop publishes the pod status whenever the worker signals a change, at most
// every 50ms, and re-checks every 10s in case a write was lost.
func (w *podWorker) statusLoop(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.dirty:
		case <-tick.C:
		}
		if !sleepOK(ctx, 50*time.Millisecond) {
			return
		}
		if err := w.writeStatus(ctx); err != nil && ctx.Err() == nil {
			w.r.log.V(1).Info("pod status update failed", "pod", w.key(), "err", err)
			w.notify()
			sleepOK(ctx, time.Second)
		}
	}
}

func sleepOK(ctx context.Context, d time.Duration) bool {
	return sleepCtx(ctx, d) == nil
}

func (w *podWorker) writeStatus(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		pod, err := w.r.client.CoreV1().Pods(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if pod.UID != w.uid {
			return nil
		}
		next := pod.DeepCopy()
		w.fillStatus(&next.Status, pod.Spec.ReadinessGates)
		if apiequality.Semantic.DeepEqual(pod.Status, next.Status) {
			return nil
		}
		_, err = w.r.client.CoreV1().Pods(w.namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
		return err
	})
}

// fillStatus overwrites the kubelet-owned parts of st with the worker's state.
func (w *podWorker) fillStatus(st *corev1.PodStatus, gates []corev1.PodReadinessGate) {
	w.mu.Lock()
	ip, initDone := w.ip, w.initDone
	waitReason, waitMessage := w.waitReason, w.waitMessage
	inits := append([]*container{}, w.initContainers...)
	mains := append([]*container{}, w.containers...)
	start := w.startTime
	w.mu.Unlock()

	st.HostIP = w.r.cfg.NodeIP.String()
	st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	if ip != nil {
		st.PodIP = ip.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if st.StartTime == nil {
		st.StartTime = &start
	}

	st.InitContainerStatuses = containerStatuses(inits, waitReason, waitMessage)
	st.ContainerStatuses = containerStatuses(mains, waitReason, waitMessage)

	allReady := len(mains) > 0
	var waiting, running, succeeded, failed int
	for _, cs := range st.ContainerStatuses {
		allReady = allReady && cs.Ready
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			succeeded++
		case cs.State.Terminated != nil:
			failed++
		case cs.LastTerminationState.Terminated != nil:
			running++ // crash-looping counts as running, as in kubelet
		default:
			waiting++
		}
	}
	for _, c := range inits {
		if c.sidecar() {
			cs := findStatus(st.InitContainerStatuses, c.spec.Name)
			allReady = allReady && cs != nil && cs.Ready
		}
	}
	initFailed := false
	for _, cs := range st.InitContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && !initDone {
			initFailed = w.podRestartPolicy() == corev1.RestartPolicyNever
		}
	}
	switch {
	case initFailed:
		st.Phase = corev1.PodFailed
	case !initDone || waiting > 0:
		st.Phase = corev1.PodPending
	case running > 0:
		st.Phase = corev1.PodRunning
	case failed > 0:
		st.Phase = corev1.PodFailed
	case succeeded > 0:
		st.Phase = corev1.PodSucceeded
	default:
		st.Phase = corev1.PodPending
	}

	ready := allReady && initDone
	for _, g := range gates {
		if c := findCondition(st.Conditions, g.ConditionType); c == nil || c.Status != corev1.ConditionTrue {
			ready = false
		}
	}
	setCondition(st, corev1.PodScheduled, true, "")
	setCondition(st, corev1.PodReadyToStartContainers, ip != nil, "")
	setCondition(st, corev1.PodInitialized, initDone, "ContainersNotInitialized")
	setCondition(st, corev1.ContainersReady, allReady && initDone, "ContainersNotReady")
	setCondition(st, corev1.PodReady, ready, "ContainersNotReady")
}

func (w *podWorker) podRestartPolicy() corev1.RestartPolicy {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod.Spec.RestartPolicy
}

func containerStatuses(cs []*container, waitReason, waitMessage string) []corev1.ContainerStatus {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, 0, len(cs))
	for _, c := range cs {
		c.mu.Lock()
		s := corev1.ContainerStatus{
			Name:                 c.spec.Name,
			Image:                c.spec.Image,
			ImageID:              "podrunner://" + c.spec.Image,
			RestartCount:         c.restarts,
			Ready:                c.ready,
			State:                *c.state.DeepCopy(),
			LastTerminationState: *c.lastState.DeepCopy(),
		}
		started := c.started && c.state.Running != nil
		s.Started = &started
		if c.state.Running != nil || c.state.Terminated != nil {
			s.ContainerID = c.containerID()
		}
		if !c.prepared && waitReason != "" && c.state.Waiting != nil {
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: waitReason, Message: waitMessage}
		}
		if s.LastTerminationState.Terminated != nil && s.State.Terminated != nil &&
			s.LastTerminationState.Terminated.StartedAt.Equal(&s.State.Terminated.StartedAt) {
			s.LastTerminationState = corev1.ContainerState{}
		}
		c.mu.Unlock()
		out = append(out, s)
	}
	return out
}

func findStatus(ss []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i]
		}
	}
	return nil
}

func findCondition(cs []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// setCondition sets a condition, keeping lastTransitionTime while the status holds.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, falseReason string) {
	status, reason := corev1.ConditionTrue, ""
	if !ok {
		status, reason = corev1.ConditionFalse, falseReason
	}
	if c := findCondition(st.Conditions, t); c != nil {
		if c.Status != status {
			c.Status = status
			c.LastTransitionTime = metav1.Now()
		}
		c.Reason = reason
		return
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: metav1.Now()})
}
