//go:build integration

package standalone_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// TestLiveGRPCEcho runs the situations of the GATEWAY-GRPC conformance tests
// (exact method matching, header matching, listener hostnames, weights) through
// the standalone runner and real nghttpx against the conformance echo server in
// its gRPC mode, the backend the suite itself uses.

// startGRPCEchoBasic runs echo-basic as a gRPC server reporting pod.
func startGRPCEchoBasic(t *testing.T, pod string) int {
	t.Helper()
	port := testenv.FreePort(t)
	cmd := exec.Command(testenv.EchoBin(t))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GRPC_ECHO_SERVER=1", "HTTP_PORT="+strconv.Itoa(port), "POD_NAME="+pod, "NAMESPACE=infra")
	p := testenv.Start(t, "grpc echo "+pod, cmd)
	testenv.WaitTCP(t, p, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	return port
}

func echoServiceYAML(name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: default}
spec:
  ports: [{name: grpc, port: 8080, appProtocol: kubernetes.io/h2c}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[1]s
  namespace: default
  labels: {kubernetes.io/service-name: %[1]s}
addressType: IPv4
ports: [{name: grpc, port: %[2]d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, name, port)
}

func TestLiveGRPCEcho(t *testing.T) {
	l := &live{t: t, dir: t.TempDir(), echo: map[string]*testenv.Echo{}, appliers: map[string]*apply.Applier{}}
	for _, v := range []string{"v1", "v2", "v3"} {
		l.write(v+".yaml", echoServiceYAML("backend-"+v, startGRPCEchoBasic(t, "backend-"+v+"-pod")))
	}
	ports := testenv.FreePorts(t, 2)
	plain, named := ports[0], ports[1]
	l.port = plain
	l.write("gateway.yaml", gatewayYAML()+fmt.Sprintf(`---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nghttpx
  listeners:
  - {name: plain, protocol: HTTP, port: %[1]d}
  - {name: bar, protocol: HTTP, port: %[2]d, hostname: bar.com}
  - {name: foo-bar, protocol: HTTP, port: %[2]d, hostname: foo.bar.com}
  - {name: any-bar, protocol: HTTP, port: %[2]d, hostname: "*.bar.com"}
  - {name: any-foo, protocol: HTTP, port: %[2]d, hostname: "*.foo.com"}
`, plain, named))
	l.write("routes.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: exact, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: plain}]
  hostnames: [exact.test]
  rules:
  - matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: Echo}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - name: two
    matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: EchoTwo}}]
    backendRefs: [{name: backend-v2, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: headers, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: plain}]
  hostnames: [headers.test]
  rules:
  - matches: [{headers: [{name: version, value: one}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{headers: [{name: color, value: blue}]}, {headers: [{name: color, value: green}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{headers: [{name: color, value: red}]}, {headers: [{name: color, value: yellow}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: weights, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: plain}]
  hostnames: [weights.test]
  rules:
  - backendRefs:
    - {name: backend-v1, port: 8080, weight: 70}
    - {name: backend-v2, port: 8080, weight: 30}
    - {name: backend-v3, port: 8080, weight: 0}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: on-bar, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: bar}]
  rules: [{backendRefs: [{name: backend-v1, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: on-foo-bar, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: foo-bar}]
  rules: [{backendRefs: [{name: backend-v2, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: on-wildcards, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: any-bar}, {name: gw, sectionName: any-foo}]
  rules: [{backendRefs: [{name: backend-v3, port: 8080}]}]
`)
	l.start(context.Background())

	conns := map[string]*grpc.ClientConn{}
	conn := func(port int, authority string) *grpc.ClientConn {
		k := fmt.Sprintf("%d/%s", port, authority)
		if c := conns[k]; c != nil {
			return c
		}
		c, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port),
			grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(authority))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[k] = c
		return c
	}
	// call returns the answering pod's backend ("backend-v1", ...) or the code.
	call := func(port int, authority, method string, md ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
		c := pb.NewGrpcEchoClient(conn(port, authority))
		var resp *pb.EchoResponse
		var err error
		switch method {
		case "Echo":
			resp, err = c.Echo(ctx, &pb.EchoRequest{})
		case "EchoTwo":
			resp, err = c.EchoTwo(ctx, &pb.EchoRequest{})
		default:
			resp, err = c.EchoThree(ctx, &pb.EchoRequest{})
		}
		if err != nil {
			return "", err
		}
		a := resp.GetAssertions()
		if want := "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/" + method; a.GetFullyQualifiedMethod() != want {
			return "", fmt.Errorf("backend saw method %q, want %q", a.GetFullyQualifiedMethod(), want)
		}
		return strings.TrimSuffix(a.GetContext().GetPod(), "-pod"), nil
	}
	expect := func(t *testing.T, port int, authority, method, want string, md ...string) {
		t.Helper()
		eventually(t, fmt.Sprintf("%s %s %v", authority, method, md), 15*time.Second, func() error {
			got, err := call(port, authority, method, md...)
			if strings.HasPrefix(want, "code ") {
				if c := status.Code(err); c.String() != strings.TrimPrefix(want, "code ") {
					return fmt.Errorf("got %q, %v; want %s", got, err, want)
				}
				return nil
			}
			if err != nil || got != want {
				return fmt.Errorf("got %q, %v; want %s", got, err, want)
			}
			return nil
		})
	}

	t.Run("exact method matching", func(t *testing.T) {
		expect(t, plain, "exact.test", "Echo", "backend-v1")
		expect(t, plain, "exact.test", "EchoTwo", "backend-v2")
		expect(t, plain, "exact.test", "EchoThree", "code "+codes.Unimplemented.String())
	})
	t.Run("header matching", func(t *testing.T) {
		for _, c := range []struct {
			want string
			md   []string
		}{
			{"backend-v1", []string{"version", "one"}},
			{"backend-v2", []string{"version", "two"}},
			{"backend-v1", []string{"version", "two", "color", "orange"}},
			{"backend-v1", []string{"color", "blue"}},
			{"backend-v1", []string{"color", "green"}},
			{"backend-v2", []string{"color", "red"}},
			{"backend-v2", []string{"color", "yellow"}},
			{"code Unimplemented", []string{"color", "purple"}},
			{"code Unimplemented", nil},
		} {
			expect(t, plain, "headers.test", "Echo", c.want, c.md...)
		}
	})
	t.Run("listener hostname matching", func(t *testing.T) {
		expect(t, named, "bar.com", "Echo", "backend-v1")
		expect(t, named, "foo.bar.com", "Echo", "backend-v2")
		expect(t, named, "baz.bar.com", "Echo", "backend-v3")
		expect(t, named, "boo.bar.com", "Echo", "backend-v3")
		expect(t, named, "multiple.prefixes.bar.com", "Echo", "backend-v3")
		expect(t, named, "multiple.prefixes.foo.com", "Echo", "backend-v3")
		expect(t, named, "foo.com", "Echo", "code Unimplemented")
		expect(t, named, "no.matching.host", "Echo", "code Unimplemented")
	})
	t.Run("weights", func(t *testing.T) {
		expect(t, plain, "weights.test", "Echo", "backend-v1")
		seen := map[string]int{}
		const n = 500
		for range n {
			got, err := call(plain, "weights.test", "Echo")
			if err != nil {
				t.Fatal(err)
			}
			seen[got]++
		}
		// 70/30 within ±8 points; the weight-0 backend never.
		if seen["backend-v3"] != 0 || seen["backend-v1"] < n*62/100 || seen["backend-v1"] > n*78/100 || seen["backend-v1"]+seen["backend-v2"] != n {
			t.Errorf("distribution %v over %d calls, want about 70/30 and no backend-v3", seen, n)
		}
		t.Logf("distribution over %d calls: %v", n, seen)
	})
}
