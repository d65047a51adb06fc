package render

// Config is everything one nghttpx needs, split by how a change is applied.
type Config struct {
	// Main is the main configuration file. A change needs SIGHUP. It includes
	// BackendFile, so a reload or restart picks up the current backends.
	Main []byte
	// Backends holds the backend= lines, grouped by pattern (one cluster, or the
	// catch-all). A change is applied through the backend API, without a reload.
	Backends []BackendGroup
	// RouteTable is the routing table the router scripts load when RouteVersion
	// changes. A change is applied by rewriting the file: no reload, no API call.
	RouteTable []byte
	// Files are written before anything else, relative to the state directory:
	// mruby scripts, certificates, keys. Names are content-addressed where a change
	// must not affect a running process before it reloads (certificates, keys).
	Files map[string][]byte
}

// BackendGroup is the backend= lines of one nghttpx pattern.
type BackendGroup struct {
	// Key is stable across renders (the cluster name plus a parameter profile), so an
	// applier can add new groups before routes use them and remove old ones after.
	Key   string
	Lines []string
}

// File names inside the state directory.
const (
	MainFile         = "nghttpx.conf"
	BackendFile      = "backends.conf"
	RouteTableFile   = "routes.rb"
	RouteVersionFile = "routes.version"
)
