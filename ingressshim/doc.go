// Package ingressshim is the Ingress front-end: it turns networking.k8s.io/v1
// Ingresses of our IngressClasses, with the annotations of the original nghttpx
// Ingress controller (zlabjp/nghttpx-ingress-lb), into synthetic Gateway API
// objects that are appended to load.Input and translated like any others. It
// never has its own path to nghttpx.
//
// Contract: Translate is pure (objects in, objects and events out; no client, no
// clock, no randomness) and deterministic whatever the input order. The synthetic
// objects, and the status translate.Translate computes for them, must never be
// written to the API server (Result.Synthetic tells them apart). Bad input never
// hurts another Ingress: whatever cannot be used becomes an Event on the Ingress
// it came from, and what is left of that Ingress is served where that is safe.
//
// Use:
//
//	shim := ingressshim.Translate(ingressshim.InputFrom(in), opts)
//	in.Append(shim.GatewayInput())
//	res := translate.Translate(in, gatewayOpts)
//
// Output: one GatewayClass (Options.GatewayClassName), one Gateway per IngressClass
// of ours (named after it, in Options.Namespace) with an "http" listener and, when
// a usable certificate exists, an "https" listener carrying every certificate of its
// Ingresses, each served only for its own Ingress's hosts (sni.go; the default TLS
// Secret for every other name, else no real certificate); HTTPRoutes in the Ingresses'
// namespaces, one per Ingress and host (plus one named "<base>.http" for the HTTP
// listener when some path redirects to HTTPS); ReferenceGrants for certificates in
// other namespaces; load.Extensions for what Gateway API cannot express, and
// ExclusiveGateways so that the synthetic Gateways accept only these routes (a
// user's HTTPRoute naming one gets NotAllowedByListeners and cannot take over
// an Ingress host).
//
// Semantics (see the README of the original controller):
//   - Selection: see selectIngress. kubernetes.io/ingress.class is not supported.
//   - Paths: Exact and Prefix as Kubernetes defines them; ImplementationSpecific
//     keeps nghttpx's rule: "/foo/" is PathPrefix /foo, "/foo" is Exact /foo.
//   - Hosts: wildcards match one or more labels (nghttpx, Gateway API).
//   - Conflicts: older Ingresses (creationTimestamp, then namespace/name) claim a
//     host and path first. A newer Ingress of the same namespace with the same
//     settings shares it (the backends split the traffic, weighted by
//     backend-config weight); otherwise the newer one is not served for that path
//     and gets a PathConflict event. Different namespaces never share a path.
//   - TLS: cleartext requests for a host covered by spec.tls (an entry without
//     hosts covers all), or every request when a default TLS Secret is set, are
//     redirected (308) to HTTPS on HTTPSPort unless path-config says
//     redirectIfNotTLS: false. A missing TLS Secret does not turn that off.
//   - A path that cannot be served as asked answers 500 instead of falling through
//     to a less specific route: unknown Service or port, mruby not allowed by the
//     operator, doNotForward without mruby, resource backends.
//   - Annotations: YAML or JSON; defaults fill missing fields one by one, explicit
//     values win. An unparsable annotation is ignored as a whole, a bad entry or
//     field on its own (as missing); each with an InvalidAnnotation event.
//   - Default route, when no Ingress claims every host and path "/": the oldest
//     Ingress defaultBackend, else --default-backend-service (first port), else
//     the internal default backend (404; /healthz answers 200). With
//     DeferredShutdownPeriod the default route also holds /nghttpx-healthz (200,
//     503 with ShuttingDown), kept even when an Ingress claims every host and "/".
//
// Synthetic names are readable (Ingress name, then ".host"); a name that collides,
// is invalid or too long gets a hash suffix. A real object of the same kind,
// namespace and name would be replaced by the synthetic one in load.Input.
package ingressshim
