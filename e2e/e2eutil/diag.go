package e2eutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// Diag saves what explains a failed test under one directory, because a local
// cluster's state disappears with it. Saving is best effort: a failed write must not
// hide the test's own failure. Logf receives log tails and problems (t.Logf).
type Diag struct {
	Dir  string
	CS   kubernetes.Interface
	Logf func(format string, args ...any)
}

// NewDiag creates <artifacts>/<test name, slashes replaced>.
func NewDiag(artifacts, testName string, cs kubernetes.Interface, logf func(string, ...any)) (*Diag, error) {
	dir := filepath.Join(artifacts, strings.ReplaceAll(testName, "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("diagnostics directory: %w", err)
	}
	return &Diag{Dir: dir, CS: cs, Logf: logf}, nil
}

// SaveYAML writes v as YAML to file name (the marshalling error instead, if any).
func (d *Diag) SaveYAML(name string, v any) {
	b, err := yaml.Marshal(v)
	if err != nil {
		b = []byte(err.Error())
	}
	_ = os.WriteFile(filepath.Join(d.Dir, name), b, 0o644)
}

// SaveEvents writes ns's events, one a line, to events-<ns>.txt. It reads them
// through events.k8s.io/v1, which also shows core/v1 events (their time is then
// the deprecated last timestamp).
func (d *Diag) SaveEvents(ctx context.Context, ns string) {
	ev, err := d.CS.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		d.Logf("events of %s: %v", ns, err)
		return
	}
	var lines []string
	for _, e := range ev.Items {
		at := e.EventTime.Time
		if at.IsZero() {
			at = e.DeprecatedLastTimestamp.Time
		}
		lines = append(lines, fmt.Sprintf("%s %s %s/%s %s: %s", at.Format(time.RFC3339), e.Type,
			e.Regarding.Kind, e.Regarding.Name, e.Reason, e.Note))
	}
	_ = os.WriteFile(filepath.Join(d.Dir, "events-"+ns+".txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// SavePods writes ns's pods to pods-<ns>.yaml and returns them.
func (d *Diag) SavePods(ctx context.Context, ns string) ([]corev1.Pod, error) {
	pods, err := Pods(ctx, d.CS, ns, "")
	if err != nil {
		return nil, err
	}
	d.SaveYAML("pods-"+ns+".yaml", pods)
	return pods, nil
}

// SaveLogs writes the log of each of p's containers to
// log-<ns>-<pod>-<container>.txt and logs its last 25 lines. A container that has
// restarted also gets its previous run's log (…-previous.txt, last 40 lines logged)
// and how that run ended, since the current log rarely says why it began.
func (d *Diag) SaveLogs(ctx context.Context, p *corev1.Pod) {
	for _, c := range p.Spec.Containers {
		b, err := d.CS.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(ctx)
		if err != nil {
			d.Logf("logs of %s/%s: %v", p.Name, c.Name, err)
			continue
		}
		_ = os.WriteFile(filepath.Join(d.Dir, "log-"+p.Namespace+"-"+p.Name+"-"+c.Name+".txt"), b, 0o644)
		d.Logf("last lines of %s/%s (%s):\n%s", p.Namespace, p.Name, c.Name, Tail(string(b), 25))
	}
	for _, st := range p.Status.ContainerStatuses {
		if st.RestartCount == 0 {
			continue
		}
		d.Logf("%s/%s (%s) restarted %d times; %s", p.Namespace, p.Name, st.Name, st.RestartCount, LastTermination(st))
		b, err := d.CS.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: st.Name, Previous: true}).DoRaw(ctx)
		if err != nil {
			d.Logf("previous logs of %s/%s: %v", p.Name, st.Name, err)
			continue
		}
		_ = os.WriteFile(filepath.Join(d.Dir, "log-"+p.Namespace+"-"+p.Name+"-"+st.Name+"-previous.txt"), b, 0o644)
		d.Logf("last lines of the previous run of %s/%s (%s):\n%s", p.Namespace, p.Name, st.Name, Tail(string(b), 40))
	}
}

// Tail is the last n lines of s, indented for a log.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// DumpPodLogs prints the last 40 log lines of the pods of ns matching selector to
// stderr: for a suite that cannot start, before its cluster goes away.
func DumpPodLogs(ctx context.Context, log logr.Logger, cs kubernetes.Interface, ns, selector string) {
	pods, err := Pods(ctx, cs, ns, selector)
	if err != nil {
		log.Error(err, "listing pods")
		return
	}
	for _, p := range pods {
		b, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr.To[int64](40)}).DoRaw(ctx)
		log.Info("pod", "pod", p.Name, "phase", p.Status.Phase, "containers", p.Status.ContainerStatuses, "logErr", err)
		fmt.Fprintf(os.Stderr, "%s\n", Tail(string(b), 40))
	}
}

// ReportRestarts logs, for each container of the pods of ns matching selector that
// has restarted, how its last run ended and that run's last 40 log lines, and
// returns the number of restarts: a suite calls it before its cluster goes away, so
// a crash loop that no test tripped over is still on record.
func ReportRestarts(ctx context.Context, log logr.Logger, cs kubernetes.Interface, ns, selector string) int32 {
	pods, err := Pods(ctx, cs, ns, selector)
	if err != nil {
		log.Error(err, "listing pods")
		return 0
	}
	var n int32
	for _, p := range pods {
		for _, st := range p.Status.ContainerStatuses {
			if st.RestartCount == 0 {
				continue
			}
			n += st.RestartCount
			b, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: st.Name, Previous: true, TailLines: ptr.To[int64](40)}).DoRaw(ctx)
			log.Info("container restarted", "pod", p.Name, "container", st.Name, "restarts", st.RestartCount, "last", LastTermination(st), "logErr", err)
			fmt.Fprintf(os.Stderr, "%s\n", Tail(string(b), 40))
		}
	}
	return n
}
