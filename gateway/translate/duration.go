package translate

import (
	"fmt"
	"time"
)

// parseDuration parses a Gateway API Duration (GEP-2257): one to four parts, each
// one to five digits followed by h, m, s or ms, e.g. "1h30m", "500ms", "0s".
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	parts := 0
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j-i > 5 {
			return 0, fmt.Errorf("duration %q: each part needs 1 to 5 digits", s)
		}
		var n int64
		for _, c := range s[i:j] {
			n = n*10 + int64(c-'0')
		}
		var unit time.Duration
		switch {
		case j+2 <= len(s) && s[j:j+2] == "ms":
			unit, j = time.Millisecond, j+2
		case j < len(s) && s[j] == 'h':
			unit, j = time.Hour, j+1
		case j < len(s) && s[j] == 'm':
			unit, j = time.Minute, j+1
		case j < len(s) && s[j] == 's':
			unit, j = time.Second, j+1
		default:
			return 0, fmt.Errorf("duration %q: unit must be h, m, s or ms", s)
		}
		total += time.Duration(n) * unit
		parts++
		if parts > 4 {
			return 0, fmt.Errorf("duration %q: at most 4 parts", s)
		}
		i = j
	}
	return total, nil
}
