//go:build conformance

package conformance

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"
	"sigs.k8s.io/gateway-api/apis/v1alpha3"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/flags"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// gatewayNameLabel marks the data-plane objects kube/provision creates per Gateway.
const gatewayNameLabel = "gateway.nghttpx.dev/gateway-name"

// baseNamespaces hold the suite's base manifests.
func baseNamespaces() []string {
	return []string{suite.InfrastructureNamespace, suite.AppBackendNamespace, suite.WebBackendNamespace}
}

func newScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme,
		gatewayv1.Install, gatewayv1beta1.Install, v1alpha2.Install, v1alpha3.Install, xv1alpha1.Install,
	} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// timeouts are the suite's defaults stretched for 2 shared cores (a Gateway is a
// Deployment whose pod runs nghttpx), then CONFORMANCE_TIMEOUTS on top; the
// suite's own -timeout-config-overrides flag still wins.
func timeouts(overrides string) config.TimeoutConfig {
	tc := config.DefaultTimeoutConfig()
	tc.CreateTimeout = 120 * time.Second
	tc.DeleteTimeout = 30 * time.Second
	tc.GetTimeout = 30 * time.Second
	tc.GatewayMustHaveAddress = 300 * time.Second
	tc.GatewayMustHaveCondition = 300 * time.Second
	tc.GatewayStatusMustHaveListeners = 120 * time.Second
	tc.GatewayListenersMustHaveConditions = 120 * time.Second
	tc.ListenerSetMustHaveCondition = 300 * time.Second
	tc.ListenerSetListenersMustHaveConditions = 120 * time.Second
	tc.GWCMustBeAccepted = 300 * time.Second
	tc.HTTPRouteMustNotHaveParents = 120 * time.Second
	tc.HTTPRouteMustHaveCondition = 120 * time.Second
	tc.RouteMustHaveParents = 120 * time.Second
	tc.MaxTimeToConsistency = 60 * time.Second
	tc.NamespacesMustBeReady = 600 * time.Second
	tc.LatestObservedGenerationSet = 120 * time.Second
	tc.DefaultTestTimeout = 120 * time.Second
	config.ParseTimeoutOverrides(&tc, overrides)
	return tc
}

// profiles are the conformance profiles a run covers.
var profiles = []suite.ConformanceProfile{suite.GatewayHTTPConformanceProfile, suite.GatewayGRPCConformanceProfile}

// supportedFeatures is nil (infer from GatewayClass status.supportedFeatures), every
// feature of our profiles for "all", or the given list.
func supportedFeatures(spec string) []features.FeatureName {
	switch spec {
	case "":
		return nil
	case "all":
		all := sets.New[features.FeatureName]()
		for _, p := range profiles {
			all = all.Union(p.CoreFeatures).Union(p.ExtendedFeatures)
		}
		out := all.UnsortedList()
		slices.Sort(out)
		return out
	default:
		return suite.ParseSupportedFeaturesSlice(spec)
	}
}

func address(v string) []gatewayv1.GatewaySpecAddress {
	if v == "" {
		return nil
	}
	typ := gatewayv1.HostnameAddressType
	if _, err := netip.ParseAddr(v); err == nil {
		typ = gatewayv1.IPAddressType
	}
	return []gatewayv1.GatewaySpecAddress{{Type: &typ, Value: v}}
}

// runSuite runs the upstream suite in this process. Its traffic goes to the
// Gateways' addresses from here, so this process must be in a network that
// reaches them (the local cluster's namespace, or a real cluster's network).
func runSuite(t *testing.T, s settings, cfg *rest.Config) {
	ctrllog.SetLogger(stderrLogger().WithName("controller-runtime"))
	scheme := newScheme(t)
	copts := client.Options{Scheme: scheme}
	cl, err := client.New(cfg, copts)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.version == "" {
		s.version = controllerVersion(t, cs)
	}
	report, err := s.reportPath()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(report), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	rec, err := newRecorder(s.artifacts, cl, cs)
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the suite's own cleanup wrote the report.
	t.Cleanup(func() {
		rec.close()
		rec.checkClaims(t)
		summarize(t, report)
	})

	opts := suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:    className,
			ConformanceProfiles: profileNames(),
			Implementation: confv1.Implementation{
				Organization: "nghttpx-gateway",
				Project:      "nghttpx-gateway",
				URL:          "https://github.com/nghttpx-gateway/nghttpx-gateway",
				Version:      s.version,
				Contact:      []string{"https://github.com/nghttpx-gateway/nghttpx-gateway/issues"},
			},
			Mode:                     flags.DefaultMode,
			ReportOutputPath:         report,
			SupportedFeatures:        supportedFeatures(s.features),
			RunTest:                  s.run,
			SkipTests:                s.skip,
			Debug:                    s.debug,
			DisableParallelTests:     true, // 2 cores; parallel tests mostly wait on each other's Gateways
			CleanupBaseResources:     s.cleanupBase,
			CleanupTestResources:     !s.keep,
			TimeoutConfig:            timeouts(s.timeouts),
			UsableNetworkAddresses:   address(s.usable),
			UnusableNetworkAddresses: address(s.unusable),
		},
		Client:        cl,
		ClientOptions: copts,
		Clientset:     cs,
		RestConfig:    cfg,
		Hook:          rec.hook,
	}
	// The upstream flags (-run-test, -skip-tests, -debug, ...) override all of the above.
	flags.ApplyAll(&opts.ConfigurableOptions)
	t.Logf("report: %s; artifacts: %s", opts.ReportOutputPath, s.artifacts)
	conformance.RunConformanceWithOptions(t, opts)
}

func profileNames() []suite.ConformanceProfileName {
	out := make([]suite.ConformanceProfileName, len(profiles))
	for i, p := range profiles {
		out[i] = p.Name
	}
	return out
}

// controllerVersion is the controller image's tag, for runs against a cluster
// where we did not build the binary.
func controllerVersion(t *testing.T, cs kubernetes.Interface) string {
	d, err := cs.AppsV1().Deployments(systemNS).Get(context.Background(), controllerApp, metav1.GetOptions{})
	if err != nil || len(d.Spec.Template.Spec.Containers) == 0 {
		t.Logf("controller Deployment: %v; reporting version \"unknown\" (set CONFORMANCE_VERSION)", err)
		return "unknown"
	}
	img := d.Spec.Template.Spec.Containers[0].Image
	if i := strings.LastIndexAny(img, ":@"); i > strings.LastIndex(img, "/") {
		return img[i+1:]
	}
	return "latest"
}

// recorder writes one line per test to results.tsv and, when a test fails, saves
// what explains it (Gateway API objects, data-plane and controller logs since the
// test started, the data planes' /status) under artifacts/<test>/.
type recorder struct {
	dir  string
	cl   client.Client
	cs   kubernetes.Interface
	mu   sync.Mutex
	last time.Time
	out  *os.File
	// byFeature counts results per extended feature of our profiles.
	byFeature map[features.FeatureName]*featureResult
}

type featureResult struct{ pass, fail, skip int }

func newRecorder(dir string, cl client.Client, cs kubernetes.Interface) (*recorder, error) {
	f, err := os.Create(filepath.Join(dir, "results.tsv"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(f, "result\ttest\tseconds\tfeatures")
	return &recorder{dir: dir, cl: cl, cs: cs, last: time.Now(), out: f, byFeature: map[features.FeatureName]*featureResult{}}, nil
}

func (r *recorder) close() { _ = r.out.Close() }

// checkClaims compares the GatewayClass's status.supportedFeatures with the
// extended features whose tests ran here, and writes artifacts/features.tsv. A
// claimed feature with a failing test is an error (the suite has failed it too);
// a feature whose tests all passed but is not claimed is worth claiming.
func (r *recorder) checkClaims(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.byFeature) == 0 {
		return
	}
	claimed := map[features.FeatureName]bool{}
	var gc gatewayv1.GatewayClass
	if err := r.cl.Get(context.Background(), client.ObjectKey{Name: className}, &gc); err != nil {
		t.Logf("GatewayClass %s: %v", className, err)
		return
	}
	for _, f := range gc.Status.SupportedFeatures {
		claimed[features.FeatureName(f.Name)] = true
	}
	names := make([]features.FeatureName, 0, len(r.byFeature))
	for f := range r.byFeature {
		names = append(names, f)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("feature\tpassed\tfailed\tskipped\tclaimed\n")
	var claimable, broken []features.FeatureName
	for _, f := range names {
		c := r.byFeature[f]
		fmt.Fprintf(&b, "%s\t%d\t%d\t%d\t%t\n", f, c.pass, c.fail, c.skip, claimed[f])
		switch {
		case claimed[f] && c.fail > 0:
			broken = append(broken, f)
		case !claimed[f] && c.pass > 0 && c.fail == 0 && c.skip == 0:
			claimable = append(claimable, f)
		}
	}
	_ = os.WriteFile(filepath.Join(r.dir, "features.tsv"), []byte(b.String()), 0o644)
	if len(claimable) > 0 {
		t.Logf("features whose tests all passed but which the GatewayClass does not claim: %v", claimable)
	}
	if len(broken) > 0 {
		t.Errorf("features the GatewayClass claims but whose tests failed: %v", broken)
	}
}

// hook runs after each test and its cleanup (tests run one at a time).
func (r *recorder) hook(t *testing.T, test suite.ConformanceTest, _ *suite.ConformanceTestSuite) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.last
	r.last = time.Now()
	res := "PASS"
	switch {
	case t.Failed():
		res = "FAIL"
	case t.Skipped():
		res = "SKIP"
	}
	fs := make([]string, len(test.Features))
	for i, f := range test.Features {
		fs[i] = string(f)
	}
	fmt.Fprintf(r.out, "%s\t%s\t%.1f\t%s\n", res, test.ShortName, r.last.Sub(start).Seconds(), strings.Join(fs, ","))
	if p, ok := profileOf(test); ok {
		for _, f := range test.Features {
			if p.CoreFeatures.Has(f) {
				continue
			}
			c := r.byFeature[f]
			if c == nil {
				c = &featureResult{}
				r.byFeature[f] = c
			}
			switch res {
			case "PASS":
				c.pass++
			case "FAIL":
				c.fail++
			default:
				c.skip++
			}
		}
	}
	if res == "FAIL" {
		r.diagnose(t, test.ShortName, start)
	}
}

// profileOf is the first of our profiles that has every feature of the test (how
// the suite assigns tests to profiles).
func profileOf(test suite.ConformanceTest) (suite.ConformanceProfile, bool) {
	for _, p := range profiles {
		in := true
		for _, f := range test.Features {
			if !p.CoreFeatures.Has(f) && !p.ExtendedFeatures.Has(f) {
				in = false
				break
			}
		}
		if in {
			return p, true
		}
	}
	return suite.ConformanceProfile{}, false
}

func (r *recorder) diagnose(t *testing.T, name string, since time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(r.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("diagnostics: %v", err)
		return
	}
	save := func(file string, v any) {
		b, err := yaml.Marshal(v)
		if err != nil {
			b = []byte(err.Error())
		}
		_ = os.WriteFile(filepath.Join(dir, file), b, 0o644)
	}
	var gcs gatewayv1.GatewayClassList
	if err := r.cl.List(ctx, &gcs); err == nil {
		save("gatewayclasses.yaml", gcs.Items)
	}
	var gws gatewayv1.GatewayList
	if err := r.cl.List(ctx, &gws); err == nil {
		save("gateways.yaml", gws.Items)
	}
	var routes gatewayv1.HTTPRouteList
	if err := r.cl.List(ctx, &routes); err == nil {
		save("httproutes.yaml", routes.Items)
	}
	var grpcRoutes gatewayv1.GRPCRouteList
	if err := r.cl.List(ctx, &grpcRoutes); err == nil {
		save("grpcroutes.yaml", grpcRoutes.Items)
	}
	sinceT := metav1.NewTime(since.Add(-time.Second))
	saveLogs := func(p *corev1.Pod) {
		for _, c := range p.Spec.Containers {
			b, err := r.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, SinceTime: &sinceT}).DoRaw(ctx)
			if err != nil {
				b = []byte(err.Error())
			}
			_ = os.WriteFile(filepath.Join(dir, "log-"+p.Namespace+"-"+p.Name+"-"+c.Name+".txt"), b, 0o644)
		}
	}
	if pods, err := r.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: gatewayNameLabel}); err == nil {
		save("dataplane-pods.yaml", pods.Items)
		for i := range pods.Items {
			p := &pods.Items[i]
			saveLogs(p)
			// The proxy's admin endpoint, through the API server's pod proxy (works
			// wherever the suite runs).
			b, err := e2eutil.ProxyStatus(ctx, r.cs, p, "9901")
			if err != nil {
				b = []byte(err.Error())
			}
			_ = os.WriteFile(filepath.Join(dir, "status-"+p.Namespace+"-"+p.Name+".json"), b, 0o644)
		}
	}
	if pods, err := r.cs.CoreV1().Pods(systemNS).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range pods.Items {
			saveLogs(&pods.Items[i])
		}
	}
	t.Logf("diagnostics saved in %s", dir)
}

// summarize logs the report's result per profile (the full YAML is in the file).
func summarize(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("report: %v", err)
		return
	}
	var rep confv1.ConformanceReport
	if err := yaml.Unmarshal(b, &rep); err != nil {
		t.Logf("report %s: %v", path, err)
		return
	}
	for _, p := range rep.ProfileReports {
		t.Logf("%s core: %s (passed %d, failed %d, skipped %d) failed=%v skipped=%v", p.Name, p.Core.Result,
			p.Core.Statistics.Passed, p.Core.Statistics.Failed, p.Core.Statistics.Skipped, p.Core.FailedTests, p.Core.SkippedTests)
		if e := p.Extended; e != nil {
			t.Logf("%s extended: %s (passed %d, failed %d, skipped %d) failed=%v; supported features %v; unsupported %v", p.Name, e.Result,
				e.Statistics.Passed, e.Statistics.Failed, e.Statistics.Skipped, e.FailedTests, e.SupportedFeatures, e.UnsupportedFeatures)
		}
	}
	t.Logf("report written to %s", path)
}
