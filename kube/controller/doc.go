// Package controller is the `serve` role: a controller-runtime manager that
// watches Gateway API objects and what they reference (package source), runs the
// same pipeline as every other role on each batch, and, as the elected leader
// only (a Lease), provisions every Gateway's data plane (package provision) and
// writes status (package status).
//
// Contract: every replica translates; only the leader writes. Nothing is built
// before the caches synced. Gateway addresses come from the provisioned Service
// (load-balancer ingress, or the cluster IP). Programmed=True is held back until
// at least one ready data-plane pod reports, on its admin port, the model.Hash
// of the Gateway's current model; the pods are polled every 500 ms after a change
// until they match (bounded), every 10 s otherwise.
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
package controller
