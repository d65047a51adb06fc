// Package testproc starts the real processes the data-plane integration tests need
// (nghttpx, the conformance echo server, h2load) on 127.0.0.1 and cleans them up.
//
// Contract: test-only helpers; binaries come from NGHTTPX_BIN and ECHO_BIN and a
// missing one fails the test (never skips). Every process runs in its own process
// group and is killed with it at test cleanup.
package testproc
