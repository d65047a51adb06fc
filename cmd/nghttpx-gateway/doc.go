// Command nghttpx-gateway is the project's one binary; its first argument picks a
// role: run (standalone, Gateways from a directory of YAML files, no cluster),
// translate (print status and rendered nghttpx configuration), convert (Ingresses to
// Gateway API YAML), serve (the Kubernetes controller), proxy (the data-plane agent
// next to nghttpx in each Gateway's pod) and version. Hidden: ocsp-response, the
// program nghttpx runs to fetch a certificate's OCSP response (run and proxy
// install it as a symlink named nghttpx-gateway-fetch-ocsp-response, and main
// dispatches on that name because nghttpx passes only the certificate path).
// Run as nghttpx-ingress-controller (the image's /nghttpx-ingress-controller
// link), with that path as the first argument, or with flags and no command, it
// is serve with the original nghttpx Ingress controller's defaults (original.go).
//
// Contract: wiring only. Flags are parsed here and handed to the packages that do the
// work (pipeline, standalone, kube/..., dataplane/...); no translation logic lives here.
package main
