//go:build e2e

package ingress

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

const (
	systemNS      = e2eutil.SystemNamespace
	controllerApp = e2eutil.ControllerApp
	fieldManager  = "nghttpx-gateway-e2e"
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

func setupSuite(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	v, _ := strconv.Atoi(os.Getenv("E2E_V"))
	log := e2eutil.StderrLogger(v).WithName("e2e")
	s := &suite{artifacts: e2eutil.ArtifactsDir("ingress-")}
	ctx = context.WithValue(ctx, suiteKey{}, s)
	c, cleanup, err := e2eutil.StartCluster(ctx, log)
	s.cleanups = append(s.cleanups, cleanup)
	if err != nil {
		return ctx, err
	}
	// A panic loses the context finishSuite would find the cluster in.
	defer func() {
		if p := recover(); p != nil {
			c.Stop()
			panic(p)
		}
	}()
	s.c, s.cs = c, c.Client
	// The controller's own scheme: the same kinds, decoded the same way.
	scheme, err := source.NewScheme()
	if err != nil {
		return ctx, err
	}
	if s.cl, err = client.New(c.RESTConfig, client.Options{Scheme: scheme}); err != nil {
		return ctx, err
	}

	t1 := time.Now()
	if err := e2eutil.InstallDefault(ctx, c.RESTConfig, fieldManager, withConfigMapFlag); err != nil {
		return ctx, err
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
		e2eutil.DumpPodLogs(ctx, log, s.cs, systemNS, "")
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

// waitController waits until every controller replica is ready and the data plane
// of the IngressClass's Gateway (provisioned for the class alone, to serve the
// default backend) is ready.
func (s *suite) waitController(ctx context.Context) error {
	for _, d := range []string{controllerApp, dataPlane} {
		if err := e2eutil.WaitRollout(ctx, s.cs, systemNS, d, 3*time.Minute); err != nil {
			return err
		}
	}
	return nil
}
