package provision

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/go-logr/logr/testr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

func testGateway() *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps", UID: "uid-1"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "nghttpx",
			Listeners: []gatewayv1.Listener{
				{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType},
				{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType},
				{Name: "http-2", Port: 80, Protocol: gatewayv1.HTTPProtocolType, Hostname: new(gatewayv1.Hostname("a.example"))},
			},
			Infrastructure: &gatewayv1.GatewayInfrastructure{
				Labels:      map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "blue", LabelGatewayName: "spoofed"},
				Annotations: map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{"example.com/cost-center": "42"},
			},
		},
	}
}

func newProvisioner(t *testing.T, objs ...client.Object) (*Provisioner, client.Client) {
	t.Helper()
	s, err := source.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithReturnManagedFields().Build()
	return &Provisioner{
		Client: c, Reader: c, Log: testr.New(t),
		Options: Options{Image: "example.com/ngxgw:v1", ServiceType: corev1.ServiceTypeLoadBalancer, HTTP3: true},
	}, c
}

func checkMeta(t *testing.T, o client.Object) {
	t.Helper()
	what := fmt.Sprintf("%T", o)
	if o.GetName() != "web-nghttpx" || o.GetNamespace() != "apps" {
		t.Errorf("%s name %s/%s", what, o.GetNamespace(), o.GetName())
	}
	l := o.GetLabels()
	if l["team"] != "blue" || l[LabelGatewayName] != "web" || l[LabelGatewayNamespace] != "apps" || l[LabelManagedBy] != ManagedBy {
		t.Errorf("%s labels %v", what, l)
	}
	if o.GetAnnotations()["example.com/cost-center"] != "42" {
		t.Errorf("%s annotations %v", what, o.GetAnnotations())
	}
	refs := o.GetOwnerReferences()
	if len(refs) != 1 || refs[0].Kind != "Gateway" || refs[0].Name != "web" || refs[0].UID != "uid-1" ||
		refs[0].Controller == nil || !*refs[0].Controller || refs[0].APIVersion != "gateway.networking.k8s.io/v1" {
		t.Errorf("%s owner references %+v", what, refs)
	}
}

func getAll(t *testing.T, c client.Client) (*corev1.ServiceAccount, *corev1.Service, *appsv1.Deployment) {
	t.Helper()
	key := types.NamespacedName{Namespace: "apps", Name: "web-nghttpx"}
	sa, svc, dep := &corev1.ServiceAccount{}, &corev1.Service{}, &appsv1.Deployment{}
	for _, o := range []client.Object{sa, svc, dep} {
		if err := c.Get(context.Background(), key, o); err != nil {
			t.Fatalf("get %T: %v", o, err)
		}
	}
	return sa, svc, dep
}

func TestEnsureBuildsObjects(t *testing.T) {
	p, c := newProvisioner(t)
	if err := p.Ensure(context.Background(), testGateway()); err != nil {
		t.Fatal(err)
	}
	sa, svc, dep := getAll(t, c)
	for _, o := range []client.Object{sa, svc, dep} {
		checkMeta(t, o)
	}

	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Errorf("service type %s", svc.Spec.Type)
	}
	var ports []string
	for _, sp := range svc.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s:%s/%d->%s", sp.Name, sp.Protocol, sp.Port, sp.TargetPort.String()))
	}
	wantPorts := []string{"tcp-80:TCP/80->80", "tcp-443:TCP/443->443", "udp-443:UDP/443->443"}
	if !slices.Equal(ports, wantPorts) {
		t.Errorf("service ports %v, want %v", ports, wantPorts)
	}
	sel := map[string]string{LabelGatewayName: "web", LabelGatewayNamespace: "apps"}
	if fmt.Sprint(svc.Spec.Selector) != fmt.Sprint(sel) {
		t.Errorf("service selector %v", svc.Spec.Selector)
	}

	spec := dep.Spec
	if fmt.Sprint(spec.Selector.MatchLabels) != fmt.Sprint(sel) {
		t.Errorf("deployment selector %v", spec.Selector.MatchLabels)
	}
	if spec.Replicas != nil {
		t.Errorf("replicas set to %d; must be left to the user", *spec.Replicas)
	}
	pod := spec.Template
	if pod.Labels["team"] != "blue" || pod.Labels[LabelGatewayName] != "web" || pod.Annotations["example.com/cost-center"] != "42" {
		t.Errorf("pod metadata %v %v", pod.Labels, pod.Annotations)
	}
	if pod.Spec.ServiceAccountName != "web-nghttpx" {
		t.Errorf("pod service account %q", pod.Spec.ServiceAccountName)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("containers %+v", pod.Spec.Containers)
	}
	ctr := pod.Spec.Containers[0]
	if ctr.Image != "example.com/ngxgw:v1" || len(ctr.Args) == 0 || ctr.Args[0] != "proxy" {
		t.Errorf("container image %s args %v", ctr.Image, ctr.Args)
	}
	for _, want := range []string{"--gateway-namespace=apps", "--gateway-name=web", "--admin-port=9901", "--http3=true"} {
		if !slices.Contains(ctr.Args, want) {
			t.Errorf("args %v lack %s", ctr.Args, want)
		}
	}
	if ctr.ReadinessProbe == nil || ctr.ReadinessProbe.HTTPGet == nil || ctr.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v", ctr.ReadinessProbe)
	}
	// Non-root, yet able to bind listener ports below 1024.
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || len(psc.Sysctls) != 1 ||
		psc.Sysctls[0].Name != "net.ipv4.ip_unprivileged_port_start" || psc.Sysctls[0].Value != "0" {
		t.Errorf("pod security context %+v", psc)
	}
}

func TestEnsureIsIdempotentAndFollowsChanges(t *testing.T) {
	p, c := newProvisioner(t)
	ctx := context.Background()
	gw := testGateway()
	if err := p.Ensure(ctx, gw); err != nil {
		t.Fatal(err)
	}
	if got := p.Counters().Applies.Load(); got != 3 {
		t.Fatalf("first Ensure applied %d objects, want 3", got)
	}
	_, svc0, dep0 := getAll(t, c)
	for range 3 {
		if err := p.Ensure(ctx, gw); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Counters().Applies.Load(); got != 3 {
		t.Errorf("unchanged Gateway caused %d more applies", got-3)
	}
	_, svc1, dep1 := getAll(t, c)
	if svc1.ResourceVersion != svc0.ResourceVersion || dep1.ResourceVersion != dep0.ResourceVersion {
		t.Errorf("objects rewritten: service rv %s -> %s, deployment rv %s -> %s",
			svc0.ResourceVersion, svc1.ResourceVersion, dep0.ResourceVersion, dep1.ResourceVersion)
	}

	// A changed infrastructure label and a new listener port reach the objects.
	gw.Spec.Infrastructure.Labels["team"] = "green"
	gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: "alt", Port: 8080, Protocol: gatewayv1.HTTPProtocolType})
	if err := p.Ensure(ctx, gw); err != nil {
		t.Fatal(err)
	}
	sa, svc, dep := getAll(t, c)
	if sa.Labels["team"] != "green" || svc.Labels["team"] != "green" || dep.Spec.Template.Labels["team"] != "green" {
		t.Errorf("label change not applied: %v %v %v", sa.Labels, svc.Labels, dep.Spec.Template.Labels)
	}
	if len(svc.Spec.Ports) != 4 {
		t.Errorf("new listener port not exposed: %+v", svc.Spec.Ports)
	}
}

func TestPrune(t *testing.T) {
	p, c := newProvisioner(t)
	ctx := context.Background()
	keep, gone := testGateway(), testGateway()
	gone.Name, gone.UID = "old", "uid-2"
	for _, g := range []*gatewayv1.Gateway{keep, gone} {
		if err := p.Ensure(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	// Something else's Deployment in the same namespace is never touched.
	other := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "apps", Labels: map[string]string{"app": "x"}}}
	if err := c.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := p.Prune(ctx, map[types.NamespacedName]bool{{Namespace: "apps", Name: "web"}: true}); err != nil {
		t.Fatal(err)
	}
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range deps.Items {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"app", "web-nghttpx"}) {
		t.Errorf("deployments after prune %v", names)
	}
	if p.Counters().Deletes.Load() != 3 {
		t.Errorf("deleted %d objects, want 3", p.Counters().Deletes.Load())
	}
}

func TestEnsureBinding(t *testing.T) {
	p, c := newProvisioner(t)
	ctx := context.Background()
	gws := []types.NamespacedName{{Namespace: "b", Name: "gw"}, {Namespace: "a", Name: "gw"}}
	if err := p.EnsureBinding(ctx, c, gws); err != nil {
		t.Fatal(err)
	}
	var crb rbacv1.ClusterRoleBinding
	if err := c.Get(ctx, types.NamespacedName{Name: ProxyClusterRole}, &crb); err != nil {
		t.Fatal(err)
	}
	if crb.RoleRef.Name != ProxyClusterRole || crb.RoleRef.Kind != "ClusterRole" {
		t.Errorf("roleRef %+v", crb.RoleRef)
	}
	var subs []string
	for _, s := range crb.Subjects {
		subs = append(subs, s.Kind+":"+s.Namespace+"/"+s.Name)
	}
	if !slices.Equal(subs, []string{"ServiceAccount:a/gw-nghttpx", "ServiceAccount:b/gw-nghttpx"}) {
		t.Errorf("subjects %v", subs)
	}
	applies := p.Counters().Applies.Load()
	p.Forget()
	if err := p.EnsureBinding(ctx, c, gws[:]); err != nil {
		t.Fatal(err)
	}
	if p.Counters().Applies.Load() != applies {
		t.Error("unchanged binding re-applied")
	}
	if err := p.EnsureBinding(ctx, c, gws[:1]); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, types.NamespacedName{Name: ProxyClusterRole}, &crb); err != nil {
		t.Fatal(err)
	}
	if len(crb.Subjects) != 1 || crb.Subjects[0].Namespace != "b" {
		t.Errorf("subjects after removal %+v", crb.Subjects)
	}
}

func TestNames(t *testing.T) {
	long := "a-very-long-gateway-name-that-goes-on-and-on-and-on-beyond-sixty-three-characters"
	cases := map[string]string{
		"web":        "web-nghttpx",
		"my.gateway": "",
		"1st":        "",
		long:         "",
	}
	seen := map[string]string{}
	for in, want := range cases {
		got := Name(in)
		if want != "" && got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
		if errs := validation.IsDNS1035Label(got); len(errs) > 0 {
			t.Errorf("Name(%q) = %q is not a DNS-1035 label: %v", in, got, errs)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("Name(%q) = Name(%q) = %q", in, prev, got)
		}
		seen[got] = in
	}
	if Name("my.gateway") == Name("my-gateway") {
		t.Error("sanitised names collide")
	}
	if v := LabelValue(long); len(validation.IsValidLabelValue(v)) > 0 || v == LabelValue(long+"x") {
		t.Errorf("LabelValue(%q) = %q", long, v)
	}
}
