// Package bench holds the data-plane measurements behind `make bench`
// (hack/bench.sh): how long a real nghttpx takes to start, to take an endpoint
// change through the backend API, a route change through the route table and a
// listener change through SIGHUP, and how much memory it uses, for 100, 1,000 and
// 5,000 routes, and what the access log costs per request (TestAccessLogCost).
// results.md holds the last recorded run.
//
// Contract: test files only, behind the build tag integration (they need
// NGHTTPX_BIN); no traffic leaves 127.0.0.0/8. Translation and rendering are
// measured by the benchmarks in package pipeline.
package bench
