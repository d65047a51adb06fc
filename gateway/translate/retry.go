package translate

import (
	"fmt"
	"slices"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

const (
	// defaultRetryAttempts is used when retry.attempts is unset
	// (implementation-specific per the API).
	defaultRetryAttempts = 1
	// maxRetryAttempts and maxRetryBackoffMillis bound what a route gets: more is
	// clamped, and the route's Accepted message says so.
	maxRetryAttempts      = validate.MaxRetryAttempts
	maxRetryBackoffMillis = validate.MaxRetryBackoffMillis
)

// ruleRetry validates a rule's retry policy and stores it on tmpl. notes say which
// values were clamped.
func ruleRetry(rt *gatewayv1.HTTPRouteRetry, tmpl *model.Rule) (notes []string, _ *ruleError) {
	if rt == nil {
		return nil, nil
	}
	out := &model.Retry{Attempts: defaultRetryAttempts}
	for _, c := range rt.Codes {
		if c < 400 || c > 599 {
			return nil, unsupported("retry.codes: %d is not a status code in 400-599", c)
		}
		if !slices.Contains(out.Codes, int(c)) {
			out.Codes = append(out.Codes, int(c))
		}
	}
	slices.Sort(out.Codes)
	if rt.Attempts != nil {
		switch a := *rt.Attempts; {
		case a < 0:
			return nil, unsupported("retry.attempts must not be negative")
		case a > maxRetryAttempts:
			notes = append(notes, fmt.Sprintf("retry.attempts %d clamped to %d, the most nghttpx-gateway allows", a, maxRetryAttempts))
			out.Attempts = maxRetryAttempts
		default:
			out.Attempts = a
		}
	}
	if rt.Backoff != nil {
		d, err := parseDuration(string(*rt.Backoff))
		if err != nil {
			return nil, unsupported("retry.backoff: %v", err)
		}
		out.BackoffMillis = d.Milliseconds()
		if out.BackoffMillis > maxRetryBackoffMillis {
			notes = append(notes, fmt.Sprintf("retry.backoff %s clamped to %s, the longest nghttpx-gateway allows",
				*rt.Backoff, time.Duration(maxRetryBackoffMillis)*time.Millisecond))
			out.BackoffMillis = maxRetryBackoffMillis
		}
	}
	tmpl.Retry = out
	return notes, nil
}
