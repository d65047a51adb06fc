// Package selfsigned writes a throw-away self-signed certificate and key, for the
// data plane's feature probes and for tests anywhere in the module that need a TLS
// or QUIC frontend.
//
// Contract: never used for real traffic; keys are written 0600.
package selfsigned
