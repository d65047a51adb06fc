package standalone

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// isObjectFile reports whether a directory entry holds objects.
func isObjectFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch filepath.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// scanDir reads every object file of dir (not recursive, sorted by name). The digest
// covers names and contents, so any edit, addition or removal changes it.
func scanDir(dir string) (map[string][]byte, [32]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("read config directory: %w", err)
	}
	files := map[string][]byte{}
	var names []string
	for _, e := range entries {
		if e.IsDir() || !isObjectFile(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, [32]byte{}, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		files[e.Name()] = data
		names = append(names, e.Name())
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return files, sum, nil
}

// decodeFiles merges the objects of all files; the first broken file fails the whole
// snapshot so that a half-written edit never removes routes.
func decodeFiles(files map[string][]byte) (*load.Input, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	all := &load.Input{}
	for _, n := range names {
		in, err := load.DecodeYAML(files[n])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		all.Append(in)
	}
	return all, nil
}
