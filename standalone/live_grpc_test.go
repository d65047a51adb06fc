//go:build integration

package standalone_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// The gRPC live test sends real grpc-go calls through nghttpx, configured from
// GRPCRoutes by the standalone runner, to grpc-go servers speaking h2c.

const grpcEchoService = "test.echo.v1.Echo"

// grpcEcho is a grpc-go server with the health service and a small echo
// service whose requests say what to do:
//
//	"fail:<code>"  answers with that status code (and trailers)
//	"sleep:<ms>"   answers after that long, or when the call ends
//	anything else  answers "<pod> <request> <x-route header>"
//
// Every answer carries the header x-pod and the trailer x-trailer.
type grpcEcho struct {
	pod  string
	port int
}

func startGRPCEcho(t *testing.T, pod string, opts ...grpc.ServerOption) *grpcEcho {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &grpcEcho{pod: pod, port: ln.Addr().(*net.TCPAddr).Port}
	s := grpc.NewServer(opts...)
	hs := health.NewServer()
	hs.SetServingStatus(grpcEchoService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: grpcEchoService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Unary", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := &wrapperspb.StringValue{}
			if err := dec(in); err != nil {
				return nil, err
			}
			return e.unary(ctx, in.Value)
		}}},
		Streams: []grpc.StreamDesc{{StreamName: "Count", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			in := &wrapperspb.StringValue{}
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			n, _ := strconv.Atoi(in.Value)
			if err := ss.SetHeader(metadata.Pairs("x-pod", e.pod)); err != nil {
				return err
			}
			for i := range n {
				if err := ss.SendMsg(wrapperspb.String(fmt.Sprintf("%s %d", e.pod, i))); err != nil {
					return err
				}
			}
			ss.SetTrailer(metadata.Pairs("x-trailer", "sent "+strconv.Itoa(n)))
			return nil
		}}},
	}, nil)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return e
}

func (e *grpcEcho) unary(ctx context.Context, req string) (any, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-pod", e.pod))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "from "+e.pod))
	switch {
	case strings.HasPrefix(req, "fail:"):
		c, _ := strconv.Atoi(strings.TrimPrefix(req, "fail:"))
		return nil, status.Errorf(codes.Code(c), "%s failed on purpose", e.pod)
	case strings.HasPrefix(req, "sleep:"):
		ms, _ := strconv.Atoi(strings.TrimPrefix(req, "sleep:"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return wrapperspb.String(fmt.Sprintf("%s %s %s", e.pod, req, strings.Join(md.Get("x-route"), ","))), nil
}

// grpcServiceYAML is a Service whose port has appProtocol (h2c when set) and
// one EndpointSlice per server.
func grpcServiceYAML(name, appProtocol string, servers ...*grpcEcho) string {
	var b strings.Builder
	ap := ""
	if appProtocol != "" {
		ap = ", appProtocol: " + appProtocol
	}
	fmt.Fprintf(&b, `apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: grpc, port: 8080%s}]
`, name, ap)
	for _, s := range servers {
		fmt.Fprintf(&b, `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %s-%s
  namespace: default
  labels: {kubernetes.io/service-name: %s}
addressType: IPv4
ports: [{name: grpc, port: %d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, name, s.pod, name, s.port)
	}
	return b.String()
}

// backendTLSYAML verifies Service secure against caPEM for secure.grpc.test.
func backendTLSYAML(caPEM []byte) string {
	var ca strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(caPEM)), "\n") {
		ca.WriteString("    " + line + "\n")
	}
	return `---
apiVersion: v1
kind: ConfigMap
metadata: {name: secure-ca, namespace: default}
data:
  ca.crt: |
` + ca.String() + `---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: secure, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: secure}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: secure-ca}]
    hostname: secure.grpc.test
`
}

const grpcRouteYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.example]
  rules:
  - matches:
    - method: {service: test.echo.v1.Echo, method: Unary}
      headers: [{name: version, value: two}]
    backendRefs: [{name: two, port: 8080}]
  - matches:
    - method: {service: test.echo.v1.Echo, method: Unary}
      headers: [{name: backend, value: tls}]
    backendRefs: [{name: secure, port: 8080}]
  - matches:
    - method: {service: test.echo.v1.Echo, method: Unary}
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-route, value: unary}]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: x-gateway, value: nghttpx}]}
    backendRefs: [{name: one, port: 8080}]
  - matches:
    - method: {service: test.echo.v1.Echo}
    backendRefs: [{name: plain, port: 8080}]
  - matches:
    - method: {service: grpc.health.v1.Health}
    backendRefs: [{name: one, port: 8080}]
  - matches:
    - method: {service: test.missing.v1.Gone}
    backendRefs: [{name: gone, port: 8080}]
  - matches:
    - method: {service: test.split.v1.Split}
    backendRefs: [{name: one, port: 8080, weight: 1}, {name: gone, port: 8080, weight: 1}]
`

func TestLiveGRPC(t *testing.T) {
	one, two, plain := startGRPCEcho(t, "one"), startGRPCEcho(t, "two"), startGRPCEcho(t, "plain")
	// A TLS backend: h2 over TLS, verified through a BackendTLSPolicy.
	pair, err := selfsigned.Named("grpc backend", "secure.grpc.test")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	secure := startGRPCEcho(t, "secure", grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	l := &live{t: t, dir: t.TempDir(), echo: map[string]*testenv.Echo{}, appliers: map[string]*apply.Applier{}}
	l.port = testenv.FreePort(t)
	// BackendTLSPolicy CAs need the backend TLS verification patch.
	feat, err := features.Detect(context.Background(), testenv.NghttpxBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if !feat.BackendTLSVerify {
		t.Fatal("nghttpx lacks the backend TLS verification patch; build it with make nghttpx")
	}
	l.features.BackendTLSVerify = true
	l.write("gateway.yaml", gatewayYAML(l.port))
	l.write("one.yaml", grpcServiceYAML("one", "kubernetes.io/h2c", one))
	l.write("two.yaml", grpcServiceYAML("two", "kubernetes.io/h2c", two))
	// No appProtocol: the GRPCRoute still reaches it over h2.
	l.write("plain.yaml", grpcServiceYAML("plain", "", plain))
	l.write("secure.yaml", grpcServiceYAML("secure", "", secure)+backendTLSYAML(pair.CertPEM))
	l.write("route.yaml", grpcRouteYAML)
	l.start(context.Background())

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", l.port),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("grpc.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	unary := func(ctx context.Context, req string, md ...string) (string, metadata.MD, metadata.MD, error) {
		var hdr, trl metadata.MD
		out := &wrapperspb.StringValue{}
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
		err := conn.Invoke(ctx, "/"+grpcEchoService+"/Unary", wrapperspb.String(req), out, grpc.Header(&hdr), grpc.Trailer(&trl))
		return out.Value, hdr, trl, err
	}
	ctx := context.Background()
	eventually(t, "the GRPCRoute serves", 15*time.Second, func() error {
		got, _, _, err := unary(ctx, "hi")
		if err != nil {
			return err
		}
		if got != "one hi unary" {
			return fmt.Errorf("answer %q", got)
		}
		return nil
	})
	l.applier()

	t.Run("unary with header filters, headers and trailers", func(t *testing.T) {
		got, hdr, trl, err := unary(ctx, "hello")
		if err != nil || got != "one hello unary" {
			t.Fatalf("got %q, %v; want %q", got, err, "one hello unary")
		}
		if v := hdr.Get("x-pod"); len(v) != 1 || v[0] != "one" {
			t.Errorf("header x-pod %v", v)
		}
		if v := hdr.Get("x-gateway"); len(v) != 1 || v[0] != "nghttpx" {
			t.Errorf("response header x-gateway %v, want [nghttpx] from the ResponseHeaderModifier", v)
		}
		if v := trl.Get("x-trailer"); len(v) != 1 || v[0] != "from one" {
			t.Errorf("trailer x-trailer %v, want [from one]", v)
		}
	})
	t.Run("TLS backend with BackendTLSPolicy", func(t *testing.T) {
		got, hdr, trl, err := unary(ctx, "hello", "backend", "tls")
		if err != nil || got != "secure hello " {
			t.Fatalf("got %q, %v; want %q", got, err, "secure hello ")
		}
		if v := trl.Get("x-trailer"); len(v) != 1 || v[0] != "from secure" {
			t.Errorf("trailer x-trailer %v (headers %v)", v, hdr)
		}
		_, _, _, err = unary(ctx, "fail:14", "backend", "tls")
		if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "secure failed on purpose" {
			t.Errorf("backend UNAVAILABLE over TLS: %v", err)
		}
	})
	t.Run("header match picks another backend", func(t *testing.T) {
		got, _, _, err := unary(ctx, "hello", "version", "two")
		if err != nil || got != "two hello " {
			t.Fatalf("got %q, %v; want %q", got, err, "two hello ")
		}
	})
	t.Run("status codes and trailers of failed calls pass through", func(t *testing.T) {
		for _, c := range []codes.Code{codes.InvalidArgument, codes.NotFound, codes.Unavailable, codes.Internal} {
			_, _, trl, err := unary(ctx, fmt.Sprintf("fail:%d", c))
			st := status.Convert(err)
			if st.Code() != c || st.Message() != "one failed on purpose" {
				t.Errorf("fail:%d: got %v %q", c, st.Code(), st.Message())
			}
			if v := trl.Get("x-trailer"); len(v) != 1 || v[0] != "from one" {
				t.Errorf("fail:%d: trailer x-trailer %v", c, v)
			}
		}
	})
	t.Run("deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, _, err := unary(dctx, "sleep:5000")
		if c := status.Code(err); c != codes.DeadlineExceeded {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("deadline took %s", d)
		}
		// The server saw the deadline too (grpc-timeout passed through): a
		// call within it succeeds.
		dctx2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
		defer cancel2()
		if got, _, _, err := unary(dctx2, "sleep:100"); err != nil || got != "one sleep:100 unary" {
			t.Errorf("within the deadline: %q, %v", got, err)
		}
	})
	t.Run("server streaming", func(t *testing.T) {
		for _, path := range []string{"/" + grpcEchoService + "/Count"} {
			s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, path)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendMsg(wrapperspb.String("50")); err != nil {
				t.Fatal(err)
			}
			if err := s.CloseSend(); err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				m := &wrapperspb.StringValue{}
				err := s.RecvMsg(m)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after %d messages: %v", n, err)
				}
				// Service-only match: the plain Service (no appProtocol) over h2.
				if want := fmt.Sprintf("plain %d", n); m.Value != want {
					t.Fatalf("message %d: %q, want %q", n, m.Value, want)
				}
				n++
			}
			if n != 50 {
				t.Errorf("%d messages, want 50", n)
			}
			if v := s.Trailer().Get("x-trailer"); len(v) != 1 || v[0] != "sent 50" {
				t.Errorf("stream trailer %v", v)
			}
		}
	})
	t.Run("health service", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: grpcEchoService})
		if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health: %v, %v", resp, err)
		}
	})
	t.Run("invalid backend answers UNAVAILABLE", func(t *testing.T) {
		err := conn.Invoke(ctx, "/test.missing.v1.Gone/Any", wrapperspb.String("x"), &wrapperspb.StringValue{})
		if c := status.Code(err); c != codes.Unavailable {
			t.Fatalf("got %v, want Unavailable", err)
		}
		// Half the traffic of a split with an invalid backend.
		seen := map[codes.Code]int{}
		for range 40 {
			err := conn.Invoke(ctx, "/test.split.v1.Split/Any", wrapperspb.String("x"), &wrapperspb.StringValue{})
			seen[status.Code(err)]++
		}
		// "one" has no Split service: Unimplemented comes from the server.
		if seen[codes.Unavailable] == 0 || seen[codes.Unimplemented] == 0 || seen[codes.Unavailable]+seen[codes.Unimplemented] != 40 {
			t.Errorf("split outcomes %v, want Unavailable and Unimplemented only", seen)
		}
	})
	t.Run("unmatched method", func(t *testing.T) {
		err := conn.Invoke(ctx, "/other.Service/Method", wrapperspb.String("x"), &wrapperspb.StringValue{})
		if c := status.Code(err); c != codes.Unimplemented {
			// nghttpx answers 404 without a route; gRPC reads it as Unimplemented.
			t.Fatalf("got %v, want Unimplemented", err)
		}
	})
}

// TestLiveGRPCOverTLS: a GRPCRoute on an HTTPS listener serves gRPC clients that
// negotiate h2 by ALPN, as the spec requires of HTTPS listeners.
func TestLiveGRPCOverTLS(t *testing.T) {
	one := startGRPCEcho(t, "one")
	pair, err := selfsigned.New("grpc.example")
	if err != nil {
		t.Fatal(err)
	}
	l := &live{t: t, dir: t.TempDir(), echo: map[string]*testenv.Echo{}, appliers: map[string]*apply.Applier{}}
	l.port = testenv.FreePort(t)
	indent := func(pem []byte) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n    ") + "\n"
	}
	l.write("gateway.yaml", gatewayYAML()+fmt.Sprintf(`---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nghttpx
  listeners:
  - name: https
    protocol: HTTPS
    port: %d
    tls: {certificateRefs: [{name: cert}]}
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s  tls.key: |
%s`, l.port, indent(pair.CertPEM), indent(pair.KeyPEM)))
	l.write("one.yaml", grpcServiceYAML("one", "kubernetes.io/h2c", one))
	l.write("route.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.example]
  rules:
  - backendRefs: [{name: one, port: 8080}]
`)
	l.start(context.Background())

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pair.CertPEM) {
		t.Fatal("bad certificate")
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "grpc.example", MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", l.port), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually(t, "the GRPCRoute serves over TLS", 15*time.Second, func() error {
		var trl metadata.MD
		out := &wrapperspb.StringValue{}
		if err := conn.Invoke(context.Background(), "/"+grpcEchoService+"/Unary", wrapperspb.String("tls"), out, grpc.Trailer(&trl)); err != nil {
			return err
		}
		if out.Value != "one tls " || len(trl.Get("x-trailer")) != 1 {
			return fmt.Errorf("answer %q, trailers %v", out.Value, trl)
		}
		return nil
	})
}
