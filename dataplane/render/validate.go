package render

import "github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"

// Every value check is package dataplane/validate's, the same functions the
// gateway translator and the Ingress shim reject with: here they are the last line
// of defence. A rule, listener or port that still fails is dropped and reported in
// Config.Dropped (drop.go); the rest of the Gateway is rendered.

const (
	internalHeaderPrefix = validate.InternalHeaderPrefix
	maxStringLen         = validate.MaxStringLen
	maxTimeoutMillis     = validate.MaxTimeoutMillis
)

func checkHostname(h string, wildcard bool) error   { return validate.Hostname(h, wildcard) }
func headerName(n string) (string, error)           { return validate.HeaderName(n) }
func checkHeaderValue(v string) error               { return validate.HeaderValue(v) }
func checkPath(p, extra string) error               { return validate.Path(p, extra) }
func checkMethod(m string) error                    { return validate.Method(m) }
func parseIP(s string) (string, error)              { return validate.IP(s) }
func checkPort(p int32) error                       { return validate.Port(p) }
func checkCookieName(n string) error                { return validate.CookieName(n) }
func checkToken(n string) error                     { return validate.Token("name", n) }
func checkQueryPart(_, s string, isName bool) error { return validate.QueryPart(isName, s) }
