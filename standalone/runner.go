package standalone

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/mirror"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/model"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/recheck"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// DataPlane is one Gateway's running nghttpx.
type DataPlane interface {
	Apply(ctx context.Context, cfg *render.Config) error
	Stop(ctx context.Context) error
}

// StartFunc starts a data plane with its first configuration.
type StartFunc func(ctx context.Context, stateDir string, cfg *render.Config) (DataPlane, error)

// Runner serves the Gateways of a config directory.
type Runner struct {
	ConfigDir string
	StateDir  string
	Start     StartFunc
	// Render carries the feature-dependent render options; StateDir and APIPort are
	// set per Gateway.
	Render render.Options
	Log    logr.Logger
	// Out receives status lines.
	Out io.Writer
	// Ingress configures the Ingress shim for Ingresses found in the directory;
	// ProxyProtocol is --proxy-proto for its Gateways.
	Ingress       ingressshim.Options
	ProxyProtocol bool
	// OCSP is OCSP stapling from certificate Secrets (--ocsp-stapling).
	OCSP gateway.OCSPOptions
	// Poll is how often the directory is scanned; Settle is how long it must stay
	// unchanged before a rebuild, so an editor's multi-step save is one batch.
	Poll, Settle time.Duration

	instances map[string]*instance
	printed   map[string]string
	// recheck rebuilds when a translation's OCSPRecheck passes.
	recheck *recheck.Timer
}

type instance struct {
	dp      DataPlane
	apiPort int
	applied bool
	err     error
	tee     *teeRun
}

// teeRun is a Gateway's RequestMirror tee (dataplane/mirror) and the port of
// its nghttpx's internal frontend.
type teeRun struct {
	port, internalPort int
	stop               context.CancelFunc
}

// startTee serves a tee on 127.0.0.1 until its stop is called.
func (r *Runner) startTee(ctx context.Context) (*teeRun, error) {
	internal, err := freePort()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mirror tee port: %w", err)
	}
	tee, err := mirror.New(mirror.Options{Internal: net.JoinHostPort("127.0.0.1", strconv.Itoa(internal)), Log: r.Log.WithName("mirror")})
	if err != nil {
		ln.Close()
		return nil, err
	}
	tctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		if err := tee.Serve(tctx, ln); err != nil {
			r.Log.Error(err, "mirror tee stopped")
		}
	}()
	return &teeRun{port: ln.Addr().(*net.TCPAddr).Port, internalPort: internal, stop: stop}, nil
}

// Run blocks until ctx is done, then stops every data plane.
func (r *Runner) Run(ctx context.Context) error {
	if r.Poll == 0 {
		r.Poll = 300 * time.Millisecond
	}
	if r.Settle == 0 {
		r.Settle = 100 * time.Millisecond
	}
	r.instances = map[string]*instance{}
	r.printed = map[string]string{}
	defer r.stopAll()

	var last [32]byte
	var lastErr string
	first := true
	// A stapled OCSP response expires with no file changing: rebuild then.
	recheckDue := make(chan struct{}, 1)
	r.recheck = &recheck.Timer{Fire: func() {
		select {
		case recheckDue <- struct{}{}:
		default:
		}
	}}
	defer r.recheck.Stop()
	var lastIn *gateway.Input
	for {
		files, digest, err := scanDir(r.ConfigDir)
		switch {
		case err != nil:
			if err.Error() != lastErr {
				r.Log.Error(err, "cannot read the config directory; still serving the last good configuration", "dir", r.ConfigDir)
				lastErr = err.Error()
			}
		case first || digest != last:
			if !first {
				files, digest = r.settle(ctx, digest, files)
			}
			last, first = digest, false
			in, err := decodeFiles(files)
			if err != nil {
				r.Log.Error(err, "cannot decode objects; fix the file, the last good configuration keeps serving", "dir", r.ConfigDir)
				break
			}
			lastErr = ""
			lastIn = in
			r.sync(ctx, in)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.Poll):
		case <-recheckDue:
			if lastIn != nil {
				r.Log.Info("an OCSP response reached its nextUpdate; rebuilding")
				r.sync(ctx, lastIn)
			}
		}
	}
}

// settle waits until the directory content stops changing.
func (r *Runner) settle(ctx context.Context, digest [32]byte, files map[string][]byte) (map[string][]byte, [32]byte) {
	for range 20 {
		select {
		case <-ctx.Done():
			return files, digest
		case <-time.After(r.Settle):
		}
		f2, d2, err := scanDir(r.ConfigDir)
		if err != nil || d2 == digest {
			return files, digest
		}
		files, digest = f2, d2
	}
	return files, digest
}

func (r *Runner) sync(ctx context.Context, in *gateway.Input) {
	ports := map[string]int{}
	tees := map[string]*teeRun{}
	out := pipeline.Build(in, pipeline.Options{
		Gateway: gateway.Options{
			DefaultAddress: "127.0.0.1",
			OCSP:           r.OCSP,
			Now:            metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
			// Client certificate validation needs our patched nghttpx.
			NoClientValidation: !r.Render.Features.ClientVerify,
		},
		Render:        r.Render,
		StateDir:      r.StateDir,
		Ingress:       r.Ingress,
		ProxyProtocol: r.ProxyProtocol,
		APIPortFor: func(m *model.Gateway) int {
			if inst := r.instances[key(m)]; inst != nil && inst.apiPort != 0 {
				return inst.apiPort
			}
			p, err := freePort()
			if err != nil {
				r.Log.Error(err, "no free port for the backend API")
			}
			ports[key(m)] = p
			return p
		},
		MirrorPortsFor: func(m *model.Gateway) (int, int) {
			t := tees[key(m)]
			if inst := r.instances[key(m)]; inst != nil && inst.tee != nil {
				t = inst.tee
			}
			if t == nil {
				var err error
				if t, err = r.startTee(ctx); err != nil {
					r.Log.Error(err, "no mirror tee; RequestMirror filters are not served", "gateway", key(m))
					return 0, 0
				}
				tees[key(m)] = t
			}
			return t.port, t.internalPort
		},
	})
	r.recheck.Set(out.Translation.OCSPRecheck)
	defer func() {
		// New tees belong to their Gateway's instance from now on.
		for k, t := range tees {
			if inst := r.instances[k]; inst != nil && inst.tee == nil {
				inst.tee = t
			} else {
				t.stop()
			}
		}
	}()
	seen := map[string]bool{}
	for _, g := range out.Gateways {
		k := key(g.Model)
		seen[k] = true
		inst := r.instances[k]
		if g.Err != nil {
			r.Log.Error(g.Err, "Gateway cannot be rendered; its data plane keeps the last good configuration", "gateway", k)
			if inst != nil {
				inst.err = g.Err
			} else {
				r.instances[k] = &instance{err: g.Err}
			}
			continue
		}
		for _, d := range g.Config.Dropped {
			r.Log.Info("part of the Gateway cannot be expressed and is not served (a translator bug; please report it)",
				"gateway", k, "what", d.What, "reason", d.Reason, "object", d.Source.Kind+" "+d.Source.Namespace+"/"+d.Source.Name)
		}
		if inst == nil {
			inst = &instance{}
			r.instances[k] = inst
		}
		if p, ok := ports[k]; ok {
			inst.apiPort = p
		}
		var err error
		if inst.dp == nil {
			inst.dp, err = r.Start(ctx, g.StateDir, g.Config)
			if err != nil {
				inst.dp = nil
			} else {
				r.Log.Info("data plane started", "gateway", k, "stateDir", g.StateDir, "apiPort", inst.apiPort)
			}
		} else {
			err = inst.dp.Apply(ctx, g.Config)
		}
		inst.err = err
		inst.applied = inst.applied || err == nil
		if err != nil {
			r.Log.Error(err, "applying configuration failed; the last good configuration keeps serving", "gateway", k)
		}
	}
	for k, inst := range r.instances {
		if seen[k] {
			continue
		}
		if inst.dp != nil {
			if err := inst.dp.Stop(ctx); err != nil {
				r.Log.Error(err, "stopping data plane", "gateway", k)
			}
			r.Log.Info("data plane stopped: Gateway removed", "gateway", k)
		}
		if inst.tee != nil {
			inst.tee.stop()
		}
		delete(r.instances, k)
	}
	r.markProgrammed(out.Translation)
	r.printChanges(statusLines(out))
}

// markProgrammed makes Programmed reflect what the data plane confirmed: the
// translator only knows the configuration is valid.
func (r *Runner) markProgrammed(res *gateway.Result) {
	for i := range res.Gateways {
		g := &res.Gateways[i]
		inst := r.instances[g.Namespace+"/"+g.Name]
		c := meta.FindStatusCondition(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionTrue {
			continue
		}
		switch {
		case inst == nil:
		case inst.err != nil:
			c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalid)
			c.Message = "The data plane did not accept the configuration: " + inst.err.Error()
		case !inst.applied:
			c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending)
			c.Message = "Waiting for the data plane to apply the configuration."
		}
	}
}

func (r *Runner) printChanges(lines map[string]string) {
	var keys []string
	for k := range lines {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if r.printed[k] != lines[k] {
			fmt.Fprintf(r.Out, "%s: %s\n", k, lines[k])
		}
	}
	for k := range r.printed {
		if _, ok := lines[k]; !ok {
			fmt.Fprintf(r.Out, "%s: removed\n", k)
		}
	}
	r.printed = lines
}

func (r *Runner) stopAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for k, inst := range r.instances {
		if inst.dp != nil {
			if err := inst.dp.Stop(ctx); err != nil {
				r.Log.Error(err, "stopping data plane", "gateway", k)
			}
		}
		if inst.tee != nil {
			inst.tee.stop()
		}
	}
}

func key(m *model.Gateway) string { return m.Source.Namespace + "/" + m.Source.Name }

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
