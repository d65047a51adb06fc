// Package source turns a controller-runtime cache into load.Input snapshots
// and decides which watch events are worth a rebuild. Both roles use it: the
// controller (`serve`, every Gateway of our GatewayClasses) and the proxy agent
// (`proxy`, one Gateway).
//
// Contract:
//   - Snapshot lists the Gateway API objects and Namespaces from the cache, and
//     only the Services, EndpointSlices and Secrets the in-scope Gateways and their
//     HTTPRoutes and GRPCRoutes reference; it records those references for relevance
//     filtering (GRPCRoutes are skipped when their CRD is not installed).
//     The client CA bundles Gateways name (spec.tls.frontend caCertificateRefs:
//     ConfigMaps or Secrets, any namespace) count as referenced too; callers
//     cache ConfigMaps cluster-wide for them (ClusterWideConfigMaps).
//   - With Options.Named (the proxy) Secrets and ConfigMaps are read one name at a
//     time through their own watches (named.go), which the controller's per-Gateway
//     Roles authorize; a read the API server refuses counts as missing and is
//     retried, so a grant that lags a reference never stalls the Gateway.
//     References runs the same snapshot for the controller to compute those grants.
//   - BackendTLSPolicies targeting a referenced Service are listed (the
//     controller also keeps those carrying our ancestor status, to clear it);
//     their CA ConfigMaps and the Gateways' spec.tls.backend client certificate
//     Secrets count as referenced; policy spec changes trigger.
//   - With Options.Ingress it also lists Ingresses (of --watch-namespace),
//     IngressClasses and the one operator ConfigMap, and the Services and Secrets
//     of the Ingresses that may be ours count as referenced (plus the default
//     backend Service, default TLS Secret and --publish-service).
//   - ListenerSets naming an in-scope Gateway are listed too (routes may attach
//     to them, their certificates count as referenced) and their spec changes
//     trigger; without the ListenerSet CRD (Gateway API before v1.5) they are
//     left out and Gateways are served without them.
//   - After WatchCertificates (the controller, once cert-manager's CRD is served)
//     snapshots also hold the cert-manager Certificates that write a referenced
//     Secret that does not exist; their events count only then, and only when
//     their Secret name or Ready condition changes.
//   - An event triggers a rebuild only when it can change the result: spec (not
//     status) changes of our GatewayClasses, in-scope Gateways and HTTPRoutes and GRPCRoutes that
//     name them; changes of referenced Services, their EndpointSlices, Secrets, of
//     ReferenceGrants in namespaces that references cross into, of Namespace labels
//     when a listener selects namespaces; and of objects Options.Owned claims.
//     Status-only updates never trigger, so our own status writes cause no work.
//   - Batcher coalesces triggers (100 ms after the last event, at most 500 ms after
//     the first, one batch in flight). Start returns only once the caches have
//     synced and every handler has seen the initial list; callers build after it.
package source
