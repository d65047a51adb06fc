// Package e2eutil holds what the end-to-end suites (e2e/gateway, e2e/ingress) and
// the conformance harness share around a cluster: server-side apply of rendered
// manifests (CRDs first), installing config/default, locating or building the
// nghttpx-gateway binary and mapping our image to it for the local cluster, polling
// and condition helpers, and failure diagnostics saved as artifacts.
//
// It holds no suite state and no test assertions (callers decide between t.Fatal and
// returning an error), and it has no build tag: it imports only packages the module
// already builds, so `go vet ./...` keeps it compiling while the suites sit behind
// their tags.
package e2eutil
