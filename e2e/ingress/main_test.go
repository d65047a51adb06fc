//go:build e2e

package ingress

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/config"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

const (
	// image is what config/ and the provisioned data planes run.
	image         = "ghcr.io/nghttpx-gateway/nghttpx-gateway"
	systemNS      = "nghttpx-gateway-system"
	controllerApp = "nghttpx-gateway"
	// ingressClass is the IngressClass the suite installs; its synthetic Gateway
	// (same name) lives in systemNS, its data plane is dataPlane there.
	ingressClass      = "nghttpx"
	ingressController = "zlab.co.jp/nghttpx"
	dataPlane         = ingressClass + "-nghttpx"
	// configMap is the operator ConfigMap (--nghttpx-configmap); its nghttpx-conf
	// adds operatorHeader to every response of the Ingress data plane.
	configMap      = "nghttpx-ingress"
	operatorHeader = "X-E2e-Operator"
)

var testenv env.Environment

type suiteKey struct{}

// suite is what every feature needs: the cluster and clients.
type suite struct {
	c         *cluster.Cluster
	cs        kubernetes.Interface
	cl        client.Client
	artifacts string
	cleanups  []func()
}

func suiteFrom(ctx context.Context) *suite { return ctx.Value(suiteKey{}).(*suite) }

func TestMain(m *testing.M) {
	testenv = env.NewWithConfig(envconf.New())
	testenv.Setup(setupSuite).Finish(finishSuite)
	os.Exit(testenv.Run(m))
}

func stderrLogger() logr.Logger {
	v, _ := strconv.Atoi(os.Getenv("E2E_V"))
	return funcr.New(func(prefix, args string) {
		fmt.Fprintf(os.Stderr, "%s %s %s\n", time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{Verbosity: v})
}

func setupSuite(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	log := stderrLogger().WithName("e2e")
	s := &suite{artifacts: artifactsDir()}
	ctx = context.WithValue(ctx, suiteKey{}, s)
	opts := cluster.Options{Kubeconfig: os.Getenv("E2E_KUBECONFIG"), Log: log.WithName("cluster").V(1)}
	if opts.Kubeconfig == "" {
		nghttpx := os.Getenv("NGHTTPX_BIN")
		if nghttpx == "" {
			return ctx, errors.New("NGHTTPX_BIN is unset: the data-plane pods need nghttpx (make nghttpx prints its path)")
		}
		if _, err := os.Stat(nghttpx); err != nil {
			return ctx, fmt.Errorf("NGHTTPX_BIN: %w", err)
		}
		bin, cleanup, err := gatewayBinary(ctx, log)
		if err != nil {
			return ctx, err
		}
		s.cleanups = append(s.cleanups, cleanup)
		run := podrunner.Binary(bin)
		opts.Images = podrunner.ImageMap{image: func(c corev1.Container) (podrunner.Process, error) {
			p, err := run(c)
			p.Env = append(p.Env, "NGHTTPX_BIN="+nghttpx)
			return p, err
		}}
		opts.StateDir = os.Getenv("E2E_STATE_DIR")
	}
	t0 := time.Now()
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		return ctx, fmt.Errorf("cluster: %w", err)
	}
	// A panic loses the context finishSuite would find the cluster in.
	defer func() {
		if p := recover(); p != nil {
			c.Stop()
			panic(p)
		}
	}()
	s.c, s.cs = c, c.Client
	log.Info("cluster up", "took", time.Since(t0).Round(time.Millisecond), "kubeconfig", c.Kubeconfig, "netns", c.Netns)
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gatewayv1.Install} {
		if err := add(scheme); err != nil {
			return ctx, err
		}
	}
	if s.cl, err = client.New(c.RESTConfig, client.Options{Scheme: scheme}); err != nil {
		return ctx, err
	}

	t1 := time.Now()
	objs, err := config.Build(filepath.Join(config.Dir(), "default"))
	if err != nil {
		return ctx, err
	}
	if err := withConfigMapFlag(objs); err != nil {
		return ctx, err
	}
	if err := applyAll(ctx, c.RESTConfig, objs); err != nil {
		return ctx, fmt.Errorf("install config/default: %w", err)
	}
	// The operator ConfigMap and our IngressClass, as an operator migrating from
	// the original controller would have them.
	for _, o := range []client.Object{
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: configMap},
			Data:       map[string]string{"nghttpx-conf": "add-response-header=" + operatorHeader + ": configmap\n"},
		},
		&networkingv1.IngressClass{
			ObjectMeta: metav1.ObjectMeta{Name: ingressClass},
			Spec:       networkingv1.IngressClassSpec{Controller: ingressController},
		},
	} {
		if err := s.cl.Create(ctx, o); err != nil {
			return ctx, fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	if err := s.waitController(ctx); err != nil {
		s.dumpLogs(ctx, log)
		return ctx, err
	}
	log.Info("config/default installed; controller and the IngressClass's data plane ready", "took", time.Since(t1).Round(time.Millisecond))
	return ctx, nil
}

// withConfigMapFlag adds --nghttpx-configmap to the controller's arguments.
func withConfigMapFlag(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "Deployment" || o.GetNamespace() != systemNS || o.GetName() != controllerApp {
			continue
		}
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
			return err
		}
		if len(d.Spec.Template.Spec.Containers) != 1 {
			return fmt.Errorf("controller Deployment has %d containers", len(d.Spec.Template.Spec.Containers))
		}
		c := &d.Spec.Template.Spec.Containers[0]
		c.Args = append(c.Args, "--nghttpx-configmap="+systemNS+"/"+configMap)
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&d)
		if err != nil {
			return err
		}
		o.Object = u
		return nil
	}
	return errors.New("config/default has no controller Deployment")
}

func finishSuite(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	if s, ok := ctx.Value(suiteKey{}).(*suite); ok {
		if s.c != nil {
			s.c.Stop()
		}
		for _, f := range s.cleanups {
			f()
		}
	}
	return ctx, nil
}

// gatewayBinary is $E2E_GATEWAY_BIN, or cmd/nghttpx-gateway built into a temporary
// directory that cleanup removes.
func gatewayBinary(ctx context.Context, log logr.Logger) (path string, cleanup func(), err error) {
	if b := os.Getenv("E2E_GATEWAY_BIN"); b != "" {
		if _, err := os.Stat(b); err != nil {
			return "", nil, fmt.Errorf("E2E_GATEWAY_BIN: %w", err)
		}
		return b, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "ngxgw-e2e-bin-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	out := filepath.Join(dir, "nghttpx-gateway")
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/nghttpx-gateway")
	cmd.Dir = filepath.Dir(config.Dir())
	if b, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build ./cmd/nghttpx-gateway: %w\n%s", err, b)
	}
	log.Info("built nghttpx-gateway", "path", out, "took", time.Since(t0).Round(time.Millisecond))
	return out, cleanup, nil
}

func artifactsDir() string {
	if d := os.Getenv("E2E_ARTIFACTS"); d != "" {
		return d
	}
	base := os.Getenv("CACHE_DIR")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache", "nghttpx-gateway")
	}
	return filepath.Join(base, "e2e-artifacts", "ingress-"+time.Now().Format("20060102-150405"))
}

// waitController waits until every controller replica is ready and the data plane
// of the IngressClass's Gateway (provisioned for the class alone, to serve the
// default backend) is ready.
func (s *suite) waitController(ctx context.Context) error {
	for _, d := range []string{controllerApp, dataPlane} {
		var dep appsv1.Deployment
		err := poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: d}, &dep); err != nil {
				return false, nil
			}
			pods, err := s.pods(ctx, systemNS, metav1.FormatLabelSelector(dep.Spec.Selector))
			if err != nil {
				return false, nil
			}
			for _, p := range pods {
				for _, cs := range p.Status.ContainerStatuses {
					if cs.RestartCount >= 3 && !cs.Ready {
						return false, fmt.Errorf("pod %s restarted %d times", p.Name, cs.RestartCount)
					}
				}
			}
			want := int32(1)
			if dep.Spec.Replicas != nil {
				want = *dep.Spec.Replicas
			}
			return dep.Status.ObservedGeneration == dep.Generation && dep.Status.UpdatedReplicas == want &&
				dep.Status.ReadyReplicas == want && dep.Status.Replicas == want, nil
		})
		if err != nil {
			return fmt.Errorf("Deployment %s/%s not ready: %w", systemNS, d, err)
		}
	}
	return nil
}
