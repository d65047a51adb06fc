//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

const (
	systemNS      = e2eutil.SystemNamespace
	controllerApp = e2eutil.ControllerApp
	className     = "nghttpx"
	fieldManager  = "nghttpx-gateway-e2e"
)

// testenv is the e2e-framework environment: TestMain sets it once, features read the
// suite from the context it hands them.
var testenv env.Environment

type suiteKey struct{}

// suite is what every feature needs: the cluster and clients.
type suite struct {
	c  *cluster.Cluster
	cs kubernetes.Interface
	cl client.Client // typed, Gateway API included
	// controllerName is the GatewayClass's spec.controllerName (as installed).
	controllerName gatewayv1.GatewayController
	artifacts      string
	cleanups       []func()
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
	s := &suite{artifacts: e2eutil.ArtifactsDir("")}
	ctx = context.WithValue(ctx, suiteKey{}, s)
	c, cleanup, err := e2eutil.StartCluster(ctx, log)
	s.cleanups = append(s.cleanups, cleanup)
	if err != nil {
		return ctx, err
	}
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
	if err := e2eutil.InstallDefault(ctx, c.RESTConfig, fieldManager, nil); err != nil {
		return ctx, err
	}
	if err := s.waitController(ctx); err != nil {
		e2eutil.DumpPodLogs(ctx, log, s.cs, systemNS, "app.kubernetes.io/name="+controllerApp)
		return ctx, err
	}
	log.Info("config/default installed; controller ready and GatewayClass accepted", "took", time.Since(t1).Round(time.Millisecond))
	return ctx, nil
}

func finishSuite(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	if s, ok := ctx.Value(suiteKey{}).(*suite); ok {
		if s.cs != nil {
			log := e2eutil.StderrLogger(0).WithName("e2e")
			n := e2eutil.ReportRestarts(ctx, log, s.cs, systemNS, "app.kubernetes.io/name="+controllerApp)
			log.Info("controller restarts at the end of the suite (current pods)", "restarts", n)
		}
		if s.c != nil {
			s.c.Stop()
		}
		for _, f := range s.cleanups {
			f()
		}
	}
	return ctx, nil
}

// waitController waits until every controller replica is ready and the GatewayClass
// is Accepted for its current generation.
func (s *suite) waitController(ctx context.Context) error {
	if err := e2eutil.WaitRollout(ctx, s.cs, systemNS, controllerApp, 3*time.Minute); err != nil {
		return err
	}
	var gc gatewayv1.GatewayClass
	err := e2eutil.Poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Name: className}, &gc); err != nil {
			return false, nil
		}
		return e2eutil.CondIs(gc.Status.Conditions, string(gatewayv1.GatewayClassConditionStatusAccepted), gc.Generation), nil
	})
	if err != nil {
		return fmt.Errorf("GatewayClass %s not Accepted (conditions %v): %w", className, e2eutil.CondSummary(gc.Status.Conditions), err)
	}
	s.controllerName = gc.Spec.ControllerName
	return nil
}
