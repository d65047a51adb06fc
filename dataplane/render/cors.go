package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// CORS in the route table. A rule's :cors entry is what the router needs to match
// the Origin and answer preflights:
//
//	{:origins => [[scheme, :host|:suffix|:any, value, port], ...]  (or :any => true)
//	 :star => true          allow-origin "*" instead of the echoed Origin
//	 :methods, :headers     the allow lists, or :echo (reflect the request's)
//	 :max_age => "5", :key => "c..."}
//
// :key names an entry {:vary => bool, :ops => [...]} of the table's top-level :cors
// list, which restore.rb reads for forwarded requests and the router for its own
// answers. :vary adds "Vary: Origin" to every answer of the rule (all but "*"
// answers depend on the Origin). :ops complete the headers of answers to an allowed
// Origin after access-control-allow-origin, in the [:set|:remove, name(, value)] form
// of response header modifiers, plus [:expose_all, names] (credentials with
// exposeHeaders "*", where "*" means nothing to a browser: expose the names and the
// response's own header names).

const (
	corsAllowCredentials = "access-control-allow-credentials"
	corsExposeHeaders    = "access-control-expose-headers"
)

// corsEntry renders a rule's :cors entry and records its response operations.
func (tb *tableBuilder) corsEntry(c *model.CORS) (rbValue, error) {
	h := rbHash{}
	if c.AllowAnyOrigin {
		if len(c.AllowOrigins) > 0 {
			return nil, fmt.Errorf("any origin together with a list of origins")
		}
		h.add("any", rbBool(true))
		// Without credentials "*" is allowed and keeps answers cacheable across
		// origins; with credentials the Origin must be echoed.
		if !c.AllowCredentials {
			h.add("star", rbBool(true))
		}
	} else {
		origins := rbArr{}
		for _, o := range c.AllowOrigins {
			e, err := corsOrigin(o)
			if err != nil {
				return nil, err
			}
			origins = append(origins, e)
		}
		h.add("origins", origins)
	}
	if len(c.AllowMethods) > 0 {
		v, err := corsList("allowMethods", c.AllowMethods, true, checkMethod)
		if err != nil {
			return nil, err
		}
		h.add("methods", v)
	}
	if len(c.AllowHeaders) > 0 {
		v, err := corsList("allowHeaders", c.AllowHeaders, true, checkToken)
		if err != nil {
			return nil, err
		}
		h.add("headers", v)
	}
	if c.MaxAgeSeconds < 1 {
		return nil, fmt.Errorf("maxAge %d must be at least 1", c.MaxAgeSeconds)
	}
	h.add("max_age", rbStr(strconv.Itoa(int(c.MaxAgeSeconds))))

	ops := rbArr{}
	if c.AllowCredentials {
		ops = append(ops, rbArr{rbSym("set"), rbStr(corsAllowCredentials), rbStr("true")})
	} else {
		ops = append(ops, rbArr{rbSym("remove"), rbStr(corsAllowCredentials)})
	}
	var names []string
	star := false
	for _, n := range c.ExposeHeaders {
		if n == "*" {
			star = true
			continue
		}
		if err := checkToken(n); err != nil {
			return nil, fmt.Errorf("exposeHeaders: %w", err)
		}
		names = append(names, strings.ToLower(n))
	}
	switch {
	case star && c.AllowCredentials:
		ops = append(ops, rbArr{rbSym("expose_all"), rbStr(strings.Join(names, ", "))})
	case star:
		ops = append(ops, rbArr{rbSym("set"), rbStr(corsExposeHeaders), rbStr(strings.Join(append([]string{"*"}, names...), ", "))})
	case len(names) > 0:
		ops = append(ops, rbArr{rbSym("set"), rbStr(corsExposeHeaders), rbStr(strings.Join(names, ", "))})
	default:
		ops = append(ops, rbArr{rbSym("remove"), rbStr(corsExposeHeaders)})
	}
	if len(strings.Join(names, ", ")) > maxStringLen {
		return nil, fmt.Errorf("exposeHeaders too long")
	}
	entry := rbHash{}
	entry.add("vary", rbBool(!(c.AllowAnyOrigin && !c.AllowCredentials)))
	entry.add("ops", ops)
	key := "c" + shortHash([]byte(flatRuby(entry)))
	tb.cors[key] = entry
	h.add("key", rbStr(key))
	return h, nil
}

// corsOrigin renders [scheme, kind, value, port]: :host compares the whole host,
// :suffix the end of it (".example.com", at least one more byte in front), :any
// accepts every host.
func corsOrigin(o model.CORSOrigin) (rbValue, error) {
	if o.Scheme != "http" && o.Scheme != "https" {
		return nil, fmt.Errorf("origin scheme %q: want http or https", o.Scheme)
	}
	if err := checkPort(o.Port); err != nil {
		return nil, fmt.Errorf("origin port: %w", err)
	}
	var kind, v string
	switch {
	case o.Host == "*":
		kind = "any"
	case strings.HasPrefix(o.Host, "*."):
		if err := checkHostname(o.Host, true); err != nil {
			return nil, fmt.Errorf("origin: %w", err)
		}
		kind, v = "suffix", o.Host[1:]
	default:
		if err := checkHostname(o.Host, false); err != nil {
			return nil, fmt.Errorf("origin: %w", err)
		}
		kind, v = "host", o.Host
	}
	return rbArr{rbStr(o.Scheme), rbSym(kind), rbStr(v), rbInt(o.Port)}, nil
}

// corsList joins an allow list for its response header, or renders :echo for "*"
// (reflect what the preflight asks for: valid with and without credentials).
func corsList(field string, vs []string, starAlone bool, check func(string) error) (rbValue, error) {
	if slices.Contains(vs, "*") {
		if starAlone && len(vs) > 1 {
			return nil, fmt.Errorf(`%s: "*" together with other values`, field)
		}
		return rbSym("echo"), nil
	}
	for _, v := range vs {
		if err := check(v); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
	}
	s := strings.Join(vs, ", ")
	if len(s) > maxStringLen {
		return nil, fmt.Errorf("%s too long", field)
	}
	return rbStr(s), nil
}

// keyedList renders m as [[key, value], ...] sorted by key.
func keyedList(m map[string]rbValue) rbArr {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(rbArr, 0, len(keys))
	for _, k := range keys {
		out = append(out, rbArr{rbStr(k), m[k]})
	}
	return out
}
