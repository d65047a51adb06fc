package instance

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// fake records what the instance asks of nghttpx.
type fake struct {
	startErr        error
	starts, applies int
	stopped         bool
	// teeUpAtStop: whether the tee still accepted connections when Stop ran.
	teeUpAtStop bool
	teePort     int
	stats       apply.Stats
}

func (f *fake) Start(context.Context, render.Config) error {
	f.starts++
	return f.startErr
}
func (f *fake) Apply(context.Context, render.Config) error { f.applies++; return nil }
func (f *fake) Stats() *apply.Stats                        { return &f.stats }
func (f *fake) Stop(context.Context) error {
	f.stopped = true
	f.teeUpAtStop = dial(f.teePort) == nil
	return nil
}

func dial(port int) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

func TestLifecycle(t *testing.T) {
	f := &fake{startErr: errors.New("port in use")}
	made := 0
	inst, err := New(Options{StateDir: t.TempDir() + "/ns_gw", APIPort: 15000, Log: testr.New(t),
		NewProcess: func(string) (Process, error) { made++; return f, nil }})
	if err != nil {
		t.Fatal(err)
	}
	p := inst.Ports()
	if p.API != 15000 || p.MirrorTee != 0 || p.MirrorInternal != 0 {
		t.Fatalf("ports before the tee: %+v", p)
	}
	ctx := context.Background()
	if err := inst.StartMirror(ctx); err != nil {
		t.Fatal(err)
	}
	if err := inst.StartMirror(ctx); err != nil {
		t.Fatal(err)
	}
	p = inst.Ports()
	if p.MirrorTee == 0 || p.MirrorInternal == 0 || p.MirrorTee == p.MirrorInternal || p.MirrorTee == p.API {
		t.Fatalf("ports with the tee: %+v", p)
	}
	if err := dial(p.MirrorTee); err != nil {
		t.Fatalf("tee not listening: %v", err)
	}
	r := inst.ReservedPorts(map[int32]string{15000: "mine"})
	if r[15000] != "mine" || r[int32(p.MirrorTee)] == "" || r[int32(p.MirrorInternal)] == "" {
		t.Errorf("reserved %v", r)
	}
	f.teePort = p.MirrorTee

	// A failed start leaves nghttpx unstarted; the next Apply starts again.
	if err := inst.Apply(ctx, render.Config{}); err == nil || inst.Running() || inst.Stats() != nil {
		t.Fatalf("failed start: err %v, running %v", err, inst.Running())
	}
	f.startErr = nil
	for range 2 {
		if err := inst.Apply(ctx, render.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	if made != 2 || f.starts != 2 || f.applies != 1 || !inst.Running() || inst.Stats() != &f.stats {
		t.Errorf("made %d, starts %d, applies %d, running %v", made, f.starts, f.applies, inst.Running())
	}

	// Close stops nghttpx while the tee still serves, then the tee.
	if err := inst.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.stopped || !f.teeUpAtStop {
		t.Errorf("stopped %v, tee up while nghttpx stopped %v", f.stopped, f.teeUpAtStop)
	}
	deadline := time.Now().Add(5 * time.Second)
	for dial(p.MirrorTee) == nil {
		if time.Now().After(deadline) {
			t.Fatal("tee still listening after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := inst.Apply(ctx, render.Config{}); !errors.Is(err, apply.ErrStopped) {
		t.Errorf("Apply after Close: %v", err)
	}
	if inst.Running() || inst.Stats() == nil {
		t.Error("after Close: running, or the counters are gone")
	}
}

func TestNewPicksAPIPort(t *testing.T) {
	inst, err := New(Options{StateDir: "/x", NewProcess: func(string) (Process, error) { return &fake{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Ports().API == 0 {
		t.Error("no API port picked")
	}
	if _, err := New(Options{StateDir: "/x"}); err == nil {
		t.Error("no NewProcess accepted")
	}
}
