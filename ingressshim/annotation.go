package ingressshim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
)

// Annotation keys of the original controller.
const (
	AnnotationBackendConfig        = "ingress.zlab.co.jp/backend-config"
	AnnotationDefaultBackendConfig = "ingress.zlab.co.jp/default-backend-config"
	AnnotationPathConfig           = "ingress.zlab.co.jp/path-config"
	AnnotationDefaultPathConfig    = "ingress.zlab.co.jp/default-path-config"
	// annotationIngressClass is the deprecated class annotation, not supported.
	annotationIngressClass = "kubernetes.io/ingress.class"
)

// backendConfig is one backend-config entry (per Service and port). Nil fields
// are missing and take the default-backend-config value.
type backendConfig struct {
	proto  *string
	tls    *bool
	sni    *string
	dns    *bool
	weight *int32
}

func (c *backendConfig) fill(d *backendConfig) {
	if d == nil {
		return
	}
	if c.proto == nil {
		c.proto = d.proto
	}
	if c.tls == nil {
		c.tls = d.tls
	}
	if c.sni == nil {
		c.sni = d.sni
	}
	if c.dns == nil {
		c.dns = d.dns
	}
	if c.weight == nil {
		c.weight = d.weight
	}
}

// pathConfig is one path-config entry (per host and path). Nil fields are missing
// and take the default-path-config value.
type pathConfig struct {
	mruby            *string
	affinity         *string
	cookieName       *string
	cookiePath       *string
	cookieSecure     *string
	cookieStickiness *string
	readTimeout      *int64 // milliseconds
	writeTimeout     *int64
	redirectIfNotTLS *bool
	doNotForward     *bool
}

func (c *pathConfig) fill(d *pathConfig) {
	if d == nil {
		return
	}
	for _, f := range []struct{ dst, src **string }{
		{&c.mruby, &d.mruby}, {&c.affinity, &d.affinity}, {&c.cookieName, &d.cookieName},
		{&c.cookiePath, &d.cookiePath}, {&c.cookieSecure, &d.cookieSecure}, {&c.cookieStickiness, &d.cookieStickiness},
	} {
		if *f.dst == nil {
			*f.dst = *f.src
		}
	}
	if c.readTimeout == nil {
		c.readTimeout = d.readTimeout
	}
	if c.writeTimeout == nil {
		c.writeTimeout = d.writeTimeout
	}
	if c.redirectIfNotTLS == nil {
		c.redirectIfNotTLS = d.redirectIfNotTLS
	}
	if c.doNotForward == nil {
		c.doNotForward = d.doNotForward
	}
}

type backendSlot struct {
	cfg  *backendConfig
	used bool
}

type pathSlot struct {
	raw  string // the key as written
	cfg  *pathConfig
	used bool
}

// annotations are the parsed zlab annotations of one Ingress.
type annotations struct {
	// backends by Service name, then port name or number.
	backends       map[string]map[string]*backendSlot
	defaultBackend *backendConfig
	// paths by normalized host+path key.
	paths       map[string]*pathSlot
	defaultPath *pathConfig
	// problems are messages for InvalidAnnotation events.
	problems []string
}

func (a *annotations) problem(format string, args ...any) {
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
}

// parseAnnotations reads the four zlab annotations. It never fails: what cannot
// be used is reported in problems and left out, as if it were missing.
func parseAnnotations(ann map[string]string) *annotations {
	a := &annotations{backends: map[string]map[string]*backendSlot{}, paths: map[string]*pathSlot{}}
	if m := a.object(ann, AnnotationBackendConfig); m != nil {
		for _, svc := range sortedKeys(m) {
			where := fmt.Sprintf("annotation %s: Service %q", AnnotationBackendConfig, svc)
			ports := a.entry(where, m[svc], "a mapping of port names or numbers to settings")
			if ports == nil {
				continue
			}
			a.backends[svc] = map[string]*backendSlot{}
			for _, port := range sortedKeys(ports) {
				w := fmt.Sprintf("%s port %q", where, port)
				fields := a.entry(w, ports[port], "a mapping of settings")
				if fields == nil {
					// Keep the slot so the entry does not also count as unused.
					a.backends[svc][port] = &backendSlot{}
					continue
				}
				a.backends[svc][port] = &backendSlot{cfg: a.backendConfig(w, fields)}
			}
		}
	}
	if m := a.object(ann, AnnotationDefaultBackendConfig); m != nil {
		a.defaultBackend = a.backendConfig("annotation "+AnnotationDefaultBackendConfig, m)
	}
	if m := a.object(ann, AnnotationPathConfig); m != nil {
		for _, key := range sortedKeys(m) {
			where := fmt.Sprintf("annotation %s: key %q", AnnotationPathConfig, key)
			norm := normalizePathKey(key)
			if prev, ok := a.paths[norm]; ok {
				a.problem("%s: it denotes the same host and path as key %q, which is used instead", where, prev.raw)
				continue
			}
			fields := a.entry(where, m[key], "a mapping of settings")
			slot := &pathSlot{raw: key}
			if fields != nil {
				slot.cfg = a.pathConfig(where, fields)
			}
			a.paths[norm] = slot
		}
	}
	if m := a.object(ann, AnnotationDefaultPathConfig); m != nil {
		a.defaultPath = a.pathConfig("annotation "+AnnotationDefaultPathConfig, m)
	}
	return a
}

// normalizePathKey makes a path-config key comparable with host+path: a key
// without "/" means the host's root, and ":" is percent-encoded as nghttpx
// patterns require (the original controller's rules).
func normalizePathKey(key string) string {
	if !strings.Contains(key, "/") {
		key += "/"
	}
	return strings.ReplaceAll(key, ":", "%3A")
}

// object decodes an annotation holding a YAML or JSON mapping; nil when the
// annotation is absent, empty or unusable (reported).
func (a *annotations) object(ann map[string]string, key string) map[string]json.RawMessage {
	v, ok := ann[key]
	if !ok || strings.TrimSpace(v) == "" {
		return nil
	}
	j, err := yaml.YAMLToJSON([]byte(v))
	if err != nil {
		a.problem("annotation %s is not valid YAML or JSON (%v); it is ignored", key, err)
		return nil
	}
	return a.entry("annotation "+key, j, "a mapping")
}

// entry decodes a mapping value; nil (reported) when it is null or not a mapping.
func (a *annotations) entry(where string, raw json.RawMessage, want string) map[string]json.RawMessage {
	if isNull(raw) {
		a.problem("%s is null; it is ignored", where)
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		a.problem("%s must be %s, not %s; it is ignored", where, want, jsonKind(raw))
		return nil
	}
	return m
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "a mapping"
	}
	return "a number"
}

// field decodes one setting into dst; false (reported) when it is null or of the
// wrong type.
func (a *annotations) field(where, name string, raw json.RawMessage, dst any, want string) bool {
	if isNull(raw) {
		a.problem("%s: %s is null; it is ignored", where, name)
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		a.problem("%s: %s must be %s, not %s; it is ignored", where, name, want, jsonKind(raw))
		return false
	}
	return true
}

func (a *annotations) stringField(where, name string, raw json.RawMessage) *string {
	var s string
	if !a.field(where, name, raw, &s, "a string") {
		return nil
	}
	return &s
}

// checked drops a string value that check rejects (reported): these values become
// nghttpx backend parameters, where a ';' or a control byte would change meaning,
// and one bad value must not stop the Gateway's configuration from rendering.
func (a *annotations) checked(where, name string, v *string, check func(string) error) *string {
	if v == nil || *v == "" {
		return v
	}
	if err := check(*v); err != nil {
		a.problem("%s: %s %q %v; it is ignored", where, name, *v, err)
		return nil
	}
	return v
}

// The values below become nghttpx backend parameters; the checks are the data
// plane's own (package dataplane/validate), so what passes here renders.

// checkSNI accepts a lower-case DNS name.
func checkSNI(s string) error {
	if err := validate.Hostname(s, false); err != nil {
		return fmt.Errorf("is not a lower-case DNS name (labels of at most 63 bytes)")
	}
	return nil
}

// checkCookieName accepts an HTTP token (RFC 6265 cookie-name) of at most 256 bytes.
func checkCookieName(s string) error {
	if validate.CookieName(s) != nil {
		return fmt.Errorf("is not a cookie name (an HTTP token of at most %d bytes)", validate.MaxNameLen)
	}
	return nil
}

// checkCookiePath accepts an absolute path of visible ASCII without ';', ',', '"',
// '\\' or '#', of at most 4096 bytes.
func checkCookiePath(s string) error {
	if s[0] != '/' {
		return fmt.Errorf("must start with /")
	}
	if validate.CookiePath(s) != nil {
		return fmt.Errorf("is not a cookie path (at most %d bytes of visible ASCII without ; , \" \\ #)", validate.MaxStringLen)
	}
	return nil
}

func (a *annotations) boolField(where, name string, raw json.RawMessage) *bool {
	var b bool
	if !a.field(where, name, raw, &b, "true or false") {
		return nil
	}
	return &b
}

// enumField accepts one of allowed; "" maps to empty when empty is not "".
func (a *annotations) enumField(where, name string, raw json.RawMessage, empty string, allowed ...string) *string {
	s := a.stringField(where, name, raw)
	if s == nil {
		return nil
	}
	v := *s
	if v == "" && empty != "" {
		v = empty
	}
	if !slices.Contains(allowed, v) {
		a.problem("%s: %s must be one of %s, not %q; it is ignored", where, name, strings.Join(allowed, ", "), *s)
		return nil
	}
	return &v
}

func (a *annotations) durationField(where, name string, raw json.RawMessage) *int64 {
	s := a.stringField(where, name, raw)
	if s == nil {
		return nil
	}
	d, err := time.ParseDuration(*s)
	if err != nil || d <= 0 {
		a.problem("%s: %s must be a positive duration such as 30s or 5m, not %q; it is ignored", where, name, *s)
		return nil
	}
	if d > validate.MaxTimeout {
		a.problem("%s: %s %q is longer than %s, the longest nghttpx-gateway configures; it is ignored", where, name, *s, validate.MaxTimeout)
		return nil
	}
	ms := d.Milliseconds()
	if d%time.Millisecond != 0 {
		ms++ // never round a timeout down to zero
	}
	return &ms
}

func (a *annotations) backendConfig(where string, m map[string]json.RawMessage) *backendConfig {
	c := &backendConfig{}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "proto":
			c.proto = a.enumField(where, k, v, "", "h2", "http/1.1")
		case "tls":
			c.tls = a.boolField(where, k, v)
		case "sni":
			c.sni = a.checked(where, k, a.stringField(where, k, v), checkSNI)
		case "dns":
			c.dns = a.boolField(where, k, v)
		case "weight":
			var f float64
			if !a.field(where, k, v, &f, "an integer from 1 to 256") {
				continue
			}
			if f != math.Trunc(f) {
				a.problem("%s: weight must be an integer from 1 to 256, not %v; it is ignored", where, f)
				continue
			}
			// Out of range is clamped, as the original controller does.
			w := int32(min(max(f, 1), 256))
			if float64(w) != f {
				a.problem("%s: weight must be from 1 to 256, not %v; %d is used", where, f, w)
			}
			c.weight = &w
		default:
			a.problem("%s: unknown key %q (known keys: proto, tls, sni, dns, weight); it is ignored", where, k)
		}
	}
	return c
}

func (a *annotations) pathConfig(where string, m map[string]json.RawMessage) *pathConfig {
	c := &pathConfig{}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "mruby":
			c.mruby = a.stringField(where, k, v)
		case "affinity":
			c.affinity = a.enumField(where, k, v, "", "none", "ip", "cookie")
		case "affinityCookieName":
			c.cookieName = a.checked(where, k, a.stringField(where, k, v), checkCookieName)
		case "affinityCookiePath":
			c.cookiePath = a.checked(where, k, a.stringField(where, k, v), checkCookiePath)
		case "affinityCookieSecure":
			c.cookieSecure = a.enumField(where, k, v, "auto", "auto", "yes", "no")
		case "affinityCookieStickiness":
			c.cookieStickiness = a.enumField(where, k, v, "", "loose", "strict")
		case "readTimeout":
			c.readTimeout = a.durationField(where, k, v)
		case "writeTimeout":
			c.writeTimeout = a.durationField(where, k, v)
		case "redirectIfNotTLS":
			c.redirectIfNotTLS = a.boolField(where, k, v)
		case "doNotForward":
			c.doNotForward = a.boolField(where, k, v)
		default:
			a.problem("%s: unknown key %q (known keys: mruby, affinity, affinityCookieName, affinityCookiePath, "+
				"affinityCookieSecure, affinityCookieStickiness, readTimeout, writeTimeout, redirectIfNotTLS, doNotForward); it is ignored", where, k)
		}
	}
	return c
}

// backendConfigFor returns the effective backend-config of a Service port (port
// name, or number when the Ingress names none): its entry with defaults filled
// in, or the defaults alone. It marks the entry used.
func (a *annotations) backendConfigFor(svc, port string) backendConfig {
	var c backendConfig
	if s := a.backends[svc][port]; s != nil {
		s.used = true
		if s.cfg != nil {
			c = *s.cfg
		}
	}
	c.fill(a.defaultBackend)
	return c
}

// pathConfigFor returns the effective path-config of host+path (path as written
// in the Ingress, "" meaning "/") and the key it was looked up with. It marks the
// entry used.
func (a *annotations) pathConfigFor(host, path string) (pathConfig, string) {
	if path == "" {
		path = "/"
	}
	key := host + strings.ReplaceAll(path, ":", "%3A")
	var c pathConfig
	if s := a.paths[key]; s != nil {
		s.used = true
		if s.cfg != nil {
			c = *s.cfg
		}
	}
	c.fill(a.defaultPath)
	return c, key
}

// unused lists entries that matched no backend or path, for events.
func (a *annotations) unused() []string {
	var out []string
	for _, svc := range sortedKeys(a.backends) {
		for _, port := range sortedKeys(a.backends[svc]) {
			if !a.backends[svc][port].used {
				out = append(out, fmt.Sprintf("annotation %s: no path of this Ingress uses Service %q with port %q "+
					"(ports are named by the backend's port name, or its number when it has no name); the entry has no effect",
					AnnotationBackendConfig, svc, port))
			}
		}
	}
	for _, key := range sortedKeys(a.paths) {
		if s := a.paths[key]; !s.used {
			out = append(out, fmt.Sprintf("annotation %s: key %q matches no host and path of this Ingress "+
				"(keys are host+path as written in the rule, e.g. www.example.com/foo); the entry has no effect",
				AnnotationPathConfig, s.raw))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
