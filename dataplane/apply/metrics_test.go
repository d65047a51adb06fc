package apply

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStatsSet(t *testing.T) {
	var set StatsSet
	st := &Stats{}
	st.Reloads.Store(2)
	st.BackendPosts.Store(5)
	st.ApplyErrors.Store(1)
	set.Put("ns/gw", st)
	reg := prometheus.NewRegistry()
	reg.MustRegister(&set)
	want := `# HELP nghttpx_gateway_dataplane_applies_total Configuration changes sent to nghttpx, by kind: reload (SIGHUP), backend_api (POST backendconfig), route_table (routes.rb rewrite).
# TYPE nghttpx_gateway_dataplane_applies_total counter
nghttpx_gateway_dataplane_applies_total{gateway="ns/gw",kind="backend_api"} 5
nghttpx_gateway_dataplane_applies_total{gateway="ns/gw",kind="reload"} 2
nghttpx_gateway_dataplane_applies_total{gateway="ns/gw",kind="route_table"} 0
# HELP nghttpx_gateway_dataplane_apply_errors_total Failed apply attempts (each retry counts).
# TYPE nghttpx_gateway_dataplane_apply_errors_total counter
nghttpx_gateway_dataplane_apply_errors_total{gateway="ns/gw"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nghttpx_gateway_dataplane_applies_total", "nghttpx_gateway_dataplane_apply_errors_total"); err != nil {
		t.Error(err)
	}
	set.Delete("ns/gw")
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("%d series after Delete (%v)", n, err)
	}
}
