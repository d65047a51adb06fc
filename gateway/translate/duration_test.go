package translate

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	valid := map[string]time.Duration{
		"0s":           0,
		"1s":           time.Second,
		"500ms":        500 * time.Millisecond,
		"1m30s":        90 * time.Second,
		"1h":           time.Hour,
		"99999ms":      99999 * time.Millisecond,
		"1h2m3s4ms":    time.Hour + 2*time.Minute + 3*time.Second + 4*time.Millisecond,
		"10s1ms":       10*time.Second + time.Millisecond,
		"00001m":       time.Minute,
		"1ms1ms1ms1ms": 4 * time.Millisecond,
		"2h0m0s0ms":    2 * time.Hour,
	}
	for s, want := range valid {
		got, err := parseDuration(s)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "1", "s", "1.5s", "-1s", "1us", "1d", "100000s", "1h1m1s1ms1s", " 1s", "1s ", "1S", "1m 1s"} {
		if got, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) = %v; want an error", s, got)
		}
	}
}
