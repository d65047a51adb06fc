// Package testenv starts the real processes integration tests need: nghttpx (from
// NGHTTPX_BIN) and the Gateway API conformance echo server (from ECHO_BIN), on free
// 127.0.0.1 ports, and stops them (whole process group) when the test ends.
//
//	echo := testenv.StartEcho(t, "v1")             // echo.HTTPPort, echo.H2CPort
//	ports := testenv.FreePorts(t, 2)               // distinct, free a moment ago
//	ngx := testenv.StartNghttpx(t, "/abs/nghttpx.conf", apiPort)
//	ngx.Logs()                                      // stdout+stderr so far
//	testenv.H2loadBin(t)                            // h2load next to nghttpx (HTTP/3 client)
//
// Contract: test-only; a missing or unset binary fails the test (never skips).
// Processes run in their own process group and are killed with it on cleanup;
// their output is logged when the test failed. Traffic stays on 127.0.0.1.
package testenv
