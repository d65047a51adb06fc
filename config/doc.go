// Package config holds the kustomize bases that install nghttpx-gateway:
//
//	crd           Gateway API v1.6.3 CRDs, experimental channel, copied unchanged from the module
//	rbac          the controller's ServiceAccount and least-privilege roles; the read-only proxy role
//	controller    namespace nghttpx-gateway-system and the `serve` Deployment
//	gatewayclass  the `nghttpx` GatewayClass
//	default       all of the above (kubectl apply --server-side -k config/default)
//
// The Go code only renders these bases (Build) for tests and the e2e suite, which
// installs them without kubectl; the manifests themselves are the product.
package config
