package ingressshim

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

// Defaults of Options.
const (
	DefaultIngressClassController = "zlab.co.jp/nghttpx"
	DefaultGatewayClassName       = "nghttpx-ingress"
	DefaultNamespace              = "nghttpx-ingress"
	DefaultGatewayName            = "nghttpx"
	DefaultHTTPPort               = 80
	DefaultHTTPSPort              = 443
)

// Options mirror the original controller's flags (same names, same defaults where
// the zero value allows it) plus where the synthetic objects go. The zero value is
// usable.
type Options struct {
	// IngressClassController is the IngressClass spec.controller that is ours
	// (--ingress-class-controller); default DefaultIngressClassController.
	IngressClassController string
	// RequireIngressClass ignores Ingresses without spec.ingressClassName
	// (--require-ingress-class), the standard Kubernetes rule.
	RequireIngressClass bool
	// DefaultTLSSecret is "namespace/name" of a TLS Secret served when no other
	// certificate matches; when set, every cleartext request is redirected to HTTPS
	// unless path-config says redirectIfNotTLS: false (--default-tls-secret).
	DefaultTLSSecret string
	// DefaultBackendService is "namespace/name" of the Service (its first port)
	// that answers requests no Ingress matches (--default-backend-service). Used
	// only when InternalDefaultBackend is false.
	DefaultBackendService string
	// InternalDefaultBackend answers unmatched requests with 404 and /healthz with
	// 200 (--internal-default-backend). It is also used when DefaultBackendService
	// is empty.
	InternalDefaultBackend bool
	// NoDefaultBackendOverride ignores Ingress defaultBackends and rules for every
	// host and path "/" (--no-default-backend-override).
	NoDefaultBackendOverride bool
	// HTTPPort and HTTPSPort are the listener ports (--nghttpx-http-port,
	// --nghttpx-https-port); 0 means 80 and 443. The original flags disable a port
	// with 0: map that to DisableHTTP/DisableHTTPS.
	HTTPPort, HTTPSPort int32
	DisableHTTP         bool
	DisableHTTPS        bool
	// AllowMruby honours the mruby key of path-config. Off by default because the
	// script runs with the proxy's privileges and sees every request it handles.
	AllowMruby bool
	// WatchNamespace restricts the shim to Ingresses of one namespace
	// (--watch-namespace); empty means all.
	WatchNamespace string
	// NghttpxConfigMap is "namespace/name" of the operator ConfigMap
	// (--nghttpx-configmap); see Result.Operator.
	NghttpxConfigMap string
	// DeferredShutdownPeriod, when positive, adds /nghttpx-healthz on every
	// host (--deferred-shutdown-period), as the original: 200 "ok", or 503
	// once ShuttingDown, so an external load balancer stops sending traffic
	// during the period the data plane keeps serving after SIGTERM.
	DeferredShutdownPeriod time.Duration
	// ShuttingDown is set by a draining data plane (never a flag): the
	// /nghttpx-healthz of DeferredShutdownPeriod answers 503.
	ShuttingDown bool

	// Namespace holds the synthetic Gateways (normally the controller's own
	// namespace); default DefaultNamespace.
	Namespace string
	// GatewayClassName names the synthetic GatewayClass; default
	// DefaultGatewayClassName.
	GatewayClassName string
	// ControllerName is the synthetic GatewayClass's controllerName, which
	// translate.Translate must own; default translate.DefaultControllerName.
	ControllerName string
	// DefaultGatewayName names the Gateway of Ingresses without a class when none
	// of our IngressClasses exists; default DefaultGatewayName.
	DefaultGatewayName string
	// OneGateway serves every Ingress of ours, whatever its IngressClass, with
	// the one Gateway DefaultGatewayName: the in-pod topology of the original
	// controller, whose single nghttpx per pod serves all its classes on the
	// same two ports. The Gateway carries the oldest class's annotation.
	OneGateway bool
}

// nsName is a namespace/name key.
type nsName struct{ Namespace, Name string }

func (k nsName) String() string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

func parseRef(s string) (nsName, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nsName{}, fmt.Errorf("%q is not of the form namespace/name", s)
	}
	return nsName{ns, name}, nil
}

// Validate reports options Translate cannot use; Translate itself ignores them
// with an event, so a CLI should call Validate first.
func (o Options) Validate() error {
	var errs []error
	for _, f := range []struct{ flag, v string }{
		{"default-tls-secret", o.DefaultTLSSecret},
		{"default-backend-service", o.DefaultBackendService},
		{"nghttpx-configmap", o.NghttpxConfigMap},
	} {
		if f.v == "" {
			continue
		}
		if _, err := parseRef(f.v); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", f.flag, err))
		}
	}
	for _, p := range []struct {
		flag string
		v    int32
	}{{"nghttpx-http-port", o.HTTPPort}, {"nghttpx-https-port", o.HTTPSPort}} {
		if p.v < 0 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("--%s: %d is not a port number", p.flag, p.v))
		}
	}
	if o.DeferredShutdownPeriod < 0 {
		errs = append(errs, fmt.Errorf("--deferred-shutdown-period: %v is negative", o.DeferredShutdownPeriod))
	}
	return errors.Join(errs...)
}

// config is Options with defaults applied and references parsed.
type config struct {
	Options
	defaultTLSSecret *nsName
	defaultBackend   *nsName
	configMap        *nsName
	// problems are option errors reported as controller events.
	problems []string
}

func newConfig(o Options) *config {
	c := &config{Options: o}
	if c.IngressClassController == "" {
		c.IngressClassController = DefaultIngressClassController
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.GatewayClassName == "" {
		c.GatewayClassName = DefaultGatewayClassName
	}
	if c.ControllerName == "" {
		c.ControllerName = translate.DefaultControllerName
	}
	if c.DefaultGatewayName == "" {
		c.DefaultGatewayName = DefaultGatewayName
	}
	if c.HTTPPort <= 0 || c.HTTPPort > 65535 {
		c.HTTPPort = DefaultHTTPPort
	}
	if c.HTTPSPort <= 0 || c.HTTPSPort > 65535 {
		c.HTTPSPort = DefaultHTTPSPort
	}
	ref := func(flag, v string) *nsName {
		if v == "" {
			return nil
		}
		k, err := parseRef(v)
		if err != nil {
			c.problems = append(c.problems, fmt.Sprintf("--%s: %v; the option is ignored", flag, err))
			return nil
		}
		return &k
	}
	c.defaultTLSSecret = ref("default-tls-secret", o.DefaultTLSSecret)
	if !c.InternalDefaultBackend {
		c.defaultBackend = ref("default-backend-service", o.DefaultBackendService)
	}
	c.configMap = ref("nghttpx-configmap", o.NghttpxConfigMap)
	return c
}
