// Package faults holds the data plane's fault suite: a real `run` pipeline
// (standalone.Runner → nghttpx on 127.0.0.1) under steady HTTP/1.1 and h2c
// traffic, while something breaks: an nghttpx worker or its main process is
// killed with SIGKILL, or hostile clients (thousands of idle connections,
// slowloris headers, oversized headers and bodies, HTTP/2 rapid reset and
// CONTINUATION floods) attack the same listener. Every request's outcome is
// counted; a scenario fails on any failed request outside the window it allows
// (the time nghttpx needs to come back after a kill, nothing at all for hostile
// clients) and on memory beyond its bound.
//
// The tests are behind the integration build tag (make integration runs the
// short version; make faults runs them longer and writes bench/reliability.md
// from FAULTS_REPORT) and need NGHTTPX_BIN and ECHO_BIN.
//
// Contract: tests only, no code outside _test files (harness stage). Cluster
// faults (API server, etcd, pod deletion) belong to e2e, not here.
package faults
