//go:build e2e

package gateway

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// TestGRPCRoute: a GRPCRoute routes gRPC calls (h2c with prior knowledge) through
// a Gateway's data plane to echo-basic pods in gRPC mode, and is counted in the
// listener's attachedRoutes.
func TestGRPCRoute(t *testing.T) {
	f := features.New("grpcroute").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns := s.namespace(ctx, t, "e2e-grpc")
			d, svc := echoApp(ns, "grpc-echo", 1)
			c := &d.Spec.Template.Spec.Containers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: "GRPC_ECHO_SERVER", Value: "1"})
			c.ReadinessProbe.ProbeHandler = corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(3000)}}
			svc.Spec.Ports[0].AppProtocol = ptr.To("kubernetes.io/h2c")
			route := &gatewayv1.GRPCRoute{
				ObjectMeta: newRoute(ns, "grpc", "gw", "").ObjectMeta,
				Spec: gatewayv1.GRPCRouteSpec{
					CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
					Hostnames:       []gatewayv1.Hostname{"grpc.example"},
					Rules: []gatewayv1.GRPCRouteRule{{
						Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{
							Service: ptr.To("gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"), Method: ptr.To("Echo")}}},
						BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
							Name: "grpc-echo", Port: ptr.To(gatewayv1.PortNumber(echoPort))}}}},
					}},
				},
			}
			s.create(ctx, t, d, svc, newGateway(ns, "gw"), route)
			s.waitDeployment(ctx, t, ns, "grpc-echo", 1, 2*time.Minute)
			gw := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
			var r gatewayv1.GRPCRoute
			err := e2eutil.Poll(ctx, statusTimeout, func(ctx context.Context) (bool, error) {
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "grpc"}, &r); err != nil {
					return false, nil
				}
				for _, p := range r.Status.Parents {
					if p.ControllerName == s.controllerName && e2eutil.CondIs(p.Conditions, string(gatewayv1.RouteConditionAccepted), r.Generation) &&
						e2eutil.CondIs(p.Conditions, string(gatewayv1.RouteConditionResolvedRefs), r.Generation) {
						return true, nil
					}
				}
				return false, nil
			})
			if err != nil {
				t.Fatalf("GRPCRoute not Accepted+ResolvedRefs within %s: %+v", statusTimeout, r.Status.Parents)
			}
			return context.WithValue(ctx, scenarioKey{}, &scenario{ns: ns, gw: gw})
		}).
		Assess("gRPC calls reach the pods", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			conn, err := grpc.NewClient(gatewayAddr(t, sc.gw, 80),
				grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("grpc.example"),
				grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return s.c.DialContext(ctx, "tcp", addr) }))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			echo := pb.NewGrpcEchoClient(conn)
			var resp *pb.EchoResponse
			err = e2eutil.Poll(ctx, trafficTimeout, func(ctx context.Context) (bool, error) {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				resp, err = echo.Echo(cctx, &pb.EchoRequest{})
				return err == nil, nil
			})
			if err != nil {
				t.Fatalf("Echo through the Gateway: %v", err)
			}
			if p := resp.GetAssertions().GetContext().GetPod(); !strings.HasPrefix(p, "grpc-echo-") {
				t.Errorf("answered by pod %q", p)
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if _, err := echo.EchoTwo(cctx, &pb.EchoRequest{}); status.Code(err) != codes.Unimplemented {
				t.Errorf("EchoTwo (no rule): %v, want Unimplemented", err)
			}
			s.waitGateway(ctx, t, sc.ns, "gw", statusTimeout, "one attached route", func(g *gatewayv1.Gateway) bool {
				return len(g.Status.Listeners) == 1 && g.Status.Listeners[0].AttachedRoutes == 1
			})
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
