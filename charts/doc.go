// Package charts tests the Helm chart in nghttpx-gateway/ with the Helm library
// itself (loader, lint, template engine): lint is clean, `helm template` output is
// golden for a few value sets, the schema refuses bad values, every rendered object
// decodes strictly as a known Kubernetes kind, the RBAC and admission policies are
// config/rbac's, the CRDs are the Gateway API module's, and Helm's install,
// upgrade and uninstall actions run against a stand-in API server that maps a
// custom resource only once its CRD exists. cmd/release writes
// the release manifests and packages the chart for make release.
//
// It is a module of its own: Helm v4 needs k8s.io v0.37 and controller-runtime
// v0.25, which the controller's module cannot take, and nothing here is linked
// into nghttpx-gateway.
package charts
