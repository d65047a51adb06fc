// Package instance is one Gateway's running data plane, the same in every role
// that runs nghttpx (`run` through package standalone, `proxy` through
// kube/proxyagent, and any later in-pod role): its ports on 127.0.0.1 (backend
// API, the RequestMirror tee and nghttpx's internal frontend for it), the tee
// (dataplane/mirror), and nghttpx itself, started, applied to, supervised and
// counted by dataplane/apply.
//
// Contract: the pipeline is pure and knows none of this; a caller translates
// (pipeline.Translate), asks each Gateway's Instance for its Ports, renders with
// them (pipeline.Render) and hands the result to Apply. New picks the ports;
// StartMirror starts the tee; the first Apply starts nghttpx (a failed start is
// retried by the next Apply); Close stops nghttpx gracefully and then the tee, so
// mirrored requests in flight finish. A configuration with an access log in the
// state directory's FIFO (render.AccessLogPipeFile) gets the FIFO created and read
// (Options.AccessLog) before nghttpx opens it. Side effects (sockets, processes,
// FIFOs) live here, not in the stages.
package instance
