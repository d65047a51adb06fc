package controller

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// settingsSource returns provision.Options.Settings: the resolved settings of a
// Gateway's model in the latest translation. A Gateway of ours without a model
// (its GatewayClass parameters became unusable, or no listener is valid) keeps
// the settings it last had, so a typo in a parameters ConfigMap does not roll
// its data plane to the defaults (dropping PROXY protocol behind a load balancer
// that sends it). The memory is this process's: a restarted or new leader
// starts from the defaults for such Gateways.
func (c *Controller) settingsSource() func(namespace, name string) *model.Settings {
	var mu sync.Mutex
	last := map[types.NamespacedName]*model.Settings{}
	return func(namespace, name string) *model.Settings {
		// Called from provisionAll, on the batch goroutine that owns c.out.
		if c.out == nil {
			return nil
		}
		k := types.NamespacedName{Namespace: namespace, Name: name}
		mu.Lock()
		defer mu.Unlock()
		for _, g := range c.out.Gateways {
			if s := g.Model.Source; s.Namespace == namespace && s.Name == name {
				last[k] = g.Model.Settings
				return g.Model.Settings
			}
		}
		current := map[types.NamespacedName]bool{}
		for _, g := range c.out.Translation.Gateways {
			current[types.NamespacedName{Namespace: g.Namespace, Name: g.Name}] = true
		}
		// Forget deleted Gateways (and Gateways no longer of our classes).
		for x := range last {
			if !current[x] {
				delete(last, x)
			}
		}
		return last[k]
	}
}
