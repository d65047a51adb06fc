package accesslog

import "fmt"

// Format is what a data plane writes on its stdout per request.
type Format string

const (
	// FormatJSON is one JSON object per request with the route identity (the
	// default of Gateways).
	FormatJSON Format = "json"
	// FormatNghttpx is nghttpx's default text format, which the original
	// nghttpx Ingress controller wrote to stdout (the default of Ingress data
	// planes): $remote_addr - - [$time_local] "$request" $status
	// $body_bytes_sent "$http_referer" "$http_user_agent".
	FormatNghttpx Format = "nghttpx"
	// FormatOff writes no access log and derives no request metrics.
	FormatOff Format = "off"
)

// ParseFormat accepts json, nghttpx and off.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatJSON, FormatNghttpx, FormatOff:
		return f, nil
	}
	return "", fmt.Errorf("access log format %q: want json, nghttpx or off", s)
}

// String is for flag.Value.
func (f Format) String() string { return string(f) }

// NghttpxFormat is the accesslog-format the renderer gives nghttpx: JSON whose
// strings nghttpx escapes its own way (\xNN for '"', '\' and bytes outside
// printable ASCII), which Parse undoes. $request_time is seconds with
// millisecond resolution; $backend_pattern needs our nghttpx patch 62 (without
// it nghttpx drops the variable and the field is empty).
const NghttpxFormat = `{"time":"$time_iso8601","time_local":"$time_local","remote_addr":"$remote_addr",` +
	`"method":"$method","authority":"$http_host","path":"$path","protocol":"$protocol_version",` +
	`"alpn":"$alpn","server_port":$server_port,"status":$status,"bytes":$body_bytes_sent,` +
	`"request_time":$request_time,"backend_host":"$backend_host","backend_port":"$backend_port",` +
	`"backend_pattern":"$backend_pattern","referer":"$http_referer","user_agent":"$http_user_agent"}`
