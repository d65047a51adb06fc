package model

// ObjectRef names the Kubernetes object (and optionally the section of it) that a model
// element came from.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Section is a listener name, or a route rule name or index.
	Section string `json:"section,omitempty"`
}

// Protocol of a Gateway port.
type Protocol string

const (
	ProtocolHTTP  Protocol = "HTTP"
	ProtocolHTTPS Protocol = "HTTPS"
)

// Gateway is everything one data plane (one nghttpx) serves.
type Gateway struct {
	Source ObjectRef `json:"source"`
	// Addresses are the IP addresses the data plane binds.
	Addresses []string `json:"addresses"`
	// Ports sorted by number; each port has one protocol.
	Ports []Port `json:"ports"`
	// Clusters sorted by Name; only clusters some rule references.
	Clusters []Cluster `json:"clusters,omitempty"`
	// Certificates sorted by Name; every certificate an HTTPS listener uses.
	Certificates []Certificate `json:"certificates,omitempty"`
	// Settings are the data-plane settings from the GatewayClass parameters and
	// the Gateway's annotations; nil when neither sets any. They reach the data
	// plane through its Deployment (proxy flags, capabilities), so Hash leaves
	// them out.
	Settings *Settings `json:"settings,omitempty"`
	// BackendClientCertificate, when set, is presented to every backend that asks
	// for a client certificate over TLS (Gateway spec.tls.backend).
	BackendClientCertificate *Certificate `json:"backendClientCertificate,omitempty"`
}

// Settings are per-Gateway data-plane settings.
type Settings struct {
	// HTTP3, when set, overrides the controller-wide HTTP/3 setting.
	HTTP3 *bool `json:"http3,omitempty"`
	// ProxyProtocol: every TCP listener requires a PROXY protocol v1/v2 header.
	ProxyProtocol bool `json:"proxyProtocol,omitempty"`
	// QUICBPF grants the data plane the capabilities of eBPF QUIC steering
	// (when HTTP/3 is on).
	QUICBPF bool `json:"quicBPF,omitempty"`
	// QUICRequireToken: QUIC clients must present a valid token (address
	// validation; a Retry otherwise), when HTTP/3 is on.
	QUICRequireToken bool `json:"quicRequireToken,omitempty"`
	// AccessLog, when set, is the access log format: json, nghttpx or off.
	AccessLog string `json:"accessLog,omitempty"`
	// Workers, when positive, is nghttpx's number of worker threads (else the
	// CPUs given to the data plane).
	Workers int `json:"workers,omitempty"`
}

// Port is one listening port with all listeners that share it.
type Port struct {
	Port     int32    `json:"port"`
	Protocol Protocol `json:"protocol"`
	// Listeners sorted by hostname precedence: exact hostnames first, then wildcards by
	// descending length, then the listener without hostname (if any).
	Listeners []Listener `json:"listeners"`
	// ClientValidation, when set (HTTPS only), makes the port request a client
	// certificate and verify it (Gateway spec.tls.frontend, per port).
	ClientValidation *ClientValidation `json:"clientValidation,omitempty"`
}

// ClientValidation is the client certificate validation of one HTTPS port.
type ClientValidation struct {
	// Sources are the ConfigMaps or Secrets whose CA certificates CAPEM holds.
	Sources []ObjectRef `json:"sources"`
	// CAPEM is the PEM bundle of trusted CA certificates (never empty).
	CAPEM []byte `json:"-"`
	// AllowInsecureFallback (mode AllowInsecureFallback) still requests a
	// certificate but accepts connections without one or with one that does not
	// verify; otherwise such handshakes fail.
	AllowInsecureFallback bool `json:"allowInsecureFallback,omitempty"`
}

// Listener is one accepted Gateway listener with the routes attached to it.
type Listener struct {
	Source ObjectRef `json:"source"`
	// Hostname is "" (any), "*.example.com" or "foo.example.com".
	Hostname string `json:"hostname,omitempty"`
	// CertificateNames index Gateway.Certificates (HTTPS only). The first is
	// served for the listener's Hostname (any name on the port when it is ""),
	// the others only for the names they carry within the listener's reach
	// (render/certs.go).
	CertificateNames []string `json:"certificateNames,omitempty"`
	// SNI, when non-empty (the Ingress shim's listener, whose certificates come
	// from several Ingresses), replaces that rule: each certificate is served
	// only for the TLS server names listed with it, the first entry for a name
	// winning; Hostname "" is every other name on the port (the default TLS
	// Secret). A certificate without an entry is not served.
	SNI []SNICertificate `json:"sni,omitempty"`
	// VirtualHosts sorted by hostname precedence as Port.Listeners.
	VirtualHosts []VirtualHost `json:"virtualHosts,omitempty"`
}

// SNICertificate serves the certificate Certificate (a name in
// Gateway.Certificates) for the TLS server name Hostname: an exact name,
// "*.suffix", or "" for any other name.
type SNICertificate struct {
	Hostname    string `json:"hostname,omitempty"`
	Certificate string `json:"certificate"`
}

// Certificate is a TLS certificate and key from a Secret.
type Certificate struct {
	Name    string    `json:"name"`
	Source  ObjectRef `json:"source"`
	CertPEM []byte    `json:"-"`
	KeyPEM  []byte    `json:"-"`
	// OCSPResponse is a DER OCSP response to staple, if the Secret has one.
	OCSPResponse []byte `json:"-"`
}

// VirtualHost groups the rules that apply to requests for one hostname pattern.
type VirtualHost struct {
	// Hostname is an exact name, "*.suffix", or "" for any host the listener accepts.
	Hostname string `json:"hostname,omitempty"`
	// Rules in precedence order: the first rule whose Match matches wins.
	Rules []Rule `json:"rules"`
}

// Rule is one HTTPRoute rule match with what to do with matching requests.
type Rule struct {
	// Name is deterministic and unique within a Gateway, e.g.
	// "httproute/ns/name/rule/0/match/1". A route attached to several listeners, or
	// under several hostnames, appears once per virtual host: those copies share
	// the Name and are identical.
	Name   string    `json:"name"`
	Source ObjectRef `json:"source"`
	Match  Match     `json:"match"`

	RequestHeaders  *HeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`
	Redirect        *Redirect       `json:"redirect,omitempty"`
	Rewrite         *Rewrite        `json:"rewrite,omitempty"`
	Timeouts        *Timeouts       `json:"timeouts,omitempty"`
	// Retry, when set, re-sends a request whose backend answered with one of its
	// status codes (HTTPRoute rule retry).
	Retry *Retry `json:"retry,omitempty"`
	// CORS, when set, makes the data plane answer CORS preflight requests for the
	// rule itself and add CORS headers to the responses of allowed origins.
	CORS *CORS `json:"cors,omitempty"`
	// Mirrors are the rule's RequestMirror filters with a usable backend, in
	// filter order: a copy of each forwarded request goes to each of them (a
	// sampled share of requests when Numerator < Denominator); their answers are
	// ignored. Mirrors whose backendRef cannot be resolved are left out.
	Mirrors []Mirror `json:"mirrors,omitempty"`

	// Backends split traffic by weight. A rule without Redirect whose backends are
	// empty or all weight 0 answers 500 (see DirectStatus).
	Backends []WeightedBackend `json:"backends,omitempty"`
	// DirectStatus, when non-zero, answers every matching request with this status
	// (used for rules without usable backends).
	DirectStatus int `json:"directStatus,omitempty"`
	// DirectBody is the text/plain body of a DirectStatus answer; empty lets the data
	// plane choose (set by the Ingress shim's internal default backend).
	DirectBody string `json:"directBody,omitempty"`

	// Proxy holds nghttpx settings of the rule that Gateway API cannot express (set
	// for the Ingress shim's routes, from its annotations), and the cookie
	// affinity of an HTTPRoute rule's sessionPersistence; nil otherwise.
	Proxy *ProxyOptions `json:"proxy,omitempty"`

	// GRPC marks a rule from a GRPCRoute: its backends speak HTTP/2, and the
	// answers the data plane gives itself for invalid backends are 503, which
	// gRPC clients read as UNAVAILABLE (the spec's status for them).
	GRPC bool `json:"grpc,omitempty"`
}

// PathMatchType is how a request path is compared.
type PathMatchType string

const (
	PathExact  PathMatchType = "Exact"
	PathPrefix PathMatchType = "PathPrefix"
)

// Match is a conjunction of conditions on a request.
type Match struct {
	Path        PathMatch   `json:"path"`
	Method      string      `json:"method,omitempty"`
	Headers     []NameValue `json:"headers,omitempty"`     // exact, names lower-cased
	QueryParams []NameValue `json:"queryParams,omitempty"` // exact, names as given
}

// PathMatch compares the request path (without query). PathPrefix values carry no
// trailing slash (except "/"): "/foo" matches "/foo", "/foo/" and "/foo/bar".
type PathMatch struct {
	Type  PathMatchType `json:"type"`
	Value string        `json:"value"`
}

// NameValue is a header or query parameter.
type NameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HeaderModifier edits headers: Set replaces, Add appends, Remove deletes. Names
// are lower-cased and each appears in one action only.
type HeaderModifier struct {
	Set    []NameValue `json:"set,omitempty"`
	Add    []NameValue `json:"add,omitempty"`
	Remove []string    `json:"remove,omitempty"`
}

// PathModifierType is how a redirect or rewrite changes the path.
type PathModifierType string

const (
	ReplaceFullPath    PathModifierType = "ReplaceFullPath"
	ReplacePrefixMatch PathModifierType = "ReplacePrefixMatch"
)

// PathModifier replaces the whole path or the prefix the rule matched.
type PathModifier struct {
	Type  PathModifierType `json:"type"`
	Value string           `json:"value"`
}

// Redirect answers with a redirect built from the request; nil fields keep the
// request's value (Port: see the Gateway API rules for default ports).
type Redirect struct {
	Scheme     *string       `json:"scheme,omitempty"`
	Hostname   *string       `json:"hostname,omitempty"`
	Port       *int32        `json:"port,omitempty"`
	Path       *PathModifier `json:"path,omitempty"`
	StatusCode int           `json:"statusCode"`
}

// Rewrite changes the request before it is forwarded.
type Rewrite struct {
	Hostname *string       `json:"hostname,omitempty"`
	Path     *PathModifier `json:"path,omitempty"`
}

// Timeouts of a rule, in milliseconds; 0 means unset.
type Timeouts struct {
	RequestMillis        int64 `json:"requestMillis,omitempty"`
	BackendRequestMillis int64 `json:"backendRequestMillis,omitempty"`
	// RequestDisabled and BackendRequestDisabled are set when the route asks for a
	// zero duration ("0s"), which disables the timeout (or, where that is not
	// possible, sets the longest one), as opposed to leaving it unset.
	RequestDisabled        bool `json:"requestDisabled,omitempty"`
	BackendRequestDisabled bool `json:"backendRequestDisabled,omitempty"`
}

// Retry is a rule's retry policy: a request whose backend answered with one of
// Codes is sent again, at most Attempts more times, waiting at least
// BackoffMillis before each new attempt. The last answer goes to the client.
type Retry struct {
	Codes         []int `json:"codes,omitempty"` // 400-599, sorted, unique
	Attempts      int   `json:"attempts"`
	BackoffMillis int64 `json:"backoffMillis,omitempty"`
}

// CORS is a rule's cross-origin resource sharing policy (HTTPRoute filter CORS).
// A preflight request (OPTIONS with Origin and Access-Control-Request-Method) that
// matches the rule is answered by the data plane; other requests from an allowed
// Origin are forwarded and get the CORS headers added to their response.
type CORS struct {
	// AllowOrigins are the allowed origins, none when AllowAnyOrigin.
	AllowOrigins []CORSOrigin `json:"allowOrigins,omitempty"`
	// AllowAnyOrigin (allowOrigins ["*"]) allows every Origin.
	AllowAnyOrigin bool `json:"allowAnyOrigin,omitempty"`
	// AllowMethods are upper-case method names, or just "*" (any method).
	AllowMethods []string `json:"allowMethods,omitempty"`
	// AllowHeaders and ExposeHeaders are lower-cased header names; "*" means any.
	AllowHeaders  []string `json:"allowHeaders,omitempty"`
	ExposeHeaders []string `json:"exposeHeaders,omitempty"`
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool `json:"allowCredentials,omitempty"`
	// MaxAgeSeconds is Access-Control-Max-Age of preflight answers, at least 1.
	MaxAgeSeconds int32 `json:"maxAgeSeconds"`
}

// CORSOrigin is one allowed origin. Host is lower-case: a DNS name or IPv4 address,
// "*" (any host) or "*.suffix" (any host ending in ".suffix", with at least one
// character before it). Port is explicit: an origin without one has its scheme's
// default (80 for http, 443 for https).
type CORSOrigin struct {
	Scheme string `json:"scheme"` // "http" or "https"
	Host   string `json:"host"`
	Port   int32  `json:"port"`
}

// Mirror is one RequestMirror filter: Numerator/Denominator of the requests
// (0 <= Numerator <= Denominator, Denominator >= 1) are copied to Cluster.
type Mirror struct {
	Source ObjectRef `json:"source"`
	// Cluster names a Gateway.Clusters entry.
	Cluster     string `json:"cluster"`
	Numerator   int32  `json:"numerator"`
	Denominator int32  `json:"denominator"`
}

// WeightedBackend is one backendRef of a rule.
type WeightedBackend struct {
	Weight int32     `json:"weight"`
	Source ObjectRef `json:"source"`
	// Cluster names a Gateway.Clusters entry; empty when Invalid.
	Cluster string `json:"cluster,omitempty"`
	// Invalid backends answer 500 for their share of traffic.
	Invalid bool `json:"invalid,omitempty"`

	RequestHeaders  *HeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`

	// Proxy holds nghttpx connection settings for this backend that Gateway API
	// cannot express (Ingress shim only); nil otherwise.
	Proxy *BackendOptions `json:"proxy,omitempty"`
}

// ProxyOptions are per-rule nghttpx settings (from the Ingress annotation
// ingress.zlab.co.jp/path-config). In nghttpx they are parameters of the backend
// group that serves the rule, so two rules that send traffic to the same Cluster
// with different ProxyOptions need different backend groups: they belong in the
// cluster key's parameter profile, like timeouts.
type ProxyOptions struct {
	// Affinity pins a client to one endpoint of the cluster (nghttpx backend
	// parameters affinity=, affinity-cookie-*). Nil means no affinity.
	Affinity *Affinity `json:"affinity,omitempty"`
	// ReadTimeoutMillis and WriteTimeoutMillis override nghttpx's global backend
	// read/write (idle) timeouts for this rule (backend parameters read-timeout=,
	// write-timeout=); 0 keeps the global value. Unlike Timeouts they do not bound
	// the whole request.
	ReadTimeoutMillis  int64 `json:"readTimeoutMillis,omitempty"`
	WriteTimeoutMillis int64 `json:"writeTimeoutMillis,omitempty"`
	// Mruby is the source of a per-pattern mruby script (backend parameter mruby=)
	// that runs after backend selection, before the request is forwarded, and on
	// the response. Only present when the operator allowed mruby.
	Mruby string `json:"mruby,omitempty"`
	// DoNotForward means no backend is ever contacted: Mruby must produce the
	// response (backend parameter dnf). Such rules have no Backends and no
	// DirectStatus; Mruby is never empty. If the script does not answer, the data
	// plane should answer 500.
	DoNotForward bool `json:"doNotForward,omitempty"`
}

// AffinityType is how session affinity picks an endpoint.
type AffinityType string

const (
	// AffinityIP hashes the client address (nghttpx affinity=ip).
	AffinityIP AffinityType = "ip"
	// AffinityCookie uses a cookie set by the proxy (nghttpx affinity=cookie).
	AffinityCookie AffinityType = "cookie"
)

// Affinity is session affinity to one endpoint of a cluster.
type Affinity struct {
	Type AffinityType `json:"type"`
	// The cookie fields are set only for AffinityCookie. CookieName is never empty
	// then (affinity-cookie-name=); CookiePath may be (affinity-cookie-path=, omitted
	// when empty).
	CookieName string `json:"cookieName,omitempty"`
	CookiePath string `json:"cookiePath,omitempty"`
	// CookieSecure is "auto" (Secure when the client uses TLS), "yes" or "no"
	// (affinity-cookie-secure=).
	CookieSecure string `json:"cookieSecure,omitempty"`
	// CookieStickiness is "loose" or "strict" (affinity-cookie-stickiness=).
	CookieStickiness string `json:"cookieStickiness,omitempty"`
}

// BackendOptions are per-backend nghttpx connection settings (from the Ingress
// annotation ingress.zlab.co.jp/backend-config). Like ProxyOptions they are part of
// the backend group's parameter profile.
type BackendOptions struct {
	// Protocol, when set, overrides Cluster.Protocol: BackendHTTP1 (proto=http/1.1)
	// or BackendH2C, meaning HTTP/2 (proto=h2; over TLS when TLS is set).
	Protocol BackendProtocol `json:"protocol,omitempty"`
	// TLS connects to the endpoints with TLS (backend parameter tls).
	TLS bool `json:"tls,omitempty"`
	// SNI is the TLS server name sent to the endpoints (sni=); empty sends none.
	SNI string `json:"sni,omitempty"`
	// DNS resolves endpoint host names at connection time (dns). Endpoints are IP
	// addresses today, so it has no effect yet; kept for fidelity.
	DNS bool `json:"dns,omitempty"`
}

// BackendProtocol is how the proxy talks to a cluster.
type BackendProtocol string

const (
	BackendHTTP1     BackendProtocol = "http/1.1"
	BackendH2C       BackendProtocol = "h2c"
	BackendWebSocket BackendProtocol = "ws"
)

// Cluster is a Service port resolved to ready endpoint addresses.
type Cluster struct {
	// Name is deterministic, e.g. "svc/ns/name/80".
	Name      string          `json:"name"`
	Source    ObjectRef       `json:"source"`
	Protocol  BackendProtocol `json:"protocol"`
	Endpoints []Endpoint      `json:"endpoints,omitempty"`
	// TLS, when set, connects to the endpoints with TLS and verifies them
	// (BackendTLSPolicy). Clusters are per Service port, and so are policies.
	TLS *ClusterTLS `json:"tls,omitempty"`
}

// ClusterTLS is how the proxy verifies a cluster's endpoints over TLS.
type ClusterTLS struct {
	// Source is the BackendTLSPolicy.
	Source ObjectRef `json:"source"`
	// Hostname is sent as SNI and, without SubjectAltNames, must match the
	// certificate.
	Hostname string `json:"hostname"`
	// CACertPEM is the PEM bundle of trusted CA certificates; nil means the
	// system trust store (wellKnownCACertificates: System).
	CACertPEM []byte `json:"-"`
	// SubjectAltNames, when set, replace the hostname check: the certificate must
	// carry at least one of them.
	SubjectAltNames []SubjectAltName `json:"subjectAltNames,omitempty"`
}

// SubjectAltName is one accepted subject alternative name of a backend
// certificate: Type "dns" (Value a host name) or "uri" (Value a URI).
type SubjectAltName struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Endpoint is one ready address of a cluster.
type Endpoint struct {
	IP   string `json:"ip"`
	Port int32  `json:"port"`
}
