// Package controller is the `serve` role: a controller-runtime manager that
// watches Gateway API objects and what they reference (package source), runs the
// same pipeline as every other role on each batch, and, as the elected leader
// only (a Lease), provisions every Gateway's data plane (package provision) and
// writes status (package status).
//
// Contract: every replica translates; only the leader writes. Leader election
// is the package's own loop (leader.go), not the manager's, which exits the
// process when a renewal misses its deadline: a replica that loses the Lease
// (an API server or etcd outage longer than the renew deadline) stops
// provisioning, status and key writes, keeps its caches and translation, and
// campaigns again with the same identity, so the old leader, still the holder,
// takes up again at once when the API server answers. Nothing is built
// before the caches synced. Gateway addresses come from the provisioned Service
// (load-balancer ingress, or the cluster IP); a Gateway with static addresses
// lists only those its Service was granted and stays Programmed=False
// (AddressNotAssigned while the load balancer may still grant one,
// AddressNotUsable once it cannot) until all are. Programmed=True is held back until
// at least one ready data-plane pod reports, on its admin port, the model.Hash
// of the Gateway's current model; the pods are polled every 500 ms after a change
// until they match (bounded), every 10 s otherwise.
//
// OCSP stapling (ocsp.go): a listener's OCSPStapled condition turns
// False/Unsupported while ready data-plane pods report features.ocsp=false on
// /status, and the batch translates again at the earliest nextUpdate of the
// stapled responses (translate.Result.OCSPRecheck), so expiry shows without any
// object changing.
//
// Ingress front-end (Options.Ingress): Ingresses, IngressClasses and the operator
// ConfigMap feed the same pipeline; the shim's synthetic Gateways (in the shim's
// namespace, default the controller's) are provisioned like any Gateway (owned by
// their IngressClass, see package provision) but their status is never written
// (status.WithoutSynthetic). The leader writes each served Ingress's
// status.loadBalancer.ingress (its Gateway's data-plane Service addresses, or
// --publish-service's) and records each shim event as an events.k8s.io/v1 Event
// on the Ingress (and logs it), only when the Ingress UID, type, reason and
// message were not already recorded by the previous batch.
//
// cert-manager awareness: while the certificates.cert-manager.io/v1 CRD is served
// (discovery, checked at start and every Options.CertManagerCheck), Certificates
// are watched too, so a missing certificate Secret's status or Event names the
// Certificate that will write it. Without the CRD nothing else changes.
//
// Shared keys (keys.go): the leader alone (run while leading) keeps one Secret per provisioned Gateway, provision.KeysName in the
// Gateway's namespace, labelled and owned like its other objects, holding the
// QUIC keying material and TLS ticket keys every replica of that data plane
// uses (format and rotation: package dataplane/keys). It sleeps until the next
// period ends (Options.KeyRotation) or a keys Secret changes, rotates with an
// Update on the cached resourceVersion (never twice for one period), never
// overwrites a Secret it did not create, and deletes the Secrets of Gateways
// that are no longer ours. The schedule lives in the Secret, so a new leader
// carries it on.
//
// Metrics (metrics.go) are on controller-runtime's registry, which the manager
// serves on Options.MetricsAddr: build and status-update durations, status
// updates by kind and result (status.Observer), provisioning actions by kind
// (provision.Observer), leader, pending batch notifications, build info,
// managed objects by kind and listener certificate expiry; labels only take
// values from fixed sets or configuration (docs/observability.md lists them).
//
// Events (events.go): the leader records Warning Events on GatewayClasses,
// Gateways and routes for what a user must act on (Rejected, RefNotResolved,
// ProvisioningFailed, DataPlaneNotReady, CertificateExpiring), each once when
// its cause appears, again only after it went away for a batch; conditions
// the stored status already shows are not recorded (a new leader does not
// repeat them). Time alone brings a certificate into its 14-day window, so a
// batch is due then.
//
// Health port (Options.HealthzAddr, the original's --healthz-port): a second
// probe server (package healthport) that starts with the manager's HTTP servers,
// before the caches sync: /healthz is the process answering, /readyz also needs
// the first translation (the original's "nghttpx reloaded once"), /metrics is
// the manager's registry, pprof only with Options.Profiling.
package controller
