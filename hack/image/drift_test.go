package image

import (
	"encoding/json"
	"io"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/ociimage"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct{ cmd, args string }

func finalStage(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var all []instruction
	cur := ""
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		all = append(all, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	last := -1
	for i, in := range all {
		if in.cmd == "FROM" {
			last = i
		}
	}
	if last < 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return all[last+1:]
}

// spec reads image.args with every ${VAR} left as written, so values compare as text.
func spec(t *testing.T) ociimage.Spec {
	t.Helper()
	b, err := os.ReadFile("image.args")
	if err != nil {
		t.Fatal(err)
	}
	args, err := ociimage.SpecArgs(string(b), func(k string) (string, bool) { return "${" + k + "}", true })
	if err != nil {
		t.Fatal(err)
	}
	f, err := ociimage.ParseArgs("image.args", args, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatalf("image.args: %v", err)
	}
	return f.Spec
}

// stageSources maps a Dockerfile build stage's output paths to image.args sources.
var stageSources = map[string]struct{ prefix, arg string }{
	"nghttpx": {"/out/", "${STAGE}/"},                     // hack/image/stage-nghttpx.sh OUT
	"gateway": {"/out/nghttpx-gateway", "${GATEWAY_BIN}"}, // the CGO_ENABLED=0 build
}

const packagesTxt = "$(sed 's/#.*//' /tmp/image/packages.txt)"

func TestDockerfileMatchesImageArgs(t *testing.T) {
	s := spec(t)
	var (
		user       string
		entrypoint []string
		env        []string
		labels     = map[string]string{}
		files      = map[string]string{} // dst -> image.args form of the source
		caps       = map[string]ociimage.FileCaps{}
		links      = map[string]string{} // link -> target
		runs       []string
	)
	setcap := regexp.MustCompile(`setcap (\S+) (\S+)`)
	ln := regexp.MustCompile(`ln -s (\S+) (\S+)`)
	for _, in := range finalStage(t) {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT %s: use the JSON form: %v", in.args, err)
			}
		case "ENV":
			env = append(env, in.args)
		case "LABEL":
			k, v, _ := strings.Cut(in.args, "=")
			labels[k] = v
		case "COPY":
			fields := strings.Fields(in.args)
			from := ""
			if strings.HasPrefix(fields[0], "--from=") {
				from = strings.TrimPrefix(fields[0], "--from=")
				fields = fields[1:]
			}
			if from == "" { // build inputs from the repository, removed again
				continue
			}
			src, ok := stageSources[from]
			if !ok {
				t.Errorf("COPY --from=%s: unknown stage; add it to stageSources", from)
				continue
			}
			dst := fields[len(fields)-1]
			for _, f := range fields[:len(fields)-1] {
				if !strings.HasPrefix(f, src.prefix) {
					t.Errorf("COPY --from=%s %s: outside %s", from, f, src.prefix)
					continue
				}
				d := dst
				if strings.HasSuffix(dst, "/") {
					d = dst + path.Base(f)
				}
				files[d] = src.arg + strings.TrimPrefix(f, src.prefix)
			}
		case "RUN":
			runs = append(runs, in.args)
			for _, m := range setcap.FindAllStringSubmatch(in.args, -1) {
				fc, err := ociimage.ParseCaps(m[1])
				if err != nil {
					t.Errorf("setcap %s: %v", m[1], err)
				}
				caps[m[2]] = fc
			}
			for _, m := range ln.FindAllStringSubmatch(in.args, -1) {
				links[m[2]] = m[1]
			}
		case "WORKDIR", "VOLUME", "EXPOSE", "CMD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "ONBUILD", "ADD":
			t.Errorf("Dockerfile final stage uses %s, which image.args cannot express yet", in.cmd)
		}
	}

	if user != s.User {
		t.Errorf("USER %q, image.args --user %q", user, s.User)
	}
	if !reflect.DeepEqual(entrypoint, s.Entrypoint) || len(s.Cmd) != 0 {
		t.Errorf("ENTRYPOINT %q, image.args --entrypoint %q --cmd %q", entrypoint, s.Entrypoint, s.Cmd)
	}
	if !slices.Equal(slices.Sorted(slices.Values(env)), slices.Sorted(slices.Values(s.Env))) {
		t.Errorf("ENV %q, image.args --env %q", env, s.Env)
	}
	if !reflect.DeepEqual(labels, s.Labels) {
		t.Errorf("LABEL %q, image.args --label %q", labels, s.Labels)
	}
	argFiles := map[string]string{}
	for _, f := range s.Files {
		argFiles[f.Dst] = f.Src
	}
	if !reflect.DeepEqual(files, argFiles) {
		t.Errorf("files (destination: source)\n Dockerfile COPY: %q\n image.args:      %q", files, argFiles)
	}
	argLinks := map[string]string{}
	for _, l := range s.Symlinks {
		argLinks[l.Link] = l.Target
	}
	if !reflect.DeepEqual(links, argLinks) {
		t.Errorf("symlinks (link: target)\n Dockerfile ln -s: %q\n image.args:       %q", links, argLinks)
	}
	argCaps := map[string]ociimage.FileCaps{}
	for p, text := range s.Caps {
		fc, err := ociimage.ParseCaps(text)
		if err != nil {
			t.Fatal(err)
		}
		argCaps[p] = fc
	}
	if !reflect.DeepEqual(caps, argCaps) {
		t.Errorf("file capabilities: Dockerfile setcap %+v, image.args --cap %+v", caps, argCaps)
	}

	// Packages come from packages.txt only; anything else installed is purged in the
	// same RUN (build-time tools such as setcap).
	installsList := false
	for _, r := range runs {
		var installed, purged []string
		finishes := false
		for _, seg := range strings.Split(strings.ReplaceAll(r, packagesTxt, "PACKAGES_TXT"), "&&") {
			fields := strings.Fields(seg)
			for i := 0; i+1 < len(fields); i++ {
				if fields[i] != "apt-get" {
					continue
				}
				for _, a := range fields[i+2:] {
					if strings.HasPrefix(a, "-") || strings.HasPrefix(a, ">") {
						continue
					}
					switch fields[i+1] {
					case "install":
						installed = append(installed, a)
					case "purge", "remove":
						purged = append(purged, a)
					}
				}
			}
			if strings.Contains(seg, "finish-rootfs.sh /") {
				finishes = true
			}
		}
		for _, p := range installed {
			if p == "PACKAGES_TXT" {
				installsList = true
			} else if !slices.Contains(purged, p) {
				t.Errorf("the final stage installs %s, which is not in hack/image/packages.txt (add it there, or purge it in the same RUN)", p)
			}
		}
		if len(installed) > 0 && !finishes {
			t.Errorf("a RUN installs packages without then running finish-rootfs.sh / (apt lists and logs stay in the image): %s", r)
		}
	}
	if !installsList {
		t.Errorf("the final stage does not install %s", packagesTxt)
	}
}

// TestBuildStepsShared checks that both builds run the shared steps.
func TestBuildStepsShared(t *testing.T) {
	docker, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("../build-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hack/build-nghttpx.sh", "hack/image/stage-nghttpx.sh", "hack/image/packages.txt", "hack/image/finish-rootfs.sh", `-X main.version=`, "CGO_ENABLED=0"} {
		if !strings.Contains(string(docker), want) {
			t.Errorf("Dockerfile does not use %s", want)
		}
		if !strings.Contains(string(script), want) {
			t.Errorf("hack/build-image.sh does not use %s", want)
		}
	}
	if !strings.Contains(string(script), "--spec hack/image/image.args") {
		t.Error("hack/build-image.sh does not build from hack/image/image.args")
	}
}

// TestPackagesTxt checks the list both builds read parses to plain package names.
func TestPackagesTxt(t *testing.T) {
	b, err := os.ReadFile("packages.txt")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, p := range strings.Fields(line) {
			if !name.MatchString(p) {
				t.Errorf("packages.txt: %q is not a Debian package name", p)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("packages.txt lists no package")
	}
}
