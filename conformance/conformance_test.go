//go:build conformance

package conformance

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// image is what config/ and the provisioned data planes run.
	image         = "ghcr.io/nghttpx-gateway/nghttpx-gateway"
	className     = "nghttpx"
	systemNS      = "nghttpx-gateway-system"
	controllerApp = "nghttpx-gateway"
	// suiteVersion is the conformance module (and CRD bundle) version under test.
	suiteVersion = "v1.6.3"

	// childKubeconfigEnv marks the re-executed test binary that runs the suite
	// inside a cluster network namespace; its value is the kubeconfig to use.
	childKubeconfigEnv = "CONFORMANCE_CHILD_KUBECONFIG"
)

// settings are the CONFORMANCE_* environment variables (see hack/conformance.mk).
type settings struct {
	kubeconfig  string        // CONFORMANCE_KUBECONFIG: existing cluster instead of the local one
	netns       string        // CONFORMANCE_NETNS: run the suite inside this `ip netns` (with CONFORMANCE_KUBECONFIG)
	run         string        // CONFORMANCE_RUN: one test (its ShortName)
	skip        []string      // CONFORMANCE_SKIP: comma-separated ShortNames
	features    string        // CONFORMANCE_FEATURES: "" infer from the GatewayClass, "all", or a comma list
	report      string        // CONFORMANCE_REPORT: report path
	version     string        // CONFORMANCE_VERSION: implementation version for the report
	artifacts   string        // CONFORMANCE_ARTIFACTS: per-test results and failure diagnostics
	debug       bool          // CONFORMANCE_DEBUG=1: the suite dumps every request and response
	keep        bool          // CONFORMANCE_KEEP=1: keep each test's objects (debugging one test)
	cleanupBase bool          // CONFORMANCE_CLEANUP_BASE: delete the base manifests at the end
	hold        time.Duration // CONFORMANCE_HOLD: keep the local cluster up this long after the suite
	timeouts    string        // CONFORMANCE_TIMEOUTS: "Name:seconds;..." on top of our defaults
	usable      string        // CONFORMANCE_USABLE_ADDRESS (GatewayStaticAddresses)
	unusable    string        // CONFORMANCE_UNUSABLE_ADDRESS
}

func loadSettings(t *testing.T) settings {
	s := settings{
		kubeconfig:  os.Getenv("CONFORMANCE_KUBECONFIG"),
		netns:       os.Getenv("CONFORMANCE_NETNS"),
		run:         os.Getenv("CONFORMANCE_RUN"),
		features:    os.Getenv("CONFORMANCE_FEATURES"),
		report:      os.Getenv("CONFORMANCE_REPORT"),
		version:     os.Getenv("CONFORMANCE_VERSION"),
		artifacts:   os.Getenv("CONFORMANCE_ARTIFACTS"),
		debug:       boolEnv("CONFORMANCE_DEBUG", false),
		keep:        boolEnv("CONFORMANCE_KEEP", false),
		cleanupBase: boolEnv("CONFORMANCE_CLEANUP_BASE", true),
		timeouts:    os.Getenv("CONFORMANCE_TIMEOUTS"),
		usable:      os.Getenv("CONFORMANCE_USABLE_ADDRESS"),
		unusable:    os.Getenv("CONFORMANCE_UNUSABLE_ADDRESS"),
	}
	for _, n := range strings.Split(os.Getenv("CONFORMANCE_SKIP"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			s.skip = append(s.skip, n)
		}
	}
	if h := os.Getenv("CONFORMANCE_HOLD"); h != "" {
		d, err := time.ParseDuration(h)
		if err != nil {
			t.Fatalf("CONFORMANCE_HOLD: %v", err)
		}
		s.hold = d
	}
	if s.artifacts == "" {
		s.artifacts = filepath.Join(cacheDir(), "conformance-artifacts", time.Now().Format("20060102-150405"))
	}
	return s
}

// fullRun is a run whose report may stand for the implementation: every test,
// features as the GatewayClass claims them.
func (s settings) fullRun() bool { return s.run == "" && len(s.skip) == 0 && s.features == "" }

// reportPath is the committed report for a full run; partial runs report into the
// artifacts so they never overwrite it.
func (s settings) reportPath() (string, error) {
	if s.report != "" {
		return filepath.Abs(s.report)
	}
	if s.fullRun() {
		return filepath.Abs(filepath.Join("reports", suiteVersion+"-nghttpx-gateway-report.yaml"))
	}
	return filepath.Join(s.artifacts, "report.yaml"), nil
}

func boolEnv(name string, def bool) bool {
	switch strings.ToLower(os.Getenv(name)) {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	default:
		return false
	}
}

func cacheDir() string {
	if d := os.Getenv("CACHE_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "nghttpx-gateway")
}

// stderrLogger logs the harness's progress; CONFORMANCE_V=1 adds the cluster's.
func stderrLogger() logr.Logger {
	v := 0
	if boolEnv("CONFORMANCE_V", false) {
		v = 1
	}
	return funcr.New(func(prefix, args string) {
		fmt.Fprintf(os.Stderr, "%s %s %s\n", time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{Verbosity: v})
}

// TestConformance runs the GATEWAY-HTTP and GATEWAY-GRPC profiles. Three ways in: the re-executed
// child (inside a cluster network namespace), an existing cluster
// (CONFORMANCE_KUBECONFIG, optionally CONFORMANCE_NETNS), or the local cluster.
func TestConformance(t *testing.T) {
	s := loadSettings(t)
	if kc := os.Getenv(childKubeconfigEnv); kc != "" {
		runSuite(t, s, mustRESTConfig(t, kc))
		return
	}
	if s.kubeconfig != "" {
		if s.netns != "" {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", s.netns, os.Args[0]}, childArgs(t)...)...)
			cmd.Env = append(os.Environ(), childKubeconfigEnv+"="+s.kubeconfig)
			runChild(t, s, cmd)
			return
		}
		runSuite(t, s, mustRESTConfig(t, s.kubeconfig))
		return
	}
	runLocal(t, s)
}

func mustRESTConfig(t *testing.T, kubeconfig string) *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", kubeconfig, err)
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 100, 200
	}
	return cfg
}

// childArgs are this test binary's flags for the re-executed child: the same
// test and verbosity, no profiles or test log (the parent owns those), and a
// timeout that ends before the parent's so the child's failure output survives.
func childArgs(t *testing.T) []string {
	var args []string
	for _, a := range os.Args[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "test.run", "test.timeout", "test.testlogfile", "test.coverprofile", "test.cpuprofile",
			"test.memprofile", "test.blockprofile", "test.mutexprofile", "test.trace", "test.gocoverdir":
			continue
		}
		args = append(args, a)
	}
	args = append(args, "-test.run=^TestConformance$")
	if dl, ok := t.Deadline(); ok {
		if left := time.Until(dl) - 2*time.Minute; left > time.Minute {
			args = append(args, "-test.timeout="+left.Round(time.Second).String())
		}
	}
	return args
}

// runChild runs the re-executed suite (cmd, already pointed at the namespace) and
// copies its output to ours and to artifacts/suite.log.
func runChild(t *testing.T, s settings, cmd *exec.Cmd) {
	if err := os.MkdirAll(s.artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(s.artifacts, "suite.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	out := io.MultiWriter(os.Stdout, logf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(cmd.Env, "CONFORMANCE_ARTIFACTS="+s.artifacts)
	// SIGQUIT makes the child print its goroutines when the parent gives up.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 30 * time.Second
	// The child must not outlive us; Pdeathsig follows the creating thread, so keep it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		errc <- cmd.Run()
	}()
	t0 := time.Now()
	err = <-errc
	t.Logf("suite process finished after %s (output in %s)", time.Since(t0).Round(time.Second), logf.Name())
	if err != nil {
		t.Errorf("conformance suite (in the cluster network namespace): %v", err)
	}
}
