// Package pipeline chains the pure stages: objects -> gateway.Translate (status +
// model) -> render.Render (nghttpx files). The translate command, the standalone
// runner and the end-to-end golden tests all go through Build, so what a user sees
// from `nghttpx-gateway translate` is exactly what the data plane gets.
//
// Contract: pure. No clock (the caller passes Now), no I/O, no processes.
package pipeline
