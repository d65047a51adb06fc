package accesslog

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Entry is one request as nghttpx logged it (NghttpxFormat).
type Entry struct {
	Time       string `json:"time"`
	TimeLocal  string `json:"time_local"`
	RemoteAddr string `json:"remote_addr"`
	Method     string `json:"method"`
	Authority  string `json:"authority"`
	Path       string `json:"path"`
	// Protocol is nghttpx's $protocol_version: HTTP/1.1, HTTP/2 or HTTP/3.
	Protocol string `json:"protocol"`
	ALPN     string `json:"alpn"`
	// ServerPort is the frontend port (the Gateway port).
	ServerPort int   `json:"server_port"`
	Status     int   `json:"status"`
	Bytes      int64 `json:"bytes"`
	// RequestTime is in seconds (millisecond resolution).
	RequestTime    float64 `json:"request_time"`
	BackendHost    string  `json:"backend_host"`
	BackendPort    string  `json:"backend_port"`
	BackendPattern string  `json:"backend_pattern"`
	Referer        string  `json:"referer"`
	UserAgent      string  `json:"user_agent"`
}

// Parse reads one line of NghttpxFormat. nghttpx writes a byte it escapes as
// \xNN, which JSON does not know: each becomes \u00NN, so a byte >= 0x80 reads
// as the rune of the same value (nghttpx escapes every such byte, so nothing
// is lost: Entry.request and the text format write them back as \xNN).
func Parse(line []byte) (Entry, error) {
	var e Entry
	if len(line) == 0 || line[0] != '{' {
		return e, errors.New("not a JSON access log line")
	}
	if parseFast(line, &e) == nil {
		return e, nil
	}
	e = Entry{}
	if err := json.Unmarshal(fixEscapes(line), &e); err != nil {
		return e, err
	}
	return e, nil
}

// fixEscapes rewrites \xNN as \u00NN. Every backslash in a line comes from
// nghttpx's escaping (it escapes '\' itself as \x5c), so no other sequence
// occurs; the line is returned unchanged when it holds none.
func fixEscapes(line []byte) []byte {
	n := 0
	for i := 0; i+1 < len(line); i++ {
		if line[i] == '\\' && line[i+1] == 'x' {
			n++
		}
	}
	if n == 0 {
		return line
	}
	out := make([]byte, 0, len(line)+2*n)
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) && line[i+1] == 'x' {
			out = append(out, '\\', 'u', '0', '0')
			i++
			continue
		}
		out = append(out, line[i])
	}
	return out
}

// Proto is the protocol label: h1, h2, h3 or other.
func (e *Entry) Proto() string {
	switch e.Protocol {
	case "HTTP/1.1", "HTTP/1.0":
		return "h1"
	case "HTTP/2":
		return "h2"
	case "HTTP/3":
		return "h3"
	}
	return "other"
}

// StatusClass is the status_class label: 1xx to 5xx, or other.
func (e *Entry) StatusClass() string {
	if e.Status >= 100 && e.Status < 600 {
		return string(rune('0'+e.Status/100)) + "xx"
	}
	return "other"
}

// Text is the line in nghttpx's default format (FormatNghttpx), with the
// bytes nghttpx escaped written as it wrote them.
func (e *Entry) Text() string {
	var b strings.Builder
	b.WriteString(e.RemoteAddr)
	b.WriteString(" - - [")
	b.WriteString(e.TimeLocal)
	b.WriteString(`] "`)
	escape(&b, e.Method)
	b.WriteByte(' ')
	escape(&b, e.Path)
	b.WriteByte(' ')
	b.WriteString(e.Protocol)
	b.WriteString(`" `)
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(e.Bytes, 10))
	b.WriteString(` "`)
	escape(&b, e.Referer)
	b.WriteString(`" "`)
	escape(&b, e.UserAgent)
	b.WriteByte('"')
	return b.String()
}

// escape writes s as nghttpx does: \xNN for control bytes, '"', '\', DEL and
// every rune below 0x100 that stands for a byte >= 0x80 (see Parse).
func escape(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	for _, r := range s {
		if r < 0x20 || r == '"' || r == '\\' || r >= 0x7f && r < 0x100 {
			b.WriteString(`\x`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
			continue
		}
		b.WriteRune(r)
	}
}
