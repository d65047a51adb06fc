// Package testenv starts the real processes integration tests need and talks to
// them: nghttpx (NGHTTPX_BIN), h2load (next to it) and the Gateway API conformance
// echo server (ECHO_BIN), on free 127.0.0.1 ports.
//
//	echo := testenv.StartEcho(t, "v1")                 // echo.HTTPPort, echo.H2CPort
//	ports := testenv.FreePorts(t, 2)                   // distinct, free a moment ago
//	ngx := testenv.StartNghttpx(t, "/abs/nghttpx.conf", apiPort)
//	e, err := testenv.GetEcho("http://127.0.0.1:8080/") // e.Pod, e.Path, e.Headers
//	load := testenv.StartLoad(t, testenv.Target{URL: u, Host: h}, 4)
//	res := load.Stop()                                 // res.Requests, res.Failures
//	r, err := testenv.QUICHandshake(ctx, udp, addr, sni, tok) // r.Retried, r.NewToken
//	api := testenv.DiscoveryServer(t, scheme)          // discovery only: managers start, caches never sync
//
// Contract: test-only; a missing or unset binary fails the test (never skips).
// Processes run in their own process group, die with the test binary and are
// killed with their group at cleanup; their output is logged when the test failed.
// Traffic stays on 127.0.0.1.
package testenv
