package gateway

import (
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/model"
)

const (
	// defaultRetryAttempts is used when retry.attempts is unset
	// (implementation-specific per the API).
	defaultRetryAttempts = 1
	// maxRetryAttempts and maxRetryBackoffMillis are what the data plane carries.
	maxRetryAttempts      = 100
	maxRetryBackoffMillis = 1_000_000
)

// ruleRetry validates a rule's retry policy and stores it on tmpl.
func ruleRetry(rt *gatewayv1.HTTPRouteRetry, tmpl *model.Rule) *ruleError {
	if rt == nil {
		return nil
	}
	out := &model.Retry{Attempts: defaultRetryAttempts}
	for _, c := range rt.Codes {
		if c < 400 || c > 599 {
			return unsupported("retry.codes: %d is not a status code in 400-599", c)
		}
		if !slices.Contains(out.Codes, int(c)) {
			out.Codes = append(out.Codes, int(c))
		}
	}
	slices.Sort(out.Codes)
	if rt.Attempts != nil {
		switch a := *rt.Attempts; {
		case a < 0:
			return unsupported("retry.attempts must not be negative")
		case a > maxRetryAttempts:
			return unsupported("retry.attempts %d is more than %d, the most this data plane supports", a, maxRetryAttempts)
		default:
			out.Attempts = a
		}
	}
	if rt.Backoff != nil {
		d, err := parseDuration(string(*rt.Backoff))
		if err != nil {
			return unsupported("retry.backoff: %v", err)
		}
		if d.Milliseconds() > maxRetryBackoffMillis {
			return unsupported("retry.backoff %s is longer than %ds, the most this data plane supports", *rt.Backoff, maxRetryBackoffMillis/1000)
		}
		out.BackoffMillis = d.Milliseconds()
	}
	tmpl.Retry = out
	return nil
}
