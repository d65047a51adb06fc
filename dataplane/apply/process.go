package apply

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// Log texts of nghttpx 1.52 (src/shrpx.cc) around a reload.
const (
	logReloading    = "Reloading configuration"
	logReloadFailed = "Failed to process new configuration"
)

// process is one running nghttpx main process and its process group.
type process struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	done    chan struct{} // closed once the main process exited
	waitErr error         // valid after done
	logDone chan struct{} // closed once every writer of the output pipes is gone
	log     logr.Logger

	mu       sync.Mutex
	problems []string      // ERROR/FATAL and unparsed stderr lines since the last reload began
	recent   []string      // the last maxRecent such lines
	seq      int           // number of such lines ever seen
	rejected chan []string // problems of a reload nghttpx refused
}

const maxRecent = 20

// startProcess runs nghttpx --conf=<dir>/nghttpx.conf in dir, in its own process group.
func startProcess(binary, dir string, log logr.Logger) (*process, error) {
	cmd := exec.Command(binary, "--conf="+filepath.Join(dir, render.MainFile))
	cmd.Dir = dir // relative paths in the config resolve against the state directory
	// Own group: Stop and crash cleanup reach the workers too. Pdeathsig: if this
	// process dies, nghttpx follows, and its workers exit when their IPC pipe closes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{outR, outW, errR, errW} {
			f.Close()
		}
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	outW.Close()
	errW.Close()
	p := &process{
		cmd:      cmd,
		pid:      cmd.Process.Pid,
		started:  time.Now(),
		done:     make(chan struct{}),
		logDone:  make(chan struct{}),
		log:      log.WithValues("pid", cmd.Process.Pid),
		rejected: make(chan []string, 4),
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.readOutput(outR, false) })
	wg.Go(func() { p.readOutput(errR, true) })
	go func() { wg.Wait(); close(p.logDone) }()
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	return p, nil
}

// waitLogs waits (at most d) until the output pipes are drained, so that the last
// lines of an exited nghttpx are in problems; a stray holder of the pipe cannot block.
func (p *process) waitLogs(d time.Duration) {
	select {
	case <-p.logDone:
	case <-time.After(d):
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// readOutput logs nghttpx's output and watches for rejected reloads. Severity maps
// to verbosity: WARN and worse at 0, NOTICE at 1, INFO at 2; stdout (access log) at 1.
func (p *process) readOutput(r io.ReadCloser, stderr bool) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !stderr {
			p.log.V(1).Info("nghttpx", "stream", "stdout", "line", line)
			continue
		}
		l, ok := nghttpx.ParseLogLine(line)
		if !ok {
			// mruby compile errors and the like are printed raw.
			p.log.Info("nghttpx", "line", line)
			p.noteProblem(line)
			continue
		}
		level := 0
		switch l.Severity {
		case nghttpx.SeverityNotice:
			level = 1
		case nghttpx.SeverityInfo:
			level = 2
		}
		p.log.V(level).Info(l.Message, "severity", string(l.Severity), "source", l.Source, "worker", l.PID)
		switch {
		case strings.Contains(l.Message, logReloading):
			p.mu.Lock()
			p.problems = nil
			p.mu.Unlock()
		case strings.Contains(l.Message, logReloadFailed):
			p.mu.Lock()
			probs := p.problems
			p.problems = nil
			p.mu.Unlock()
			select {
			case p.rejected <- probs:
			default:
			}
		case l.Severity == nghttpx.SeverityError || l.Severity == nghttpx.SeverityFatal:
			p.noteProblem(l.Message)
		}
	}
}

func (p *process) noteProblem(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.problems) < maxRecent {
		p.problems = append(p.problems, msg)
	}
	if len(p.recent) == maxRecent {
		p.recent = p.recent[1:]
	}
	p.recent = append(p.recent, msg)
	p.seq++
}

// errorMark is a position in the stream of problems, for errorsSince.
func (p *process) errorMark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// errorsSince returns the problems logged after mark, waiting up to wait for the
// first one (output arrives on a pipe, after the API answered).
func (p *process) errorsSince(mark int, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		p.mu.Lock()
		n := min(p.seq-mark, len(p.recent))
		out := append([]string(nil), p.recent[len(p.recent)-n:]...)
		p.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lastProblems returns the problems logged since the last reload began.
func (p *process) lastProblems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

// drainRejected forgets rejections reported before a new SIGHUP.
func (p *process) drainRejected() {
	for {
		select {
		case <-p.rejected:
		default:
			return
		}
	}
}

func (p *process) signal(sig syscall.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s to nghttpx %d: %w", sig, p.pid, err)
	}
	return nil
}

// kill ends the whole process group and waits for it.
func (p *process) kill(ctx context.Context) error {
	err := proc.KillGroup(ctx, p.pid)
	select {
	case <-p.done:
	case <-ctx.Done():
		return fmt.Errorf("nghttpx %d did not exit: %w", p.pid, ctx.Err())
	}
	return err
}
