package provision

import (
	"context"
	"maps"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

type actionCounts map[string]int

func (a actionCounts) ProvisionAction(action, kind string) { a[action+"/"+kind]++ }

// The Observer hears every apply and delete by kind, and nothing for an
// unchanged Gateway.
func TestObserverCountsActionsByKind(t *testing.T) {
	p, c := newProvisioner(t)
	got := actionCounts{}
	p.Observer = got
	ctx := context.Background()
	keep, gone := testGateway(), testGateway()
	gone.Name, gone.UID = "old", "uid-2"
	// keep twice: the second Ensure finds nothing to apply.
	for _, g := range []*gatewayv1.Gateway{keep, gone, keep} {
		if err := p.Ensure(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Prune(ctx, map[types.NamespacedName]bool{{Namespace: "apps", Name: "web"}: true}); err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureBinding(ctx, c, []types.NamespacedName{{Namespace: "apps", Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	want := actionCounts{
		"apply/ServiceAccount": 2, "apply/Service": 2, "apply/Deployment": 2,
		"delete/ServiceAccount": 1, "delete/Service": 1, "delete/Deployment": 1,
		"apply/ClusterRoleBinding": 1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("actions %v\nwant    %v", got, want)
	}
}
