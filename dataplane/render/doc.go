// Package render turns one Gateway's resolved model (gateway/model) into the files an
// nghttpx 1.52 with mruby runs: the main configuration, the backend= lines grouped by
// pattern, the route table (routes.rb) and the static mruby programs plus TLS files.
//
// Design: nghttpx's own routing only selects backend groups. Every (cluster, timeout
// profile) a rule uses is a group on the synthetic pattern /__ngxgw/<key>/. The global
// program router.rb matches each request against the route table (port, listener by
// host, virtual host, first matching rule), answers redirects and fixed statuses
// itself, applies request header modifiers and rewrites, and steers the request by
// setting its path to the chosen group's pattern. The group's program restore.rb puts
// the real path back and applies response header modifiers. A catch-all group "/"
// (dnf, fallback.rb) answers 503 for a group that does not exist yet.
//
// How changes apply: Main needs SIGHUP; Backends go through the backend API;
// RouteTable is rewritten in place and picked up by every worker on its next request
// once routes.version (Config.RouteVersion) changes. Write Files first.
//
// Contract: Render is pure and deterministic. Every user string in routes.rb is a
// double-quoted Ruby literal with each byte outside [A-Za-z0-9 ./_:-] written as \xHH;
// no user string reaches nghttpx.conf, backends.conf or the programs. Render refuses
// input it cannot express safely, even though the translator should already have.
package render
