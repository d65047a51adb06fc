package validate

import "time"

// InternalHeaderPrefix marks the headers the router, restore.rb and our nghttpx
// patches use between each other; no route filter may set, add or remove them.
const InternalHeaderPrefix = "x-ngxgw-"

// MaxStringLen bounds any single user string written into the route table.
const MaxStringLen = 4096

// MaxNameLen bounds header, cookie and CORS token names.
const MaxNameLen = 256

// MaxTimeout is the longest read or write timeout we write into a backend line;
// nghttpx parses longer ones but a day already means "never" for a request.
const MaxTimeout = 24 * time.Hour

// MaxTimeoutMillis is MaxTimeout in milliseconds, the model's unit.
const MaxTimeoutMillis = int64(MaxTimeout / time.Millisecond)

// Retry bounds. The patched nghttpx parses up to 100 attempts and 1000 s of
// backoff, but a request held that long ties up a client and a worker for minutes:
// the translator clamps to these (and says so in status), the renderer refuses more.
const (
	MaxRetryAttempts      = 10
	MaxRetryBackoffMillis = 10_000
)

// MaxWeight is the largest backendRef weight (the CRD's maximum).
const MaxWeight = 1_000_000
