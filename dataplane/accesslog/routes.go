package accesslog

import "encoding/json"

// Identity is the Gateway API object that served a request.
type Identity struct {
	// Gateway is namespace/name.
	Gateway string `json:"gateway"`
	// Port is the Gateway port of Listener: a group used from several ports is
	// told apart by the request's server port.
	Port     int32  `json:"port,omitempty"`
	Listener string `json:"listener"`
	// RouteKind is HTTPRoute, or Ingress on an Ingress data plane.
	RouteKind string `json:"routeKind"`
	// Route is namespace/name.
	Route string `json:"route"`
	// Rule is the rule index within the route.
	Rule string `json:"rule"`
	// Backend is the Service port, namespace/name:port.
	Backend string `json:"backend"`
}

// Routes is what the renderer knows about a Gateway's backend groups: for
// each nghttpx pattern, every (listener, rule, backend) that sends requests
// to it.
type Routes struct {
	Gateway string                `json:"gateway"`
	Groups  map[string][]Identity `json:"groups"`
	// InternalPorts are nghttpx's own frontends (backend API, health check,
	// the request mirror's internal frontend): their requests are the agent's
	// or copies, and are neither logged nor counted.
	InternalPorts []int `json:"internalPorts,omitempty"`
}

// internal reports whether port is one of InternalPorts.
func (r *Routes) internal(port int) bool {
	if r == nil {
		return false
	}
	for _, p := range r.InternalPorts {
		if p == port {
			return true
		}
	}
	return false
}

// Marshal is the JSON form written next to the configuration.
func (r *Routes) Marshal() []byte {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(err) // strings and ints only
	}
	return append(b, '\n')
}

// None is the value of a label no group gave; Shared of one the users of a
// shared group disagree on.
const (
	None   = "-"
	Shared = "*"
)

// Lookup is the identity of a request nghttpx sent to pattern on server port
// port: the one user of the group on that port (or on any port, when none
// uses it there), with Shared for each field several users disagree on. An
// unknown pattern ("-", the catch-all "/") has None for everything but the
// Gateway.
func (r *Routes) Lookup(pattern string, port int) Identity {
	none := Identity{Listener: None, RouteKind: None, Route: None, Rule: None, Backend: None}
	if r == nil {
		none.Gateway = None
		return none
	}
	none.Gateway = r.Gateway
	users := r.Groups[pattern]
	var onPort []Identity
	for _, u := range users {
		if int(u.Port) == port {
			onPort = append(onPort, u)
		}
	}
	if len(onPort) > 0 {
		users = onPort
	}
	if len(users) == 0 {
		return none
	}
	id := users[0]
	for _, u := range users[1:] {
		merge(&id.Listener, u.Listener)
		merge(&id.RouteKind, u.RouteKind)
		merge(&id.Route, u.Route)
		merge(&id.Rule, u.Rule)
		merge(&id.Backend, u.Backend)
		if id.Port != u.Port {
			id.Port = 0
		}
	}
	return id
}

func merge(dst *string, v string) {
	if *dst != v {
		*dst = Shared
	}
}
