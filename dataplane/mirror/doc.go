// Package mirror is the tee that gives nghttpx request mirroring (HTTPRoute
// RequestMirror filters), which nghttpx cannot do itself. It runs inside the
// data-plane process (proxy agent, standalone runner) on 127.0.0.1.
//
// nghttpx's router (render/scripts/mirror.rb) sends a request of a rule with
// sampled mirrors to the tee with two internal headers: the primary group key
// (render.MirrorPrimaryHeader) and the mirror group keys (render.MirrorKeysHeader).
// The tee buffers the body (up to Options.MaxBody; a larger request is forwarded
// without its copies, counted in Stats.TooLarge), forwards the request to nghttpx's
// internal frontend with render.MirrorTargetHeader naming the primary group and
// streams that answer back, and sends one copy per mirror key the same way,
// asynchronously, discarding the answers. Copies are bounded in number
// (Options.MaxInFlight; beyond it they are dropped and counted) and in time
// (Options.Timeout). The tee makes no routing decision and keeps no state beyond
// counters; when it is down, mirrored rules answer 502 (nghttpx cannot reach it)
// while every other rule is unaffected.
package mirror
