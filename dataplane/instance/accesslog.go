package instance

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// readAccessLog makes sure the FIFO nghttpx writes its access log to exists and
// is read before nghttpx opens it (a missing FIFO would become a regular file
// growing without bound), and hands the new format and route identities to its
// stream. Called with mu held, before every start and apply.
func (i *Instance) readAccessLog(al *render.AccessLog) error {
	if al == nil {
		return nil
	}
	pipe := filepath.Join(i.opts.StateDir, render.AccessLogPipeFile)
	if al.File != pipe {
		return nil // somewhere else (a file, /dev/stdout): not ours to read
	}
	if i.fifo == nil {
		f, err := openFIFO(i.opts.StateDir, pipe)
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		sink := i.opts.AccessLog
		if sink == nil {
			if sink, err = accesslog.NewSink(prometheus.NewRegistry(), os.Stdout, i.opts.Log); err != nil {
				f.Close()
				return err
			}
		}
		gw := ""
		if al.Routes != nil {
			gw = al.Routes.Gateway
		}
		i.fifo, i.stream = &fifoReader{f: f}, sink.Stream(gw)
		log, r := i.opts.Log, i.fifo
		go func() {
			if err := i.stream.Run(r); err != nil {
				log.Error(err, "access log reader stopped")
			}
		}()
	}
	i.stream.Set(al.Format, al.Routes)
	return nil
}

// openFIFO creates pipe as a FIFO (replacing anything else there) and opens it
// for reading and writing: opening never blocks, and the reader sees no end of
// file when nghttpx's processes close it across reloads.
func openFIFO(dir, pipe string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(pipe); err == nil && fi.Mode()&os.ModeNamedPipe == 0 {
		if err := os.Remove(pipe); err != nil {
			return nil, err
		}
	}
	if err := syscall.Mkfifo(pipe, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create FIFO %s: %w", pipe, err)
	}
	f, err := os.OpenFile(pipe, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	// Blocking reads (Fd switches the file to blocking mode): the reader then
	// sleeps in read(2) instead of going through the runtime's poller, which
	// cost more CPU per wake-up than parsing the lines it brought.
	fd := f.Fd()
	// 1 MiB (the unprivileged maximum) so that bursts do not make nghttpx's
	// workers wait for the reader; the default 64 KiB still works.
	syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, 1<<20)
	return f, nil
}

// fifoReader reads the FIFO until Close. A blocking read(2) does not return
// when another thread closes the file, so Close first writes an empty line
// (the FIFO is open for writing too), which wakes the reader, and then the
// reader sees the end.
type fifoReader struct {
	f       *os.File
	closing atomic.Bool
}

func (r *fifoReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if r.closing.Load() {
		return n, io.EOF
	}
	return n, err
}

func (r *fifoReader) Close() error {
	r.closing.Store(true)
	r.f.Write([]byte{'\n'})
	return r.f.Close()
}

// fSetPipeSize is Linux's F_SETPIPE_SZ.
const fSetPipeSize = 1031
