package controller

import (
	"context"
	"net"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

// Options configure the controller.
type Options struct {
	// ControllerName selects our GatewayClasses (default translate.DefaultControllerName).
	ControllerName string
	// Namespace holds the controller's own objects: the leader election Lease.
	Namespace string
	// LeaderElect enables leader election; without it this replica always leads.
	LeaderElect bool
	// LeaderElectionID names the Lease (default "nghttpx-gateway-controller").
	LeaderElectionID string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election (zero:
	// controller-runtime's defaults, 15s/10s/2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// MetricsAddr and HealthAddr are bind addresses ("0" disables).
	MetricsAddr, HealthAddr string
	// HealthzAddr is the original nghttpx Ingress controller's health port
	// (--healthz-port): /healthz, /readyz, /metrics and, with Profiling, pprof
	// (package healthport). Empty or "0" disables it.
	HealthzAddr string
	Profiling   bool
	// Provision shapes the data-plane objects (image, Service type, admin port...).
	Provision provision.Options
	// DialContext reaches data-plane pods' admin ports (default: a plain dialer).
	// Tests running the controller outside the cluster network pass their own.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// PollFast and PollSlow are the data-plane poll intervals after a change and
	// otherwise (defaults 500ms and 10s).
	PollFast, PollSlow time.Duration
	// Ingress, when set, also serves Ingresses (see IngressOptions).
	Ingress *IngressOptions
	// InPod, with Ingress, runs the Ingress data plane inside this process
	// (the original's topology; inpod.go).
	InPod *InPodOptions
	// KeyRotation are the rotation periods of every Gateway's shared QUIC and
	// TLS ticket keys Secret, which the leader keeps (zero: created, never
	// rotated). NoSharedKeys turns the keys Secrets off.
	KeyRotation  keys.Periods
	NoSharedKeys bool
	// NghttpxSecret is the original nghttpx Ingress controller's keys Secret
	// (its --nghttpx-secret; an empty namespace means Namespace). With the
	// Ingress front-end, the leader keeps it in that controller's format and on
	// KeyRotation's periods (creating it when missing), and the Ingress data
	// planes take their QUIC and TLS ticket keys from it, so pods of both
	// controllers share keys during a rolling replacement (keys_original.go).
	NghttpxSecret types.NamespacedName
	// CertManagerCheck is how often discovery is asked whether cert-manager's
	// Certificate CRD is served, to notice it being installed or removed (default
	// 30s); see watchCertManager.
	CertManagerCheck time.Duration
	// OCSP is OCSP stapling from certificate Secrets (--ocsp-stapling); the
	// proxies get the same settings as flags.
	OCSP translate.OCSPOptions
	// Version is this build's version, for nghttpx_gateway_build_info.
	Version string
	Log     logr.Logger
}

func (o Options) withDefaults() Options {
	if o.ControllerName == "" {
		o.ControllerName = translate.DefaultControllerName
	}
	if o.Namespace == "" {
		o.Namespace = "nghttpx-gateway-system"
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "nghttpx-gateway-controller"
	}
	if o.Provision.ControllerName == "" {
		o.Provision.ControllerName = o.ControllerName
	}
	if o.Provision.AdminPort == 0 {
		o.Provision.AdminPort = provision.DefaultAdminPort
	}
	if o.PollFast == 0 {
		o.PollFast = 500 * time.Millisecond
	}
	if o.PollSlow == 0 {
		o.PollSlow = 10 * time.Second
	}
	if o.CertManagerCheck <= 0 {
		o.CertManagerCheck = 30 * time.Second
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	if o.NghttpxSecret.Name != "" && o.NghttpxSecret.Namespace == "" {
		o.NghttpxSecret.Namespace = o.Namespace
	}
	if o.Ingress != nil && o.Ingress.Shim.Namespace == "" {
		ing := *o.Ingress
		ing.Shim.Namespace = o.Namespace
		o.Ingress = &ing
	}
	return o
}

// originalKeys is the original-format keys Secret the leader keeps and the
// Ingress data planes read: NghttpxSecret when the Ingress front-end and shared
// keys are on, else zero.
func (o Options) originalKeys() types.NamespacedName {
	if o.Ingress == nil || o.NoSharedKeys {
		return types.NamespacedName{}
	}
	return o.NghttpxSecret
}
