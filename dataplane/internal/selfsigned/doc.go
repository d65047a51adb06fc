// Package selfsigned writes a throw-away self-signed certificate and key, for the
// feature probes and tests that need a TLS or QUIC frontend.
//
// Contract: never used for real traffic; keys are written 0600.
package selfsigned
