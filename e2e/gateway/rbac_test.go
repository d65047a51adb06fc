//go:build e2e

package gateway

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

const controllerUser = "system:serviceaccount:" + systemNS + ":nghttpx-gateway"

// access is one row of the can-i matrix: may user do verb on resource (named
// name, "" for any) in ns ("" for cluster-wide)?
type access struct {
	verb, group, resource, ns, name string
	want                            bool
}

func (a access) String() string {
	where := a.ns
	if where == "" {
		where = "(cluster)"
	}
	r := a.resource
	if a.group != "" {
		r = a.group + "/" + r
	}
	if a.name != "" {
		r += "/" + a.name
	}
	return fmt.Sprintf("%s %s in %s", a.verb, r, where)
}

// canI asks the API server's authorizer (a SubjectAccessReview, what `kubectl
// auth can-i --as` sends) whether user with groups may do a.
func (s *suite) canI(ctx context.Context, t *testing.T, user string, groups []string, a access) bool {
	t.Helper()
	r, err := s.cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: a.verb, Group: a.group, Resource: a.resource, Namespace: a.ns, Name: a.name,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview %s for %s: %v", a, user, err)
	}
	return r.Status.Allowed
}

// checkMatrix evaluates every row for user and logs the matrix.
func (s *suite) checkMatrix(ctx context.Context, t *testing.T, user string, groups []string, rows []access) {
	t.Helper()
	var b strings.Builder
	for _, a := range rows {
		got := s.canI(ctx, t, user, groups, a)
		mark := map[bool]string{true: "yes", false: "no"}[got]
		fmt.Fprintf(&b, "  %-3s %s\n", mark, a)
		if got != a.want {
			t.Errorf("%s: can %s = %v, want %v", user, a, got, a.want)
		}
	}
	t.Logf("can-i matrix for %s:\n%s", user, b.String())
}

// asController is a client that acts as the controller's ServiceAccount
// (impersonation), so admission sees the controller's username.
func (s *suite) asController(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(s.c.RESTConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: controllerUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + systemNS, "system:authenticated"}}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestLeastPrivilege: a Gateway's proxy can read exactly the Secrets its Gateway
// references (its own namespace, another namespace through a ReferenceGrant, its
// keys Secret), by name, and nothing else; the grant follows the references;
// nobody in the Gateway's namespace can read another namespace's Secret through
// what config/ installs; and the controller, though RBAC lets it write Secrets
// and RBAC objects anywhere, is kept by admission to the ones it owns.
func TestLeastPrivilege(t *testing.T) {
	type env struct{ gwNS, otherNS, host, xhost string }
	var e env
	proxyUser := func() string { return "system:serviceaccount:" + e.gwNS + ":" + dataPlaneName("gw") }
	f := features.New("least privilege").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			e.gwNS, e.otherNS = s.namespace(ctx, t, "e2e-rbac"), s.namespace(ctx, t, "e2e-rbac-other")
			e.host, e.xhost = "rbac.example", "shared.example"
			d, svc := echoApp(e.gwNS, "echo", 1)
			gw := newGateway(e.gwNS, "gw")
			gw.Spec.Listeners = []gatewayv1.Listener{httpsListener("tls"), httpsListener("xcert")}
			gw.Spec.Listeners[0].Hostname = ptr.To(gatewayv1.Hostname(e.host))
			gw.Spec.Listeners[1].Name, gw.Spec.Listeners[1].Port = "shared", 8443
			gw.Spec.Listeners[1].Hostname = ptr.To(gatewayv1.Hostname(e.xhost))
			gw.Spec.Listeners[1].TLS.CertificateRefs[0].Namespace = ptr.To(gatewayv1.Namespace(e.otherNS))
			grant := &gatewayv1beta1.ReferenceGrant{
				ObjectMeta: metav1.ObjectMeta{Namespace: e.otherNS, Name: "gateways"},
				Spec: gatewayv1beta1.ReferenceGrantSpec{
					From: []gatewayv1beta1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: gatewayv1.Namespace(e.gwNS)}},
					To:   []gatewayv1beta1.ReferenceGrantTo{{Kind: "Secret", Name: ptr.To(gatewayv1.ObjectName("xcert"))}},
				},
			}
			private := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.otherNS, Name: "private"}, StringData: map[string]string{"password": "x"}}
			s.create(ctx, t, d, svc, selfSigned(t, e.gwNS, "tls", e.host), selfSigned(t, e.otherNS, "xcert", e.xhost), private, grant, gw,
				newRoute(e.gwNS, "route", "gw", "", rule("/", "echo")))
			s.waitDeployment(ctx, t, e.gwNS, "echo", 1, 2*time.Minute)
			s.waitGateway(ctx, t, e.gwNS, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
			return ctx
		}).
		Assess("the proxy serves both certificates it may read", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			var gw gatewayv1.Gateway
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: e.gwNS, Name: "gw"}, &gw); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				secretNS, secret, host string
				port                   int
			}{{e.gwNS, "tls", e.host, 443}, {e.otherNS, "xcert", e.xhost, 8443}} {
				var sec corev1.Secret
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: c.secretNS, Name: c.secret}, &sec); err != nil {
					t.Fatal(err)
				}
				roots := x509.NewCertPool()
				blk, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
				want, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				roots.AddCert(want)
				addr := gatewayAddr(t, &gw, c.port)
				err = e2eutil.Poll(ctx, trafficTimeout, func(ctx context.Context) (bool, error) {
					status, cert, _, err := s.getTLS(ctx, addr, c.host, "/", roots)
					return err == nil && status == http.StatusOK && cert.Equal(want), nil
				})
				if err != nil {
					t.Errorf("https://%s (SNI %s) does not answer 200 with Secret %s/%s: %v", addr, c.host, c.secretNS, c.secret, err)
				}
			}
			return ctx
		}).
		Assess("the admin port's /status needs the Gateway's admin token", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			pods, err := e2eutil.Pods(ctx, s.cs, e.gwNS, dataPlaneSelector(e.gwNS, "gw"))
			if err != nil || len(pods) == 0 {
				t.Fatalf("data-plane pods: %d, %v", len(pods), err)
			}
			p := &pods[0]
			tok, err := e2eutil.AdminToken(ctx, s.cs, p)
			if err != nil || tok == "" {
				t.Fatalf("admin token: %q, %v", tok, err)
			}
			hc := &http.Client{Transport: &http.Transport{DialContext: s.c.DialContext}, Timeout: 5 * time.Second}
			ask := func(path, tok string) int {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Status.PodIP+":"+adminPort+path, nil)
				if tok != "" {
					req.Header.Set(keys.AdminTokenHeader, tok)
				}
				res, err := hc.Do(req)
				if err != nil {
					t.Fatalf("GET %s on pod %s: %v", path, p.Name, err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			for _, c := range []struct {
				path, tok string
				want      int
			}{{"/status", "", http.StatusUnauthorized}, {"/status", "guess", http.StatusUnauthorized}, {"/status", tok, http.StatusOK},
				{"/readyz", "", http.StatusOK}, {"/healthz", "", http.StatusOK}} {
				if got := ask(c.path, c.tok); got != c.want {
					t.Errorf("GET %s from inside the cluster (token %v): %d, want %d", c.path, c.tok != "", got, c.want)
				}
			}
			return ctx
		}).
		Assess("proxy can-i matrix", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			keys := provision.KeysName("gw")
			rows := []access{
				// Exactly what the Gateway references, by name (list/watch with
				// field selector metadata.name is what the proxy sends).
				{"list", "", "secrets", e.gwNS, "tls", true}, {"watch", "", "secrets", e.gwNS, "tls", true},
				{"list", "", "secrets", e.gwNS, keys, true}, {"watch", "", "secrets", e.gwNS, keys, true},
				{"list", "", "secrets", e.otherNS, "xcert", true}, {"watch", "", "secrets", e.otherNS, "xcert", true},
				// Nothing else.
				{"get", "", "secrets", e.gwNS, "tls", false},
				{"list", "", "secrets", e.gwNS, "", false}, {"watch", "", "secrets", e.gwNS, "", false},
				{"list", "", "secrets", e.otherNS, "private", false}, {"list", "", "secrets", e.otherNS, "", false},
				{"list", "", "secrets", "", "", false}, {"watch", "", "secrets", "", "", false},
				{"list", "", "secrets", systemNS, "", false},
				{"list", "", "configmaps", "", "", false}, {"list", "", "configmaps", e.otherNS, "", false},
				{"create", "", "secrets", e.gwNS, "", false}, {"update", "", "secrets", e.gwNS, keys, false},
				{"create", "", "serviceaccounts/token", e.gwNS, dataPlaneName("gw"), false},
				{"create", "", "pods", e.gwNS, "", false},
				// What every proxy still reads cluster-wide (routes and backends
				// may be anywhere), none of it secret.
				{"list", "gateway.networking.k8s.io", "httproutes", "", "", true},
				{"list", "gateway.networking.k8s.io", "grpcroutes", "", "", true},
				{"watch", "gateway.networking.k8s.io", "grpcroutes", "", "", true},
				{"watch", "", "services", "", "", true},
				{"list", "discovery.k8s.io", "endpointslices", "", "", true},
			}
			s.checkMatrix(ctx, t, proxyUser(), []string{"system:serviceaccounts", "system:serviceaccounts:" + e.gwNS, "system:authenticated"}, rows)
			return ctx
		}).
		Assess("the Gateway namespace's default ServiceAccount reads no Secret elsewhere", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			user := "system:serviceaccount:" + e.gwNS + ":default"
			groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + e.gwNS, "system:authenticated"}
			var rows []access
			for _, ns := range []string{e.otherNS, systemNS, e.gwNS, ""} {
				for _, verb := range []string{"get", "list", "watch"} {
					rows = append(rows, access{verb, "", "secrets", ns, "", false})
				}
				rows = append(rows, access{"get", "", "secrets", ns, "xcert", false}, access{"list", "", "secrets", ns, "xcert", false},
					access{"list", "", "configmaps", ns, "", false})
			}
			rows = append(rows, access{"impersonate", "", "serviceaccounts", e.gwNS, dataPlaneName("gw"), false},
				access{"create", "", "serviceaccounts/token", e.gwNS, dataPlaneName("gw"), false})
			s.checkMatrix(ctx, t, user, groups, rows)
			return ctx
		}).
		Assess("no group binding hands the system namespace's ServiceAccounts its ConfigMaps", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			s.checkMatrix(ctx, t, "system:serviceaccount:"+systemNS+":anything",
				[]string{"system:serviceaccounts", "system:serviceaccounts:" + systemNS, "system:authenticated"},
				[]access{{"list", "", "configmaps", systemNS, "", false}, {"list", "", "secrets", systemNS, "", false}})
			return ctx
		}).
		Assess("controller can-i matrix and admission", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + systemNS, "system:authenticated"}
			s.checkMatrix(ctx, t, controllerUser, groups, []access{
				// Reads every Secret (certificates) and writes Secrets anywhere as
				// far as RBAC goes; admission narrows the writes (below).
				{"list", "", "secrets", "", "", true}, {"get", "", "secrets", e.otherNS, "private", false},
				{"create", "", "secrets", e.otherNS, "", true}, {"patch", "", "secrets", e.otherNS, "private", false},
				{"create", "rbac.authorization.k8s.io", "roles", e.otherNS, "", true},
				{"create", "rbac.authorization.k8s.io", "rolebindings", e.otherNS, "", true},
				{"escalate", "rbac.authorization.k8s.io", "roles", e.otherNS, "", false},
				{"bind", "rbac.authorization.k8s.io", "roles", e.otherNS, "", false},
				{"create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", false},
				{"create", "rbac.authorization.k8s.io", "clusterroles", "", "", false},
				{"patch", "rbac.authorization.k8s.io", "clusterrolebindings", "", "nghttpx-gateway-proxy", true},
				{"patch", "rbac.authorization.k8s.io", "clusterrolebindings", "", "nghttpx-gateway-controller", false},
				{"create", "", "pods", e.gwNS, "", false}, {"create", "", "serviceaccounts/token", e.gwNS, "", false},
				{"impersonate", "", "serviceaccounts", "", "", false},
				{"create", "apps", "deployments", e.otherNS, "", true},
				{"list", "gateway.networking.k8s.io", "grpcroutes", "", "", true},
				{"create", "gateway.networking.k8s.io", "grpcroutes", e.otherNS, "", false},
			})
			cs := s.asController(t)
			dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
			denied := func(what string, err error) {
				t.Helper()
				// RBAC allows each of these; the denial must come from our policies.
				if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'nghttpx-gateway-controller-") {
					t.Errorf("as the controller, %s: err %v, want a denial by a nghttpx-gateway admission policy", what, err)
				} else {
					t.Logf("as the controller, %s: denied: %v", what, err)
				}
			}
			_, err := cs.CoreV1().Secrets(e.otherNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "planted"}}, dry)
			denied("create Secret "+e.otherNS+"/planted", err)
			_, err = cs.CoreV1().Secrets(e.gwNS).Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "x-nghttpx-keys", Labels: map[string]string{provision.LabelManagedBy: provision.ManagedBy, provision.LabelKeys: "true"},
					Annotations: map[string]string{corev1.ServiceAccountNameKey: dataPlaneName("gw")}},
				Type: corev1.SecretTypeServiceAccountToken}, dry)
			denied("mint a ServiceAccount token Secret", err)
			err = cs.CoreV1().Secrets(e.otherNS).Delete(ctx, "private", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
			denied("delete Secret "+e.otherNS+"/private", err)
			_, err = cs.RbacV1().Roles(e.otherNS).Create(ctx, &rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Name: "nghttpx-proxy.x.y-nghttpx", Labels: map[string]string{provision.LabelManagedBy: provision.ManagedBy, provision.LabelAccess: "true"}},
				Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list", "watch"}}},
			}, dry)
			denied("grant list on every Secret of "+e.otherNS, err)
			_, err = cs.RbacV1().RoleBindings(e.otherNS).Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "nghttpx-proxy." + e.gwNS + ".default", Labels: map[string]string{provision.LabelManagedBy: provision.ManagedBy, provision.LabelAccess: "true"}},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: provision.AccessName(types.NamespacedName{Namespace: e.gwNS, Name: "gw"})},
				Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: e.gwNS, Name: "default"}},
			}, dry)
			denied("bind a proxy grant to "+e.gwNS+"/default", err)
			crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "nghttpx-gateway-proxy", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("as the controller, get the proxies' ClusterRoleBinding: %v", err)
			}
			subjects, _ := json.Marshal(map[string]any{"subjects": append(crb.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Namespace: e.gwNS, Name: "default"})})
			_, err = cs.RbacV1().ClusterRoleBindings().Patch(ctx, crb.Name, types.MergePatchType, subjects, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
			denied("add "+e.gwNS+"/default to the proxies' ClusterRoleBinding", err)
			dep, _ := echoApp(e.otherNS, "planted", 1)
			_, err = cs.AppsV1().Deployments(e.otherNS).Create(ctx, dep, dry)
			denied("create a Deployment not owned by a Gateway", err)
			// What it does own still goes through: its keys Secret, rotated.
			var keysSecret corev1.Secret
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: e.gwNS, Name: provision.KeysName("gw")}, &keysSecret); err != nil {
				t.Fatalf("keys Secret: %v", err)
			}
			keysSecret.Annotations["e2e.nghttpx.dev/touched"] = "1"
			if _, err := cs.CoreV1().Secrets(e.gwNS).Update(ctx, &keysSecret, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				t.Errorf("as the controller, update of its own keys Secret: %v", err)
			}
			return ctx
		}).
		Assess("the grant follows the references", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			name := provision.AccessName(types.NamespacedName{Namespace: e.gwNS, Name: "gw"})
			for _, o := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}} {
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: e.otherNS, Name: name}, o); err != nil {
					t.Fatalf("access %T %s/%s: %v", o, e.otherNS, name, err)
				}
			}
			// Drop the cross-namespace listener: its grant goes away.
			var gw gatewayv1.Gateway
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: e.gwNS, Name: "gw"}, &gw); err != nil {
				t.Fatal(err)
			}
			gw.Spec.Listeners = gw.Spec.Listeners[:1]
			if err := s.cl.Update(ctx, &gw); err != nil {
				t.Fatal(err)
			}
			err := e2eutil.Poll(ctx, statusTimeout, func(ctx context.Context) (bool, error) {
				err := s.cl.Get(ctx, client.ObjectKey{Namespace: e.otherNS, Name: name}, &rbacv1.Role{})
				return apierrors.IsNotFound(err), nil
			})
			if err != nil {
				t.Fatalf("the access Role in %s outlived the reference: %v", e.otherNS, err)
			}
			if s.canI(ctx, t, proxyUser(), nil, access{verb: "list", resource: "secrets", ns: e.otherNS, name: "xcert"}) {
				t.Errorf("the proxy can still list %s/xcert after its Gateway stopped referencing it", e.otherNS)
			}
			s.waitGateway(ctx, t, e.gwNS, "gw", gatewayTimeout, "Programmed again", gatewayReady)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
