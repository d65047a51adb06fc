package nghttpx

import (
	"fmt"
	"regexp"
	"strconv"
)

// H2loadResult is the request summary line of an h2load run.
type H2loadResult struct {
	Total, Started, Done, Succeeded, Failed, Errored, Timeout int
}

var h2loadRequests = regexp.MustCompile(`(?m)^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)

// ParseH2load reads the "requests: ..." line of h2load's output.
func ParseH2load(out string) (H2loadResult, error) {
	m := h2loadRequests.FindStringSubmatch(out)
	if m == nil {
		return H2loadResult{}, fmt.Errorf("no requests line in h2load output: %q", tail(out, 400))
	}
	var n [7]int
	for i := range n {
		v, err := strconv.Atoi(m[i+1])
		if err != nil {
			return H2loadResult{}, fmt.Errorf("h2load requests line %q: %w", m[0], err)
		}
		n[i] = v
	}
	return H2loadResult{Total: n[0], Started: n[1], Done: n[2], Succeeded: n[3], Failed: n[4], Errored: n[5], Timeout: n[6]}, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
