package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
)

// certManagerSyncTimeout bounds the wait for the Certificate informer: one that
// cannot list (RBAC) must not be waited for forever.
const certManagerSyncTimeout = 2 * time.Minute

// certificatesServed asks discovery whether cert-manager.io/v1 serves
// certificates. Discovery needs no RBAC beyond what every client has.
func certificatesServed(dc discovery.DiscoveryInterface) (bool, error) {
	l, err := dc.ServerResourcesForGroupVersion(cmv1.SchemeGroupVersion.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovery of %s: %w", cmv1.SchemeGroupVersion, err)
	}
	return slices.ContainsFunc(l.APIResources, func(r metav1.APIResource) bool { return r.Name == "certificates" }), nil
}

// watchCertManager turns cert-manager awareness on while the Certificate CRD
// (cert-manager.io/v1) is served: checked at start, then every
// Options.CertManagerCheck, so installing or removing cert-manager needs no
// restart. Without the CRD nothing changes. It runs until ctx is done.
func (c *Controller) watchCertManager(ctx context.Context, notify func()) {
	log := c.log.WithName("cert-manager")
	dc, err := discovery.NewDiscoveryClientForConfig(c.mgr.GetConfig())
	if err != nil {
		log.Error(err, "cert-manager awareness is off: no discovery client")
		return
	}
	t := time.NewTicker(c.opts.CertManagerCheck)
	defer t.Stop()
	on, first := false, true
	for {
		served, err := certificatesServed(dc)
		switch {
		case err != nil:
			// A discovery blip changes nothing either way.
			log.V(1).Info("checking for the Certificate CRD", "error", err.Error())
		case served && !on:
			wctx, cancel := context.WithTimeout(ctx, certManagerSyncTimeout)
			err := c.src.WatchCertificates(wctx, notify)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				log.Error(err, "cert-manager awareness stays off for now: cannot watch Certificates "+
					"(does the ClusterRole grant list and watch on certificates.cert-manager.io?)")
				break
			}
			on = true
			log.Info("cert-manager awareness is on: a listener or Ingress whose certificate Secret is missing names the Certificate that writes it")
		case !served && on:
			on = false
			if err := c.src.UnwatchCertificates(ctx, notify); err != nil {
				log.Error(err, "stopping the Certificate informer")
			}
			log.Info("cert-manager awareness is off: the certificates.cert-manager.io/v1 CRD was removed; checking again periodically",
				"every", c.opts.CertManagerCheck)
		case !served && first:
			log.Info("cert-manager awareness is off: the certificates.cert-manager.io/v1 CRD is not installed; checking again periodically",
				"every", c.opts.CertManagerCheck)
		}
		first = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
