package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/node"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/ociimage"
)

// BusyboxBin is Debian's busybox-static (hack/install-node-deps.sh).
const BusyboxBin = "/bin/busybox"

// nodeImage is one image DefaultNodeImages builds from a single static binary.
type nodeImage struct {
	file, ref string
	aliases   []string
	src, dst  string
	user      string
	argv      []string // entrypoint
	cmd       []string
}

func nodeImageSpecs(binDir string) []nodeImage {
	bin := func(n string) string { return filepath.Join(binDir, n) }
	return []nodeImage{
		{file: "pause.tar", ref: PauseImage, src: bin("pause"), dst: "/pause", argv: []string{"/pause"}},
		// Non-root like a hardened echo image: it binds only unprivileged ports.
		{file: "echo-basic.tar", ref: EchoBasicImage, aliases: EchoBasicAliases, src: bin("echo-basic"), dst: "/echo-basic",
			user: "65532", argv: []string{"/echo-basic"}},
		{file: "coredns.tar", ref: CoreDNSImage, aliases: CoreDNSAliases, src: bin("coredns"), dst: "/coredns", argv: []string{"/coredns"}},
		{file: "busybox.tar", ref: BusyboxImage, src: BusyboxBin, dst: "/bin/busybox", argv: []string{"/bin/busybox"}, cmd: []string{"sh"}},
	}
}

// DefaultNodeImages builds the archives a real node imports (pause, echo-basic,
// CoreDNS from binDir, Debian's static busybox) into outDir with internal/ociimage,
// rebuilding one only when its binary is newer than the archive. The builds are
// deterministic, so an unchanged binary gives the same digest.
func DefaultNodeImages(binDir, outDir string) ([]node.Image, error) {
	var imgs []node.Image
	for _, s := range nodeImageSpecs(binDir) {
		src, err := os.Stat(s.src)
		if err != nil {
			return nil, fmt.Errorf("node image %s needs %s (hack/build-k8s.sh, hack/install-node-deps.sh): %w", s.ref, s.src, err)
		}
		out := filepath.Join(outDir, s.file)
		if a, err := os.Stat(out); err != nil || a.ModTime().Before(src.ModTime()) {
			img, err := ociimage.Build(ociimage.Spec{
				Files:      []ociimage.File{{Src: s.src, Dst: s.dst, Mode: 0o755}},
				User:       s.user,
				Entrypoint: s.argv,
				Cmd:        s.cmd,
				Epoch:      time.Unix(0, 0),
			})
			if err != nil {
				return nil, fmt.Errorf("node image %s: %w", s.ref, err)
			}
			if _, err := ociimage.WriteArchive(img, s.ref, out); err != nil {
				return nil, fmt.Errorf("node image %s: %w", s.ref, err)
			}
		}
		imgs = append(imgs, node.Image{Archive: out, Ref: s.ref, Aliases: s.aliases})
	}
	return imgs, nil
}
