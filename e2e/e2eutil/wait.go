package e2eutil

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Poll checks cond every 250 ms until it holds, returns an error, or timeout passes.
func Poll(ctx context.Context, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, cond)
}

// CondIs reports whether condition typ is True for generation gen.
func CondIs(conds []metav1.Condition, typ string, gen int64) bool {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen
		}
	}
	return false
}

// CondSummary is conds on one line, for failure messages.
func CondSummary(conds []metav1.Condition) string {
	var b strings.Builder
	for _, c := range conds {
		fmt.Fprintf(&b, "[%s=%s gen %d %s: %s] ", c.Type, c.Status, c.ObservedGeneration, c.Reason, c.Message)
	}
	return strings.TrimSpace(b.String())
}

// Pods lists the pods of ns matching the label selector ("" for all).
func Pods(ctx context.Context, cs kubernetes.Interface, ns, selector string) ([]corev1.Pod, error) {
	l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s (%q): %w", ns, selector, err)
	}
	return l.Items, nil
}

// PodReady holds for a running, not terminating pod whose Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitRollout waits until Deployment ns/name has its current generation rolled out
// with every replica ready. It gives up early when a pod of the current template
// that is not being deleted has restarted 3 times and is not ready: a crashing pod
// does not get better by waiting. Old pods are left out: a rollout replaces them,
// and an old pod is not ready while it terminates, whatever its history.
func WaitRollout(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	err := Poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pods, err := Pods(ctx, cs, ns, metav1.FormatLabelSelector(d.Spec.Selector))
		if err != nil {
			return false, nil
		}
		current, err := currentTemplateHash(ctx, cs, d)
		if err != nil {
			return false, nil
		}
		for _, p := range pods {
			if p.DeletionTimestamp != nil || p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != current {
				continue
			}
			for _, st := range p.Status.ContainerStatuses {
				if st.RestartCount >= 3 && !st.Ready {
					return false, fmt.Errorf("pod %s restarted %d times (%s)", p.Name, st.RestartCount, LastTermination(st))
				}
			}
		}
		want := ptr.Deref(d.Spec.Replicas, 1)
		return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.ReadyReplicas == want && d.Status.Replicas == want, nil
	})
	if err != nil {
		//lint:ignore ST1005 Deployment is the Kubernetes kind, spelt as kubectl does
		return fmt.Errorf("Deployment %s/%s not ready: %w", ns, name, err)
	}
	return nil
}

// currentTemplateHash is the pod-template-hash of d's newest ReplicaSet (the one
// whose revision annotation is d's), or "" while the Deployment controller has not
// created it yet.
func currentTemplateHash(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment) (string, error) {
	rev := d.Annotations[revisionAnnotation]
	rss, err := cs.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(d.Spec.Selector)})
	if err != nil {
		return "", err
	}
	for _, rs := range rss.Items {
		if rev != "" && rs.Annotations[revisionAnnotation] == rev && metav1.IsControlledBy(&rs, d) {
			return rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey], nil
		}
	}
	return "", nil
}

const revisionAnnotation = "deployment.kubernetes.io/revision"

// LastTermination says how a container last ended ("never" when it has not), for
// failure messages: an OOM kill, a crash and a liveness kill need different fixes.
func LastTermination(st corev1.ContainerStatus) string {
	t := st.LastTerminationState.Terminated
	if t == nil {
		return "no earlier termination"
	}
	s := fmt.Sprintf("last ended %s: %s, exit code %d", t.FinishedAt.UTC().Format(time.RFC3339), t.Reason, t.ExitCode)
	if t.Signal != 0 {
		s += fmt.Sprintf(", signal %d", t.Signal)
	}
	if m := strings.TrimSpace(t.Message); m != "" {
		s += ": " + Tail(m, 3)
	}
	return s
}
