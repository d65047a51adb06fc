// Command coredns is CoreDNS v1.15.0 with only the plugins the local cluster uses:
// the kube-dns Deployment (kubernetes, cache, health, ready, reload, errors, log,
// loop, forward) and the Gateway API conformance manifests' pod (forward, log,
// errors, whoami). Leaving out the cloud plugins cuts the build to a fraction.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// directives keeps CoreDNS's own plugin order (core/dnsserver/zdirectives.go)
// for the plugins linked in.
var directives = []string{
	"reload", "ready", "health", "prometheus", "errors", "log", "loadbalance",
	"cache", "hosts", "kubernetes", "loop", "forward", "whoami",
}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
