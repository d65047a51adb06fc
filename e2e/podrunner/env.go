package podrunner

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// envBuilder resolves a container's environment the way kubelet does (subset).
type envBuilder struct {
	client  kubernetes.Interface
	pod     *corev1.Pod
	podIP   string
	hostIP  string
	node    string
	apiHost string
	apiPort int
}

func (b *envBuilder) build(ctx context.Context, c *corev1.Container) ([]string, map[string]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	set("HOME", "/root")
	set("HOSTNAME", b.pod.Name)
	if b.apiHost != "" {
		p := strconv.Itoa(b.apiPort)
		set("KUBERNETES_SERVICE_HOST", b.apiHost)
		set("KUBERNETES_SERVICE_PORT", p)
		set("KUBERNETES_SERVICE_PORT_HTTPS", p)
		set("KUBERNETES_PORT", "tcp://"+b.apiHost+":"+p)
	}
	for _, ef := range c.EnvFrom {
		data, err := b.envFromData(ctx, ef)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range data {
			set(ef.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vars))
			continue
		}
		v, ok, err := b.valueFrom(ctx, c, e.ValueFrom)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, vars, nil
}

func (b *envBuilder) envFromData(ctx context.Context, ef corev1.EnvFromSource) (map[string]string, error) {
	optional := func(p *bool) bool { return p != nil && *p }
	switch {
	case ef.ConfigMapRef != nil:
		cm, err := b.client.CoreV1().ConfigMaps(b.pod.Namespace).Get(ctx, ef.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			if optional(ef.ConfigMapRef.Optional) {
				return nil, nil
			}
			return nil, fmt.Errorf("envFrom configmap %s: %w", ef.ConfigMapRef.Name, err)
		}
		return cm.Data, nil
	case ef.SecretRef != nil:
		s, err := b.client.CoreV1().Secrets(b.pod.Namespace).Get(ctx, ef.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			if optional(ef.SecretRef.Optional) {
				return nil, nil
			}
			return nil, fmt.Errorf("envFrom secret %s: %w", ef.SecretRef.Name, err)
		}
		out := map[string]string{}
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, nil
	}
	return nil, nil
}

func (b *envBuilder) valueFrom(ctx context.Context, c *corev1.Container, src *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, err := fieldValue(b.pod, src.FieldRef.FieldPath, b.podIP, b.hostIP, b.node)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		cm, err := b.client.CoreV1().ConfigMaps(b.pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			if r.Optional != nil && *r.Optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %s: %w", r.Name, err)
		}
		v, ok := cm.Data[r.Key]
		if !ok && (r.Optional == nil || !*r.Optional) {
			return "", false, fmt.Errorf("configmap %s has no key %s", r.Name, r.Key)
		}
		return v, ok, nil
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		s, err := b.client.CoreV1().Secrets(b.pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			if r.Optional != nil && *r.Optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %s: %w", r.Name, err)
		}
		v, ok := s.Data[r.Key]
		if !ok && (r.Optional == nil || !*r.Optional) {
			return "", false, fmt.Errorf("secret %s has no key %s", r.Name, r.Key)
		}
		return string(v), ok, nil
	case src.ResourceFieldRef != nil:
		// No resource accounting here: report the request or "0".
		name := src.ResourceFieldRef.Resource
		for _, rl := range []corev1.ResourceList{c.Resources.Limits, c.Resources.Requests} {
			short := strings.TrimPrefix(strings.TrimPrefix(name, "limits."), "requests.")
			if q, ok := rl[corev1.ResourceName(short)]; ok {
				return q.String(), true, nil
			}
		}
		return "0", true, nil
	}
	return "", false, nil
}

// fieldValue implements the downward API field paths.
func fieldValue(pod *corev1.Pod, path, podIP, hostIP, node string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return node, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	}
	for _, m := range []struct {
		prefix string
		src    map[string]string
	}{{"metadata.labels", pod.Labels}, {"metadata.annotations", pod.Annotations}} {
		if path == m.prefix {
			var lines []string
			for k, v := range m.src {
				lines = append(lines, fmt.Sprintf("%s=%q", k, v))
			}
			sort.Strings(lines)
			return strings.Join(lines, "\n"), nil
		}
		if strings.HasPrefix(path, m.prefix+"['") && strings.HasSuffix(path, "']") {
			return m.src[path[len(m.prefix)+2:len(path)-2]], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

// expand replaces $(VAR) with known values and $$ with $, as kubelet does for env
// values, command and args; unknown references stay as written.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteByte('$')
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
