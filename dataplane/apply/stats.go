package apply

import "sync/atomic"

// Stats are counters of what an Applier did, safe for concurrent reads.
type Stats struct {
	// Reloads counts SIGHUPs sent (including ones nghttpx rejected).
	Reloads atomic.Int64
	// BackendPosts counts POST /api/v1beta1/backendconfig requests sent.
	BackendPosts atomic.Int64
	// RouteWrites counts route table rewrites (routes.rb then routes.version).
	RouteWrites atomic.Int64
	// Restarts counts successful restarts after nghttpx exited on its own.
	Restarts atomic.Int64
	// Applies counts Apply calls that changed something and succeeded.
	Applies atomic.Int64
	// ApplyErrors counts failed Apply attempts (each retry counts).
	ApplyErrors atomic.Int64
	// LastReloadNanos is SIGHUP to new configrevision of the last successful reload.
	LastReloadNanos atomic.Int64
	// LastBackendPostNanos is the duration of the last accepted backend API request.
	LastBackendPostNanos atomic.Int64
}
