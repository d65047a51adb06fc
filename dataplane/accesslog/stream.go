package accesslog

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// Sink is where every Gateway's access log goes: one writer (the agent's
// stdout) and one set of Metrics.
type Sink struct {
	metrics *Metrics
	log     logr.Logger
	mu      sync.Mutex // serialises writes to out
	out     io.Writer
}

// NewSink registers the request metrics on reg; lines go to out.
func NewSink(reg prometheus.Registerer, out io.Writer, log logr.Logger) (*Sink, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	return &Sink{metrics: m, out: out, log: log}, nil
}

// Stream is one Gateway's access log.
type Stream struct {
	sink    *Sink
	gateway string
	state   atomic.Pointer[streamState]
	// cache is touched only by Run's goroutine.
	cache map[seriesKey]series
}

type streamState struct {
	format Format
	routes *Routes
}

// Stream starts the access log of Gateway gateway (namespace/name), written in
// FormatJSON until Set says otherwise.
func (s *Sink) Stream(gateway string) *Stream {
	st := &Stream{sink: s, gateway: gateway, cache: map[seriesKey]series{}}
	st.state.Store(&streamState{format: FormatJSON, routes: &Routes{Gateway: gateway}})
	return st
}

// Set changes the output format and the route identities (a new configuration
// was applied). A nil routes keeps the Gateway name only.
func (st *Stream) Set(format Format, routes *Routes) {
	if routes == nil {
		routes = &Routes{Gateway: st.gateway}
	}
	st.state.Store(&streamState{format: format, routes: routes})
}

// maxLine bounds a line: nghttpx writes at most 4 KiB per request.
const maxLine = 64 << 10

// batchDelay is how long Run waits after it has drained a small batch, so
// that the next read takes many lines at once: waking up per request cost the
// agent more CPU than parsing the line. A batch of busyBatch bytes or more
// means lines arrive fast, and Run reads on at once: a FIFO holds at least
// 64 KiB, so nghttpx never waits for a sleeping reader.
const (
	batchDelay = 5 * time.Millisecond
	busyBatch  = 32 << 10
)

// Run reads nghttpx's lines from r until it fails or ends. Lines read together
// are written out together, so a busy data plane does not pay a write per
// request.
func (st *Stream) Run(r io.Reader) error {
	br := bufio.NewReaderSize(r, maxLine)
	var out []byte
	batch := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Not ours: pass it on in pieces rather than stall nghttpx.
			out = append(out, line...)
			continue
		}
		if len(line) > 0 {
			batch += len(line)
			out = st.handle(out, line)
		}
		if len(out) > 0 && (err != nil || br.Buffered() == 0) {
			st.sink.mu.Lock()
			_, werr := st.sink.out.Write(out)
			st.sink.mu.Unlock()
			if werr != nil {
				st.sink.log.Error(werr, "access log output failed", "gateway", st.gateway)
			}
			out = out[:0]
			if err == nil && batch < busyBatch {
				time.Sleep(batchDelay)
			}
			batch = 0
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// handle counts one line and appends what is written for it to out.
func (st *Stream) handle(out, line []byte) []byte {
	s := st.state.Load()
	body := line
	if body[len(body)-1] == '\n' {
		body = body[:len(body)-1]
	}
	if len(body) == 0 {
		return out
	}
	e, err := Parse(body)
	if err != nil {
		st.sink.metrics.malformed.WithLabelValues(st.gateway).Inc()
		out = append(out, body...)
		return append(out, '\n')
	}
	if s.routes.internal(e.ServerPort) {
		return out
	}
	id := s.routes.Lookup(e.BackendPattern, e.ServerPort)
	k := seriesKey{id: id, class: e.StatusClass(), proto: e.Proto()}
	k.id.Port, k.id.RouteKind = 0, ""
	se, ok := st.cache[k]
	if !ok {
		se = st.sink.metrics.series(k)
		st.cache[k] = se
	}
	se.requests.Inc()
	se.bytes.Add(float64(e.Bytes))
	se.duration.Observe(e.RequestTime)
	switch s.format {
	case FormatNghttpx:
		out = append(out, e.Text()...)
	default:
		out = appendJSON(out, &e, &id)
	}
	return append(out, '\n')
}
