// Package status writes the status the translator computed back to the API
// server, as the only writer of our status (the caller makes sure only the
// elected leader calls it).
//
// Contract: every write starts from the informer cache's copy when there is one
// (its resourceVersion makes the update fail if the cache lags; the retry then
// starts from a fresh GET), else from a fresh GET, and changes only
// what we own: the conditions, listeners, addresses and supportedFeatures of our
// GatewayClasses and Gateways (condition types of other writers are kept; for
// Gateways also attachedListenerSets), the conditions and listeners of the
// ListenerSets of our Gateways, and in HTTPRoutes and GRPCRoutes only the status.parents
// entries (in BackendTLSPolicies the status.ancestors entries) whose
// controllerName is ours (kept in place, stale ones removed, new ones appended). A write that would change nothing
// is skipped; a conflict is retried from a new GET; an object that is gone is
// skipped. Writes, skips and conflicts are counted, and every update's outcome
// (kind, result, time spent on the API server) goes to the Writer's Observer.
//
// Ingresses: status.loadBalancer.ingress is written the same way (Ingresses).
// The Ingress shim's synthetic objects never exist in the API server: callers
// drop them with WithoutSynthetic before Write, so a real object of the same name
// never gets their status.
package status
