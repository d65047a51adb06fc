package e2eutil

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/node"
)

// StartCluster starts the local cluster with our image mapped to a gateway binary
// (E2E_GATEWAY_BIN or a fresh build) and the built nghttpx, or with E2E_NODE=real
// on a real node running the image archive E2E_IMAGE_ARCHIVE, or attaches to the
// cluster in E2E_KUBECONFIG. cleanup removes a binary built for the run; call it
// after the cluster has stopped, also when err is set.
func StartCluster(ctx context.Context, log logr.Logger) (c *cluster.Cluster, cleanup func(), err error) {
	return StartClusterWith(ctx, log, nil)
}

// StartClusterWith is StartCluster with edit applied to the cluster options
// (e.g. SkipCRDs, for a suite that installs them itself).
func StartClusterWith(ctx context.Context, log logr.Logger, edit func(*cluster.Options)) (c *cluster.Cluster, cleanup func(), err error) {
	cleanup = func() {}
	opts := cluster.Options{Kubeconfig: os.Getenv("E2E_KUBECONFIG"), Log: log.WithName("cluster").V(1)}
	if edit != nil {
		edit(&opts)
	}
	if opts.Kubeconfig == "" {
		nghttpx, err := NghttpxBinary()
		if err != nil {
			return nil, cleanup, err
		}
		bin, rm, err := GatewayBinary(ctx, log, "E2E_GATEWAY_BIN")
		if err != nil {
			return nil, cleanup, err
		}
		cleanup = rm
		opts.Images = Images(bin, nghttpx)
		opts.StateDir = os.Getenv("E2E_STATE_DIR")
		// E2E_NODE=real runs the suites on a real node with the project image
		// (E2E_IMAGE_ARCHIVE, from make image) instead of the pod runner.
		if opts.Node, err = cluster.ParseNodeMode(os.Getenv("E2E_NODE")); err != nil {
			return nil, cleanup, fmt.Errorf("E2E_NODE: %w", err)
		}
		if opts.Node == cluster.NodeReal {
			archive := os.Getenv("E2E_IMAGE_ARCHIVE")
			if archive == "" {
				return nil, cleanup, fmt.Errorf("E2E_NODE=real needs E2E_IMAGE_ARCHIVE (the archive make image prints)")
			}
			opts.Images = nil
			opts.NodeExtraImages = []node.Image{{Archive: archive}}
		}
	}
	t0 := time.Now()
	c, err = cluster.Start(ctx, opts)
	if err != nil {
		return nil, cleanup, fmt.Errorf("cluster: %w", err)
	}
	log.Info("cluster up", "took", time.Since(t0).Round(time.Millisecond), "kubeconfig", c.Kubeconfig, "netns", c.Netns)
	return c, cleanup, nil
}
