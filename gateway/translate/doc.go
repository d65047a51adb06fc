// Package translate turns Gateway API objects into the resolved model (package
// model) and computes the status of every object it owns.
//
// Contract: Translate is pure. Objects in (a load.Input, from load.DecodeYAML or
// informers), one model per accepted Gateway of our GatewayClasses and deep copies
// with status out. No client, no clock (Options.Now), no randomness; the same
// Input gives the same Result whatever its order. Validation happens here and every
// rejection becomes a condition on the object that caused it, following the
// Gateway API v1.6.3 spec. What the data plane cannot express is known to package
// dataplane/validate (which the renderer uses too): a rule that fails it is dropped
// (UnsupportedValue), a route hostname makes the route not Accepted, a listener
// hostname or a port in Options.ReservedPorts makes the listener not Accepted; so
// one object never stops its Gateway from rendering. Retry attempts and backoff
// beyond validate's bounds are clamped and the route's Accepted message says so.
//
// Status rules: only GatewayClasses with our controllerName, their Gateways and
// the ListenerSets naming those Gateways get status; in HTTPRoutes and GRPCRoutes
// (translated as the HTTPRoute they are equivalent to, grpcroute.go) only
// status.parents entries of our controller are rewritten, others are kept as
// they are; likewise status.ancestors of BackendTLSPolicies (backendtls.go),
// whose ancestors are our Gateways that route to a targeted Service port. Conditions keep their lastTransitionTime while their status is
// unchanged, so an unchanged Result equals the stored objects and a status
// writer can skip it. Programmed=True here means "translated into a valid
// model"; the caller may hold it back until the data plane has applied the
// model.
package translate
