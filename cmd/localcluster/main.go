package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/node"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

const usage = `usage:
  localcluster up    --state DIR [--node podrunner|real [--node-image ARCHIVE]...] [--bin-dir DIR] [--echo-bin FILE] [--image PREFIX=BINARY]... [--sleeper PREFIX]...
  localcluster down  --state DIR
  localcluster exec  --state DIR -- COMMAND [ARG]...   (inside the cluster network namespace)
  localcluster serve --state DIR [...]                 (foreground; what "up" runs detached)

"up" prints the kubeconfig path as its last line; the cluster keeps running until "down".
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	state := fs.String("state", "", "state directory (kubeconfig, certificates, logs, pid file)")
	binDir := fs.String("bin-dir", "", "control-plane binaries (default: hack/build-k8s.sh's output)")
	echoBin := fs.String("echo-bin", "", "echo-basic binary for the conformance echo images")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long up waits for the cluster")
	nodeMode := fs.String("node", "podrunner", `what runs pods: "podrunner" (host processes) or "real" (kubelet, containerd, kube-proxy, CoreDNS)`)
	var nodeImages nodeImageFlags
	fs.Var(&nodeImages, "node-image", "ARCHIVE: with --node real, also import this image archive (docker/OCI tarball; repeatable)")
	var images imageFlags
	fs.Var(&images, "image", "PREFIX=BINARY: run containers whose image starts with PREFIX as BINARY plus the container's args (repeatable)")
	fs.Var(sleeperFlag{&images}, "sleeper", "PREFIX: run containers whose image starts with PREFIX as an idle stand-in process (repeatable)")
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	_ = fs.Parse(args)
	if *state == "" {
		fs.Usage()
		os.Exit(2)
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		fatal(err)
	}
	s := stateDir(dir)
	switch cmd {
	case "up":
		err = up(s, os.Args[2:], *timeout)
	case "serve":
		var mode cluster.NodeMode
		if mode, err = cluster.ParseNodeMode(*nodeMode); err == nil {
			err = serve(s, cluster.Options{StateDir: dir, BinDir: *binDir, EchoBin: *echoBin, Images: images.m,
				Node: mode, NodeExtraImages: nodeImages})
		}
	case "down":
		err = down(s)
	case "exec":
		err = execIn(s, fs.Args())
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "localcluster:", err)
	os.Exit(1)
}

type stateDir string

func (s stateDir) path(n string) string { return filepath.Join(string(s), n) }
func (s stateDir) pidFile() string      { return s.path("localcluster.pid") }
func (s stateDir) readyFile() string    { return s.path("ready") }
func (s stateDir) netnsFile() string    { return s.path("netns") }
func (s stateDir) logFile() string      { return s.path("logs/localcluster.log") }

// binDir is the running cluster's control-plane bin dir (kubectl lives there).
func (s stateDir) binDir() string {
	if b, err := os.ReadFile(s.path("bindir")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return cluster.DefaultBinDir()
}

// running returns the pid of a live serve process for this state dir.
func (s stateDir) running() (int, bool) {
	b, err := os.ReadFile(s.pidFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	// A recycled pid would run something else.
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	self, _ := os.Executable()
	if err != nil || filepath.Base(exe) != filepath.Base(self) {
		return 0, false
	}
	return pid, true
}

// up starts "serve" detached and waits until it reports ready.
func up(s stateDir, args []string, timeout time.Duration) error {
	if _, ok := s.running(); ok {
		if kc, err := os.ReadFile(s.readyFile()); err == nil {
			printInfo(s, strings.TrimSpace(string(kc)))
			return nil
		}
		return fmt.Errorf("a cluster for %s is starting or broken; run down first", s)
	}
	if err := os.MkdirAll(s.path("logs"), 0o755); err != nil {
		return err
	}
	_ = os.Remove(s.readyFile())
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(s.logFile(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, append([]string{"serve"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(timeout)
	for {
		if kc, err := os.ReadFile(s.readyFile()); err == nil {
			fmt.Fprintf(os.Stderr, "cluster up in %s (pid %d, log %s)\n", time.Since(t0).Round(time.Millisecond), cmd.Process.Pid, s.logFile())
			printInfo(s, strings.TrimSpace(string(kc)))
			return nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(s.logFile())
			return fmt.Errorf("cluster process exited (%v):\n%s", err, b)
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("cluster not ready after %s; see %s", timeout, s.logFile())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func printInfo(s stateDir, kubeconfig string) {
	ns, _ := os.ReadFile(s.netnsFile())
	n := strings.TrimSpace(string(ns))
	fmt.Printf("netns: %s\n", n)
	fmt.Printf("kubectl: ip netns exec %s %s --kubeconfig %s get pods -A\n", n, filepath.Join(s.binDir(), "kubectl"), kubeconfig)
	fmt.Printf("curl:    ip netns exec %s curl http://<pod-or-lb-ip>:<port>/\n", n)
	fmt.Printf("host-kubeconfig (API only, from the host namespace): %s\n", s.path("kubeconfig-host"))
	fmt.Println(kubeconfig)
}

// serve runs the cluster in the foreground until SIGTERM or SIGINT.
func serve(s stateDir, opts cluster.Options) error {
	log := funcr.New(func(prefix, args string) {
		fmt.Fprintln(os.Stderr, time.Now().Format(time.RFC3339), prefix, args)
	}, funcr.Options{})
	opts.Log = log
	if pid, ok := s.running(); ok && pid != os.Getpid() {
		return fmt.Errorf("already running as pid %d", pid)
	}
	if err := os.MkdirAll(string(s), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(s.pidFile(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(s.pidFile())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Stop()
	defer os.Remove(s.readyFile())
	defer os.Remove(s.netnsFile())
	if err := os.WriteFile(s.netnsFile(), []byte(c.Netns+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(s.path("bindir"), []byte(c.BinDir+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(s.readyFile(), []byte(c.Kubeconfig+"\n"), 0o644); err != nil {
		return err
	}
	log.Info("serving; stop with localcluster down", "state", string(s), "startup", c.StartupDuration.String())
	<-ctx.Done()
	log.Info("stopping")
	return nil
}

// down stops the serve process and removes anything a crashed one left.
func down(s stateDir) error {
	if pid, ok := s.running(); ok {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(90 * time.Second)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Everything but the logs: a crashed serve leaves its files behind.
	for _, f := range []string{s.pidFile(), s.readyFile(), s.netnsFile(), s.path("bindir"), s.path("kubeconfig"),
		s.path("tokens.csv"), s.path("etcd"), s.path("pods"), s.path("pki"), s.path("kcm"), s.path("node")} {
		_ = os.RemoveAll(f)
	}
	return cluster.Reap(context.Background(), logr.Discard())
}

// execIn runs a command inside the cluster's network namespace with KUBECONFIG set.
func execIn(s stateDir, argv []string) error {
	if len(argv) == 0 {
		return errors.New("exec needs a command")
	}
	ns, err := os.ReadFile(s.netnsFile())
	if err != nil {
		return fmt.Errorf("no running cluster for %s: %w", s, err)
	}
	kc := s.path("kubeconfig")
	cmd := exec.Command("ip", append([]string{"netns", "exec", strings.TrimSpace(string(ns))}, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "PATH="+s.binDir()+":"+os.Getenv("PATH"))
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		return err
	}
	return nil
}

// imageFlags collects --image PREFIX=BINARY.
type imageFlags struct{ m podrunner.ImageMap }

func (f *imageFlags) String() string { return "" }

func (f *imageFlags) Set(v string) error {
	prefix, bin, ok := strings.Cut(v, "=")
	if !ok || prefix == "" || bin == "" {
		return fmt.Errorf("want PREFIX=BINARY, got %q", v)
	}
	if f.m == nil {
		f.m = podrunner.ImageMap{}
	}
	f.m[prefix] = podrunner.Binary(bin)
	return nil
}

// sleeperFlag collects --sleeper PREFIX (e.g. the conformance suite's coredns image).
type sleeperFlag struct{ f *imageFlags }

func (s sleeperFlag) String() string { return "" }

func (s sleeperFlag) Set(v string) error {
	if v == "" {
		return errors.New("want an image prefix")
	}
	if s.f.m == nil {
		s.f.m = podrunner.ImageMap{}
	}
	s.f.m[v] = podrunner.Sleeper()
	return nil
}

// nodeImageFlags collects --node-image archives (absolute paths: serve runs in /).
type nodeImageFlags []node.Image

func (f *nodeImageFlags) String() string { return "" }

func (f *nodeImageFlags) Set(v string) error {
	abs, err := filepath.Abs(v)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	*f = append(*f, node.Image{Archive: abs})
	return nil
}
