package podrunner

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Process is how one container runs on this machine.
type Process struct {
	Argv []string
	// Env is appended after the container's own environment (later entries win).
	Env []string
}

// ImageFunc turns a container (command, args and env already expanded) into a process.
type ImageFunc func(c corev1.Container) (Process, error)

// ImageMap maps an image reference prefix (e.g. "registry.k8s.io/gateway-api/echo-basic")
// to the way to run it. The longest matching prefix wins; a prefix matches an image
// when the image equals it or continues with ':' or '@', or when the prefix ends in '/' or ':'.
type ImageMap map[string]ImageFunc

// EchoBasicImages returns the image names of the Gateway API conformance echo server.
func EchoBasicImages() []string {
	return []string{
		"gcr.io/k8s-staging-gateway-api/echo-basic",
		"registry.k8s.io/gateway-api/echo-basic",
	}
}

// DefaultImages maps the conformance echo images to the echo-basic binary at echoBin.
func DefaultImages(echoBin string) ImageMap {
	m := ImageMap{}
	for _, img := range EchoBasicImages() {
		m[img] = Binary(echoBin)
	}
	return m
}

// Lookup finds how to run image; ok is false when no prefix matches.
func (m ImageMap) Lookup(image string) (ImageFunc, bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		if imageHasPrefix(image, k) {
			return m[k], true
		}
	}
	return nil, false
}

func imageHasPrefix(image, prefix string) bool {
	if prefix == "" || !strings.HasPrefix(image, prefix) {
		return false
	}
	if len(image) == len(prefix) || strings.HasSuffix(prefix, "/") || strings.HasSuffix(prefix, ":") {
		return true
	}
	next := image[len(prefix)]
	return next == ':' || next == '@'
}

// Binary runs the local program path with the container's arguments: command[1:] (the
// image-internal program name is dropped) followed by args.
func Binary(path string) ImageFunc {
	return func(c corev1.Container) (Process, error) {
		argv := []string{path}
		if len(c.Command) > 1 {
			argv = append(argv, c.Command[1:]...)
		}
		argv = append(argv, c.Args...)
		return Process{Argv: argv}, nil
	}
}

// Sleeper runs a process that does nothing until it is stopped: a stand-in for images
// whose behaviour a test does not need (for example the conformance suite's coredns).
func Sleeper() ImageFunc {
	return func(corev1.Container) (Process, error) {
		return Process{Argv: []string{"sleep", "infinity"}}, nil
	}
}

// errImageUnknown is reported as ErrImagePull.
type errImageUnknown struct{ image string }

func (e errImageUnknown) Error() string {
	return fmt.Sprintf("image %s is not in the pod runner's image map", e.image)
}
