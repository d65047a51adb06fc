// Package settings holds the one typed value of a data plane's settings that do
// not come from its routes: workers, HTTP/3, QUIC address validation, PROXY
// protocol, the access log format, and for the proxy role its admin port, state directory and drain
// period.
//
// Contract: settings flow one way. A Gateway's value is the controller-wide (or
// command-line) one with its resolved class parameters and annotations over it
// (Resolve); the render options (RenderOptions) and the proxy command's
// arguments (Args) are both derived from it, and the proxy command parses those
// arguments back with Flags, so the controller's view and the proxy's cannot
// drift (the round trip is tested). Pure: no I/O, no clock.
package settings
