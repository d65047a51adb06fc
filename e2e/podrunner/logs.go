package podrunner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// logFile stores one container instance's output, one line per record:
// "<RFC3339Nano> <stream> <text>". Serving strips the prefix unless timestamps are asked for.
type logFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
	done bool
	size int64
}

// maxLogBytes caps one instance's log so load tests cannot fill the disk.
const maxLogBytes = 128 << 20

func createLog(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &logFile{path: path, f: f}, nil
}

// stream returns a writer that turns a byte stream into timestamped lines.
func (l *logFile) stream(name string) *lineWriter {
	return &lineWriter{log: l, stream: name}
}

func (l *logFile) writeLine(stream string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil || l.size > maxLogBytes {
		return
	}
	var b bytes.Buffer
	b.WriteString(time.Now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteByte(' ')
	b.Write(line)
	b.WriteByte('\n')
	l.size += int64(b.Len())
	if l.size > maxLogBytes {
		b.Reset()
		fmt.Fprintf(&b, "%s %s [pod runner: log truncated at %d bytes]\n", time.Now().UTC().Format(time.RFC3339Nano), stream, maxLogBytes)
	}
	_, _ = l.f.Write(b.Bytes())
}

// close marks the instance finished, which ends followers.
func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	l.done = true
}

func (l *logFile) finished() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

type lineWriter struct {
	log    *logFile
	stream string
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.log.writeLine(w.stream, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	// Very long lines are split rather than buffered without bound.
	if len(w.buf) > 64<<10 {
		w.log.writeLine(w.stream, w.buf)
		w.buf = nil
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.log.writeLine(w.stream, w.buf)
		w.buf = nil
	}
}

// logOptions is the subset of kubelet's containerLogs query we honour.
type logOptions struct {
	follow     bool
	timestamps bool
	tailLines  int64 // <0: all
	limitBytes int64 // <=0: unlimited
	since      time.Time
}

// serve writes the log to w according to opts, following it until the instance ends
// or ctx is done.
func (l *logFile) serve(ctx context.Context, w io.Writer, opts logOptions) error {
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	var written int64
	emit := func(rec string) (bool, error) {
		ts, rest, ok := strings.Cut(rec, " ")
		if !ok {
			return true, nil
		}
		if !opts.since.IsZero() {
			if t, err := time.Parse(time.RFC3339Nano, ts); err == nil && t.Before(opts.since) {
				return true, nil
			}
		}
		_, text, _ := strings.Cut(rest, " ")
		out := text + "\n"
		if opts.timestamps {
			out = ts + " " + out
		}
		if opts.limitBytes > 0 && written+int64(len(out)) > opts.limitBytes {
			out = out[:opts.limitBytes-written]
		}
		n, err := io.WriteString(w, out)
		written += int64(n)
		if fl, ok := w.(interface{ Flush() }); ok {
			fl.Flush()
		}
		return err == nil && (opts.limitBytes <= 0 || written < opts.limitBytes), err
	}

	r := bufio.NewReader(f)
	var initial []string
	var partial string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			partial = line
			break
		}
		initial = append(initial, strings.TrimSuffix(line, "\n"))
	}
	if opts.tailLines >= 0 && int64(len(initial)) > opts.tailLines {
		initial = initial[int64(len(initial))-opts.tailLines:]
	}
	for _, rec := range initial {
		if more, err := emit(rec); !more || err != nil {
			return err
		}
	}
	if !opts.follow {
		return nil
	}
	for {
		line, err := r.ReadString('\n')
		partial += line
		if err == nil {
			rec := strings.TrimSuffix(partial, "\n")
			partial = ""
			if more, err := emit(rec); !more || err != nil {
				return err
			}
			continue
		}
		if l.finished() {
			// One more read catches lines written just before the close.
			if rest, _ := io.ReadAll(r); len(rest) > 0 {
				for _, rec := range strings.Split(strings.TrimSuffix(partial+string(rest), "\n"), "\n") {
					if more, err := emit(rec); !more || err != nil {
						return err
					}
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
