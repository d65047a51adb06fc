package render

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Bounds of validate: below the patched nghttpx's x-ngxgw-retry parser limits
// (100 attempts, 1000 s).
const (
	maxRetryAttempts      = validate.MaxRetryAttempts
	maxRetryBackoffMillis = validate.MaxRetryBackoffMillis
)

// retryValue is the x-ngxgw-retry request header value for a rule's retry policy,
// "CODE[,CODE...];ATTEMPTS[;BACKOFF_MS]": the router sets it, our nghttpx patch
// (hack/nghttpx-patches/*-retry-status.patch) reads and removes it before the request
// is forwarded. ok is false when there is nothing to retry on status or the binary
// cannot (then the header would reach the backend).
func retryValue(rt *model.Retry, f Features) (v string, ok bool, err error) {
	if rt == nil || len(rt.Codes) == 0 || rt.Attempts == 0 || !f.StatusRetry {
		return "", false, nil
	}
	if rt.Attempts < 0 || rt.Attempts > maxRetryAttempts {
		return "", false, fmt.Errorf("attempts %d out of range 0-%d", rt.Attempts, maxRetryAttempts)
	}
	if rt.BackoffMillis < 0 || rt.BackoffMillis > maxRetryBackoffMillis {
		return "", false, fmt.Errorf("backoff %d ms out of range 0-%d", rt.BackoffMillis, maxRetryBackoffMillis)
	}
	codes := make([]string, len(rt.Codes))
	for i, c := range rt.Codes {
		if c < 400 || c > 599 {
			return "", false, fmt.Errorf("status code %d out of range 400-599", c)
		}
		codes[i] = strconv.Itoa(c)
	}
	v = strings.Join(codes, ",") + ";" + strconv.Itoa(rt.Attempts)
	if rt.BackoffMillis > 0 {
		v += ";" + strconv.FormatInt(rt.BackoffMillis, 10)
	}
	return v, true, nil
}
