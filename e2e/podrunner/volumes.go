package podrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// volumeWriter materialises a pod's volumes as plain directories under dir/<volume>.
type volumeWriter struct {
	client kubernetes.Interface
	pod    *corev1.Pod
	dir    string
	podIP  string
	hostIP string
	node   string
}

// write creates every volume once; paths maps volume name to its directory.
func (w *volumeWriter) write(ctx context.Context) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range w.pod.Spec.Volumes {
		p := filepath.Join(w.dir, v.Name)
		if v.HostPath != nil {
			paths[v.Name] = v.HostPath.Path
			continue
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if err := w.fill(ctx, p, v); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		paths[v.Name] = p
	}
	return paths, nil
}

func (w *volumeWriter) fill(ctx context.Context, dir string, v corev1.Volume) error {
	switch {
	case v.Secret != nil:
		data, err := w.secretData(ctx, v.Secret.SecretName, v.Secret.Optional)
		if err != nil {
			return err
		}
		return writeItems(dir, data, v.Secret.Items, v.Secret.DefaultMode, v.Secret.Optional)
	case v.ConfigMap != nil:
		data, err := w.configMapData(ctx, v.ConfigMap.Name, v.ConfigMap.Optional)
		if err != nil {
			return err
		}
		return writeItems(dir, data, v.ConfigMap.Items, v.ConfigMap.DefaultMode, v.ConfigMap.Optional)
	case v.DownwardAPI != nil:
		return w.writeDownward(dir, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			if err := w.fillProjection(ctx, dir, src, v.Projected.DefaultMode); err != nil {
				return err
			}
		}
	}
	// emptyDir and unsupported kinds are empty directories.
	return nil
}

func (w *volumeWriter) fillProjection(ctx context.Context, dir string, src corev1.VolumeProjection, mode *int32) error {
	switch {
	case src.Secret != nil:
		data, err := w.secretData(ctx, src.Secret.Name, src.Secret.Optional)
		if err != nil {
			return err
		}
		return writeItems(dir, data, src.Secret.Items, mode, src.Secret.Optional)
	case src.ConfigMap != nil:
		data, err := w.configMapData(ctx, src.ConfigMap.Name, src.ConfigMap.Optional)
		if err != nil {
			return err
		}
		return writeItems(dir, data, src.ConfigMap.Items, mode, src.ConfigMap.Optional)
	case src.DownwardAPI != nil:
		return w.writeDownward(dir, src.DownwardAPI.Items, mode)
	case src.ServiceAccountToken != nil:
		t := src.ServiceAccountToken
		exp := int64(3607)
		if t.ExpirationSeconds != nil {
			exp = *t.ExpirationSeconds
		}
		var aud []string
		if t.Audience != "" {
			aud = []string{t.Audience}
		}
		sa := w.pod.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		tr, err := w.client.CoreV1().ServiceAccounts(w.pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{
				Audiences:         aud,
				ExpirationSeconds: &exp,
				BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: w.pod.Name, UID: w.pod.UID},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("token for serviceaccount %s: %w", sa, err)
		}
		return writeFile(dir, t.Path, []byte(tr.Status.Token), fileMode(nil, mode, 0o600))
	}
	return nil
}

func (w *volumeWriter) secretData(ctx context.Context, name string, optional *bool) (map[string][]byte, error) {
	s, err := w.client.CoreV1().Secrets(w.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %s/%s: %w", w.pod.Namespace, name, err)
	}
	return s.Data, nil
}

func (w *volumeWriter) configMapData(ctx context.Context, name string, optional *bool) (map[string][]byte, error) {
	cm, err := w.client.CoreV1().ConfigMaps(w.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %s/%s: %w", w.pod.Namespace, name, err)
	}
	out := map[string][]byte{}
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	return out, nil
}

func (w *volumeWriter) writeDownward(dir string, items []corev1.DownwardAPIVolumeFile, mode *int32) error {
	for _, it := range items {
		if it.FieldRef == nil {
			continue
		}
		v, err := fieldValue(w.pod, it.FieldRef.FieldPath, w.podIP, w.hostIP, w.node)
		if err != nil {
			return err
		}
		if err := writeFile(dir, it.Path, []byte(v), fileMode(it.Mode, mode, 0o644)); err != nil {
			return err
		}
	}
	return nil
}

// writeItems writes every key, or only the listed items (key -> path, mode).
func writeItems(dir string, data map[string][]byte, items []corev1.KeyToPath, mode *int32, optional *bool) error {
	if len(items) == 0 {
		for k, v := range data {
			if err := writeFile(dir, k, v, fileMode(nil, mode, 0o644)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return fmt.Errorf("key %q not found", it.Key)
		}
		if err := writeFile(dir, it.Path, v, fileMode(it.Mode, mode, 0o644)); err != nil {
			return err
		}
	}
	return nil
}

func fileMode(item, def *int32, fallback os.FileMode) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item) & 0o777
	case def != nil:
		return os.FileMode(*def) & 0o777
	}
	return fallback
}

// writeFile writes rel below dir, refusing paths that escape it.
func writeFile(dir, rel string, data []byte, mode os.FileMode) error {
	clean := filepath.Clean("/" + rel)
	if clean == "/" || strings.Contains(rel, "..") {
		return fmt.Errorf("invalid volume path %q", rel)
	}
	p := filepath.Join(dir, clean)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

// mount is one bind mount of a volume into a container's private mount namespace.
type mount struct {
	file     bool
	src, dst string
}

// containerMounts resolves a container's volumeMounts against materialised volumes.
func containerMounts(c *corev1.Container, paths map[string]string) ([]mount, error) {
	var ms []mount
	for _, vm := range c.VolumeMounts {
		src, ok := paths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s: no volume of that name", vm.Name)
		}
		if vm.SubPath != "" {
			if strings.Contains(vm.SubPath, "..") {
				return nil, fmt.Errorf("volumeMount %s: invalid subPath %q", vm.Name, vm.SubPath)
			}
			src = filepath.Join(src, vm.SubPath)
		}
		if !filepath.IsAbs(vm.MountPath) {
			return nil, fmt.Errorf("volumeMount %s: mountPath %q is not absolute", vm.Name, vm.MountPath)
		}
		fi, err := os.Stat(src)
		if os.IsNotExist(err) && vm.SubPath != "" {
			err = os.MkdirAll(src, 0o755)
			fi, _ = os.Stat(src)
		}
		if err != nil {
			return nil, fmt.Errorf("volumeMount %s: %w", vm.Name, err)
		}
		ms = append(ms, mount{file: !fi.IsDir(), src: src, dst: filepath.Clean(vm.MountPath)})
	}
	return ms, nil
}
