package nghttpx

import "strings"

// Severity of an nghttpx log line.
type Severity string

const (
	SeverityInfo   Severity = "INFO"
	SeverityNotice Severity = "NOTICE"
	SeverityWarn   Severity = "WARN"
	SeverityError  Severity = "ERROR"
	SeverityFatal  Severity = "FATAL"
)

// LogLine is one parsed line of nghttpx's error log, e.g.
// "2024-01-02T03:04:05.678Z 10 12 48e5aeaa ERROR (shrpx_config.cc:123) frontend: Invalid host, port: bad".
type LogLine struct {
	// PID is the process that wrote the line (main or worker), as text.
	PID      string
	Severity Severity
	// Source is the C++ file and line, e.g. "shrpx_config.cc:123".
	Source  string
	Message string
}

// ParseLogLine splits an nghttpx error log line. ok is false for lines in another
// format (access logs, or output of programs nghttpx runs).
func ParseLogLine(s string) (l LogLine, ok bool) {
	// timestamp, main pid, pid, thread id, severity, (source), message
	f := strings.SplitN(s, " ", 7)
	if len(f) < 7 || !strings.HasPrefix(f[5], "(") || !strings.HasSuffix(f[5], ")") {
		return LogLine{}, false
	}
	sev := Severity(f[4])
	switch sev {
	case SeverityInfo, SeverityNotice, SeverityWarn, SeverityError, SeverityFatal:
	default:
		return LogLine{}, false
	}
	return LogLine{PID: f[2], Severity: sev, Source: strings.Trim(f[5], "()"), Message: f[6]}, true
}
