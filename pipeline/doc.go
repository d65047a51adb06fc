// Package pipeline chains the pure stages: objects -> ingressshim.Translate (when
// there are Ingresses or IngressClasses) -> translate.Translate (status + model) ->
// render.Render (nghttpx files). The translate command, the standalone runner and
// the end-to-end golden tests all go through Build, so what a user sees from
// `nghttpx-gateway translate` is exactly what the data plane gets. Build is
// Translate then Render; a role that runs nghttpx (dataplane/instance) calls them
// apart and passes each Gateway's ports to Render (Options.Ports): the pipeline
// never calls back into its caller.
//
// The Ingress controller's settings (Options.Ingress, ProxyProtocol and the
// operator ConfigMap the shim found) apply to the shim's synthetic Gateways only:
// mruby, PROXY protocol, the nghttpx-conf lines that render.ParseExtraConfig
// accepts (the others become events on the ConfigMap) and the global mruby script.
// Synthetic objects never appear as objects in Output.YAML: their status is printed
// in the Ingress document, with each Ingress's events.
//
// A Gateway whose rendering failed or dropped a piece (render.Config.Dropped) gets
// Programmed=False with the reason, so status never claims what is not served.
//
// Contract: pure. No clock (the caller passes Now), no I/O, no processes; the input
// is not modified.
package pipeline
