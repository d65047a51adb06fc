// Package load is the first stage of the pipeline: it gathers the objects one
// translation sees into an Input, the input bag. DecodeYAML reads them from YAML
// or JSON documents (translate, convert, run); the Kubernetes roles fill an
// Input from their caches (kube/source). Extensions carry what the Ingress shim
// adds for the translator beyond Gateway API objects.
//
// Contract: decoding only. No translation, no defaults, no I/O: callers pass
// bytes in and get typed objects out; unknown fields and kinds the translator
// cannot read as typed objects are errors or go to Other, never dropped silently.
package load
