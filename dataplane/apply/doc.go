// Package apply runs one nghttpx for one Gateway and brings it to a rendered
// configuration with the least disruptive mechanism.
//
// Contract:
//   - Start writes every file of a render.Config into the state directory, starts
//     nghttpx (own process group, output to logr) and returns once its API answers.
//   - Apply diffs against the last applied config. Main, or a file Main references,
//     changed (a side file next to one, such as an OCSP response next to its
//     certificate, also when it went away; it is removed before the SIGHUP):
//     write everything, SIGHUP, confirm a new configrevision; a rejected
//     config leaves the old one on disk and running, and is reported as ErrRejected.
//     Otherwise nothing reloads: new backend groups are posted to the backend API
//     (as a union with the groups being removed) before the route table changes,
//     and groups are removed only after it changed. backends.conf always holds what
//     the API last accepted, so a reload or restart sees the same backends.
//   - Transient failures are retried with bounded exponential backoff. A crashed
//     nghttpx is restarted from the last good config with backoff. Stop drains with
//     SIGQUIT, then SIGKILLs the whole process group.
//   - Stats counts reloads, backend API posts, route table writes and restarts;
//     StatsSet exports them as Prometheus metrics per Gateway.
//
// The route table is routes.rb with its shards in routes.d (written first, only those
// not on disk yet: their names are digests of their content); routes.version holds
// render.Config.RouteVersion() and is written (atomically) after routes.rb, then the
// counter routes.gen is incremented in place (never renamed or truncated: nghttpx
// maps it), so routers reload the table when the version text or the counter differs
// from the one they loaded. After a route change the shards that neither the new nor
// the previous table names are removed (a worker that read the previous head may
// still load its shards); Start removes all but the current table's.
package apply
