// Package livetest holds the live integration tests of the renderer's output:
// real nghttpx processes on 127.0.0.1, started through dataplane/apply with
// configurations from dataplane/render, and real clients (HTTP/1.1, HTTP/2,
// HTTP/3, WebSocket, TLS) asserting what they get. The tests are behind the
// integration build tag (make integration) and need NGHTTPX_BIN and ECHO_BIN;
// they read the certificates of dataplane/render/testdata/certs.
//
// Contract: tests only; no code outside _test files. It sits in the harness
// stage (internal/layering), so moving these tests out of dataplane/render
// keeps the renderer's own tests free of processes.
package livetest
