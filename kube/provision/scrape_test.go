package provision

import "testing"

// The pod template points Prometheus at the proxy's /metrics, unless the
// Gateway's infrastructure annotations say otherwise.
func TestScrapeAnnotations(t *testing.T) {
	got := scrapeAnnotations(nil, 9901)
	if got["prometheus.io/scrape"] != "true" || got["prometheus.io/port"] != "9901" || got["prometheus.io/path"] != "/metrics" {
		t.Errorf("defaults %v", got)
	}
	user := map[string]string{"prometheus.io/scrape": "false", "team": "a"}
	got = scrapeAnnotations(user, 9901)
	if got["prometheus.io/scrape"] != "false" || got["team"] != "a" || got["prometheus.io/port"] != "9901" {
		t.Errorf("with the Gateway's %v: %v", user, got)
	}
	if len(user) != 2 {
		t.Errorf("input modified: %v", user)
	}
}
