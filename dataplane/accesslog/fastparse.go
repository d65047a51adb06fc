package accesslog

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// parseFast reads the flat object NghttpxFormat produces (string values with
// only \xNN escapes, bare numbers) without reflection: the agent parses every
// request's line, and encoding/json cost more CPU than nghttpx spends on the
// request. Anything else is an error and Parse falls back to encoding/json.
func parseFast(line []byte, e *Entry) error {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return errSyntax
	}
	i++
	var buf []byte
	for {
		i = skipSpace(line, i)
		if i < len(line) && line[i] == '}' {
			if skipSpace(line, i+1) != len(line) {
				return errSyntax
			}
			return nil
		}
		// "key":
		if i >= len(line) || line[i] != '"' {
			return errSyntax
		}
		j := i + 1
		for j < len(line) && line[j] != '"' && line[j] != '\\' {
			j++
		}
		if j >= len(line) || line[j] != '"' {
			return errSyntax
		}
		key := line[i+1 : j]
		i = skipSpace(line, j+1)
		if i >= len(line) || line[i] != ':' {
			return errSyntax
		}
		i = skipSpace(line, i+1)
		if i >= len(line) {
			return errSyntax
		}
		if line[i] == '"' {
			var s string
			var err error
			s, i, buf, err = readString(line, i, buf)
			if err != nil {
				return err
			}
			if dst := e.stringField(key); dst != nil {
				*dst = s
			} else if e.setNumber(key, nil) != errUnknown {
				return errSyntax // a string where a number belongs
			}
		} else {
			j := i
			for j < len(line) && line[j] != ',' && line[j] != '}' && line[j] != ' ' {
				j++
			}
			if err := e.setNumber(key, line[i:j]); err != nil && err != errUnknown {
				return err
			}
			i = j
		}
		i = skipSpace(line, i)
		if i < len(line) && line[i] == ',' {
			i++
		}
	}
}

var (
	errSyntax  = errors.New("access log line: unexpected syntax")
	errUnknown = errors.New("access log line: unknown field")
)

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// readString reads the string starting at line[i] ('"'), decoding \xNN as the
// rune of that byte (see Parse); it returns the string and the index after it.
func readString(line []byte, i int, buf []byte) (string, int, []byte, error) {
	j := i + 1
	start := j
	for j < len(line) && line[j] != '"' && line[j] != '\\' {
		j++
	}
	if j < len(line) && line[j] == '"' {
		return string(line[start:j]), j + 1, buf, nil // the common case: nothing escaped
	}
	buf = append(buf[:0], line[start:j]...)
	for j < len(line) {
		c := line[j]
		switch {
		case c == '"':
			return string(buf), j + 1, buf, nil
		case c == '\\':
			if j+3 >= len(line) || line[j+1] != 'x' {
				return "", 0, buf, errSyntax
			}
			hi, ok1 := unhex(line[j+2])
			lo, ok2 := unhex(line[j+3])
			if !ok1 || !ok2 {
				return "", 0, buf, errSyntax
			}
			buf = utf8.AppendRune(buf, rune(hi<<4|lo))
			j += 4
		default:
			buf = append(buf, c)
			j++
		}
	}
	return "", 0, buf, errSyntax
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (e *Entry) stringField(key []byte) *string {
	switch string(key) { // no allocation: the compiler compares in place
	case "time":
		return &e.Time
	case "time_local":
		return &e.TimeLocal
	case "remote_addr":
		return &e.RemoteAddr
	case "method":
		return &e.Method
	case "authority":
		return &e.Authority
	case "path":
		return &e.Path
	case "protocol":
		return &e.Protocol
	case "alpn":
		return &e.ALPN
	case "backend_host":
		return &e.BackendHost
	case "backend_port":
		return &e.BackendPort
	case "backend_pattern":
		return &e.BackendPattern
	case "referer":
		return &e.Referer
	case "user_agent":
		return &e.UserAgent
	}
	return nil
}

func (e *Entry) setNumber(key, v []byte) error {
	switch string(key) {
	case "server_port", "status":
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return errSyntax
		}
		if string(key) == "status" {
			e.Status = n
		} else {
			e.ServerPort = n
		}
	case "bytes":
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return errSyntax
		}
		e.Bytes = n
	case "request_time":
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return errSyntax
		}
		e.RequestTime = f
	default:
		// An unknown field: a number, true, false or null.
		if len(v) == 0 {
			return errSyntax
		}
		return errUnknown
	}
	return nil
}

// appendJSON appends e and id as the JSON object of FormatJSON.
func appendJSON(b []byte, e *Entry, id *Identity) []byte {
	str := func(k, v string) {
		b = append(b, ',', '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		b = appendString(b, v)
	}
	num := func(k string, v int64) {
		b = append(b, ',', '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, v, 10)
	}
	b = append(b, `{"time":`...)
	b = appendString(b, e.Time)
	str("time_local", e.TimeLocal)
	str("remote_addr", e.RemoteAddr)
	str("method", e.Method)
	str("authority", e.Authority)
	str("path", e.Path)
	str("protocol", e.Protocol)
	str("alpn", e.ALPN)
	num("server_port", int64(e.ServerPort))
	num("status", int64(e.Status))
	num("bytes", e.Bytes)
	b = append(b, `,"request_time":`...)
	b = strconv.AppendFloat(b, e.RequestTime, 'f', -1, 64)
	str("backend_host", e.BackendHost)
	str("backend_port", e.BackendPort)
	str("backend_pattern", e.BackendPattern)
	str("referer", e.Referer)
	str("user_agent", e.UserAgent)
	str("gateway", id.Gateway)
	str("listener", id.Listener)
	str("route_kind", id.RouteKind)
	str("route", id.Route)
	str("rule", id.Rule)
	str("backend", id.Backend)
	return append(b, '}')
}

// appendString appends s as a JSON string (s is valid UTF-8: Parse made it).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
