package conformance

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// report is the part of the upstream ConformanceReport the README table shows.
type report struct {
	GatewayAPIVersion string `json:"gatewayAPIVersion"`
	Implementation    struct {
		Version string `json:"version"`
	} `json:"implementation"`
	Date     string `json:"date"`
	Profiles []struct {
		Name string `json:"name"`
		Core struct {
			Result     string `json:"result"`
			Statistics stats  `json:"statistics"`
		} `json:"core"`
		Extended struct {
			Result              string   `json:"result"`
			Statistics          stats    `json:"statistics"`
			SupportedFeatures   []string `json:"supportedFeatures"`
			UnsupportedFeatures []string `json:"unsupportedFeatures"`
		} `json:"extended"`
	} `json:"profiles"`
}

type stats struct {
	Passed, Failed, Skipped int
}

// Unsupported explains, for the README, why each extended feature we do not claim
// is missing. A feature without an entry is shown as "not yet".
var Unsupported = map[string]string{
	"HTTPRouteRetryBackendTimeout":  "not yet: our retry patch re-sends on listed status codes only; a backend timeout is not retried",
	"HTTPRouteRetryConnectionError": "nghttpx re-tries connection failures before a response by itself, but the suite v1.6.3 has no test for it, so it is not claimed",
}

// ReadmeTable renders the result table of the report at path as Markdown.
func ReadmeTable(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var r report
	if err := yaml.Unmarshal(data, &r); err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	var b strings.Builder
	for _, p := range r.Profiles {
		fmt.Fprintf(&b, "Gateway API %s conformance, profile %s (report: `%s`, version %s, %s):\n\n",
			r.GatewayAPIVersion, p.Name, path, r.Implementation.Version, r.Date)
		b.WriteString("| tests | result | passed | failed | skipped |\n| --- | --- | ---: | ---: | ---: |\n")
		fmt.Fprintf(&b, "| core | %s | %d | %d | %d |\n", p.Core.Result, p.Core.Statistics.Passed, p.Core.Statistics.Failed, p.Core.Statistics.Skipped)
		fmt.Fprintf(&b, "| extended | %s | %d | %d | %d |\n\n", p.Extended.Result, p.Extended.Statistics.Passed, p.Extended.Statistics.Failed, p.Extended.Statistics.Skipped)
		fmt.Fprintf(&b, "Extended features claimed and passing (%d): %s.\n\n",
			len(p.Extended.SupportedFeatures), strings.Join(p.Extended.SupportedFeatures, ", "))
		un := slices.Clone(p.Extended.UnsupportedFeatures)
		slices.Sort(un)
		if len(un) == 0 {
			b.WriteString("No extended feature of this profile is left unclaimed.\n\n")
			continue
		}
		b.WriteString("| not claimed | why |\n| --- | --- |\n")
		for _, f := range un {
			why := Unsupported[f]
			if why == "" {
				why = "not yet"
			}
			fmt.Fprintf(&b, "| %s | %s |\n", f, why)
		}
		b.WriteString("\n") // a table ends at a blank line
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
