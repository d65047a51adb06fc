// Package render turns one Gateway's resolved model (gateway/model) into the files an
// nghttpx 1.52 with mruby runs: the main configuration, the backend= lines grouped by
// pattern, the route table (routes.rb) and the static mruby programs plus TLS files.
//
// Design: nghttpx's own routing only selects backend groups. Every (cluster, timeout
// profile) a rule uses is a group on the synthetic pattern /__ngxgw/<key>/. The global
// program router.rb matches each request against the route table (port, listener by
// host, virtual host, first matching rule), answers redirects and fixed statuses
// itself, applies request header modifiers and rewrites, and steers the request to
// the chosen group's pattern: with Features.BackendGroup (our nghttpx patch) it names
// the group (req.backend_group=) and the request keeps its path, and only groups
// whose requests carry internal headers (response header modifiers, CORS, mirror
// copies) run restore.rb, which then only moves those into its own state and strips
// them; without the patch it sets the path to the pattern and every group's
// restore.rb puts the real path back. restore.rb applies response header modifiers.
// With Features.MappedWord the programs notice a new table through routes.gen (a
// mapped counter, RouteGenFile) instead of reading routes.version per request. CORS (cors.go,
// scripts/cors.rb): the router answers preflights and matches the Origin, restore.rb
// adds the CORS headers to the backend's answer. RequestMirror (mirror.go,
// scripts/mirror.rb): a rule with sampled mirrors goes through the tee of package
// dataplane/mirror, which sends it and its copies back to an internal frontend
// (Options.MirrorTeePort, MirrorInternalPort). A catch-all group "/"
// (dnf, fallback.rb) answers 503 for a group that does not exist yet.
//
// Ingress settings (Options.AllowMruby, ProxyProtocol, ExtraConfig, GlobalMruby and
// the model's Rule.Proxy, Rule.DirectBody, WeightedBackend.Proxy): affinity,
// read/write timeouts, backend proto/tls/sni/dns and user scripts are nghttpx
// per-pattern parameters, so they are part of a group's profile and key. A rule's
// user script is written verbatim to user-<digest>.rb and run by its group's
// program scripted-<digest>.rb (restore.rb's class, then the user's on_req; see
// scripts/scripted.rb); doNotForward rules get a dnf group of their own. The
// operator's global script is operator-<digest>.rb, loaded by router.rb before
// routing; the operator's extra lines end the main configuration (ParseExtraConfig
// says which are allowed).
//
// Backend TLS (backendtls.go): a cluster's BackendTLSPolicy becomes tls;sni= and,
// with our nghttpx patch (Features.BackendTLSVerify), tls-ca=/tls-san= files;
// without the patch such clusters answer 500. The Gateway's backend client
// certificate is the process-wide client-cert-file/client-private-key-file.
//
// Retry (retry.go): with our nghttpx patch (Features.StatusRetry) the router sets
// x-ngxgw-retry (codes;attempts[;backoff ms]) for a rule's retry policy, restore.rb
// leaves it, and nghttpx reads and removes it, re-sending a complete request without
// body on a listed status from an HTTP/1.1 backend. Without the patch the policy is
// not rendered (the rule is served without retries).
//
// Certificates (certs.go): with our nghttpx patch (Features.SNICertMap) the
// default certificate is a built-in placeholder naming no host, and every
// certificate is a subcert with sni=<port>:<host> entries, so nghttpx never
// chooses by a certificate's own names. Each key belongs to the one listener of
// the port Gateway API selects for the name: its first certificate for its
// hostname ("*" without hostname: every other name and no SNI), its other
// certificates for their subjectAltNames that the listener owns; a listener's
// model SNI entries (Ingress shim) replace that. Another listener's certificate
// is never served for a name, whatever it carries. Without the patch the
// upstream rule applies (first certificate is the default, names by SAN).
//
// Shared keys: Options.QUICSecretFile and TLSTicketKeyFiles are paths the caller
// fills (same content on every replica, newest key first, the old ones kept for
// decryption). nghttpx does not refuse a malformed file: it silently falls back to
// per-process keys, so the caller checks content (TLSTicketKeySize bytes per
// ticket key). The tls-ticket-key-* options are managed (not operator lines).
//
// Access log (Options.AccessLog, package dataplane/accesslog): nghttpx writes
// accesslog.NghttpxFormat to AccessLogFile (the state directory's FIFO by
// default), and Config.AccessLog carries, with AccessLogRoutesFile, the route
// identity of every group pattern (identity.go), which nghttpx logs as
// $backend_pattern (our nghttpx patch).
//
// How changes apply: Main needs SIGHUP; Backends go through the backend API;
// RouteTable is rewritten in place and picked up by every worker on its next request
// once routes.version (Config.RouteVersion) changes, or routes.gen (RouteGenFile,
// incremented in place, never renamed or truncated) does. Write Files first, and
// RouteShards (RouteShardDir, content-named, shards.go) before RouteTable; a worker
// loads a shard whose name changed on the next request for one of its hosts.
//
// Contract: Render is pure and deterministic. Every user string in routes.rb is a
// double-quoted Ruby literal with each byte outside [A-Za-z0-9 ./_:-] written as \xHH;
// no user string reaches nghttpx.conf or the programs, and the few that reach
// backends.conf (cookie name and path, SNI) are validated against nghttpx's
// parameter syntax. Scripts are only ever file contents. The checks are package
// dataplane/validate's, shared with the translator, which rejects such input on its
// object first; what still fails here (a port, listener, virtual host, rule or
// backend TLS policy) is left out and listed in Config.Dropped, and the rest of the
// Gateway is rendered. Only invalid Options and broken model invariants fail a
// whole Render.
package render
