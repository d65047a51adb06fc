package e2eutil

import (
	"context"
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/nghttpx-gateway/nghttpx-gateway/config"
)

// Facts of config/default the suites rely on.
const (
	// Image is what config/ and the provisioned data planes run.
	Image = "ghcr.io/nghttpx-gateway/nghttpx-gateway"
	// SystemNamespace holds the controller (and the Ingress class's data plane).
	SystemNamespace = "nghttpx-gateway-system"
	// ControllerApp is the controller Deployment's name and app.kubernetes.io/name.
	ControllerApp = "nghttpx-gateway"
)

// InstallDefault renders config/default, lets edit (when not nil) change the
// objects, and applies them as fieldManager.
func InstallDefault(ctx context.Context, cfg *rest.Config, fieldManager string, edit func([]*unstructured.Unstructured) error) error {
	objs, err := config.Build(filepath.Join(config.Dir(), "default"))
	if err != nil {
		return fmt.Errorf("render config/default: %w", err)
	}
	if edit != nil {
		if err := edit(objs); err != nil {
			return fmt.Errorf("edit config/default: %w", err)
		}
	}
	if err := Apply(ctx, cfg, fieldManager, objs); err != nil {
		return fmt.Errorf("install config/default: %w", err)
	}
	return nil
}
