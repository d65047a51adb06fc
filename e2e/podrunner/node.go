package podrunner

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const leaseDurationSeconds = 40

// registerNode creates (or adopts) the Node and marks it Ready.
func (r *Runner) registerNode(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: r.cfg.NodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname": r.cfg.NodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
		},
		Spec: corev1.NodeSpec{PodCIDR: r.cfg.PodCIDR.String(), PodCIDRs: []string{r.cfg.PodCIDR.String()}},
	}
	err := retryUntil(ctx, func(ctx context.Context) error {
		_, err := r.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w", r.cfg.NodeName, err)
	}
	if err := r.updateNodeStatus(ctx); err != nil {
		return err
	}
	return r.renewLease(ctx)
}

func (r *Runner) updateNodeStatus(ctx context.Context) error {
	return retryUntil(ctx, func(ctx context.Context) error {
		n, err := r.client.CoreV1().Nodes().Get(ctx, r.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("64"),
			corev1.ResourceMemory:           resource.MustParse("256Gi"),
			corev1.ResourcePods:             resource.MustParse("1000"),
			corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
		}
		n.Status.Capacity, n.Status.Allocatable = capacity, capacity
		n.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: r.cfg.NodeIP.String()},
			{Type: corev1.NodeHostName, Address: r.cfg.NodeName},
		}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(r.cfg.KubeletPort)
		n.Status.NodeInfo = corev1.NodeSystemInfo{
			KubeletVersion: "v1.36.3-podrunner", OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "podrunner://1", OSImage: "nghttpx-gateway pod runner",
		}
		conds := []struct {
			t      corev1.NodeConditionType
			status corev1.ConditionStatus
			reason string
		}{
			{corev1.NodeReady, corev1.ConditionTrue, "KubeletReady"},
			{corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"},
			{corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"},
			{corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"},
			{corev1.NodeNetworkUnavailable, corev1.ConditionFalse, "RouteCreated"},
		}
		for _, c := range conds {
			found := false
			for i := range n.Status.Conditions {
				nc := &n.Status.Conditions[i]
				if nc.Type != c.t {
					continue
				}
				found = true
				if nc.Status != c.status {
					nc.LastTransitionTime = now
				}
				nc.Status, nc.Reason, nc.LastHeartbeatTime = c.status, c.reason, now
			}
			if !found {
				n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{
					Type: c.t, Status: c.status, Reason: c.reason, LastHeartbeatTime: now, LastTransitionTime: now})
			}
		}
		_, err = r.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// renewLease keeps kube-node-lease/<node> current, as kubelet's heartbeat does.
func (r *Runner) renewLease(ctx context.Context) error {
	return retryUntil(ctx, func(ctx context.Context) error {
		leases := r.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
		now := metav1.NewMicroTime(time.Now())
		l, err := leases.Get(ctx, r.cfg.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			holder, dur := r.cfg.NodeName, int32(leaseDurationSeconds)
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: r.cfg.NodeName, Namespace: corev1.NamespaceNodeLease},
				Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now},
			}, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		l.Spec.RenewTime = &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	})
}

func (r *Runner) keepNodeFresh(ctx context.Context) {
	lease := time.NewTicker(10 * time.Second)
	status := time.NewTicker(30 * time.Second)
	defer lease.Stop()
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C:
			if err := r.renewLease(ctx); err != nil && ctx.Err() == nil {
				r.log.Error(err, "renewing node lease")
			}
		case <-status.C:
			if err := r.updateNodeStatus(ctx); err != nil && ctx.Err() == nil {
				r.log.Error(err, "updating node status")
			}
		}
	}
}
