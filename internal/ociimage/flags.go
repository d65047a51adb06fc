package ociimage

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Flags binds a command line to a Spec. Repeatable flags: --file, --symlink, --cap, --env,
// --label, --entrypoint and --cmd (one argv element each, or a JSON array).
type Flags struct {
	Spec Spec
	Ref  string
	Out  string
}

type funcValue func(string) error

func (f funcValue) String() string     { return "" }
func (f funcValue) Set(s string) error { return f(s) }

// argv reads one argv element, or a whole JSON array when s starts with '['.
func argv(dst *[]string) funcValue {
	return func(s string) error {
		if strings.HasPrefix(s, "[") {
			var a []string
			if err := json.Unmarshal([]byte(s), &a); err != nil {
				return fmt.Errorf("%q is not a JSON array of strings: %w", s, err)
			}
			*dst = append(*dst, a...)
			return nil
		}
		*dst = append(*dst, s)
		return nil
	}
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	s := &f.Spec
	fs.StringVar(&s.RootFS, "rootfs", "", "root filesystem directory for the first layer (none: an image of --file entries only)")
	fs.Var(funcValue(func(v string) error {
		file, err := ParseFile(v)
		s.Files = append(s.Files, file)
		return err
	}), "file", "SRC:DST[:MODE] file to add (repeatable; MODE octal, default the source's)")
	fs.Var(funcValue(func(v string) error {
		l, err := ParseSymlink(v)
		s.Symlinks = append(s.Symlinks, l)
		return err
	}), "symlink", "TARGET:LINK symbolic link to add, in ln -s order (repeatable)")
	fs.Var(funcValue(func(v string) error {
		p, caps, ok := strings.Cut(v, "=")
		if !ok || p == "" || caps == "" {
			return fmt.Errorf("%q: want PATH=CAPS, e.g. /usr/local/bin/x=cap_net_bind_service+ep", v)
		}
		if s.Caps == nil {
			s.Caps = map[string]string{}
		}
		s.Caps[p] = caps
		return nil
	}), "cap", "PATH=CAPS file capabilities in setcap's text form (repeatable)")
	fs.StringVar(&f.Ref, "ref", "", "image reference REPOSITORY:TAG stored in the archive (required)")
	fs.StringVar(&f.Out, "out", "", "docker-archive tarball to write (required)")
	fs.Var(argv(&s.Entrypoint), "entrypoint", "entrypoint element (repeatable) or JSON array")
	fs.Var(argv(&s.Cmd), "cmd", "cmd element (repeatable) or JSON array")
	fs.StringVar(&s.User, "user", "", "user (and group) the image runs as, e.g. 65532")
	fs.StringVar(&s.WorkingDir, "workdir", "", "working directory")
	fs.Var(funcValue(func(v string) error {
		s.Env = append(s.Env, v)
		return nil
	}), "env", "KEY=VALUE environment variable (repeatable)")
	fs.Var(funcValue(func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q: want KEY=VALUE", v)
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[k] = val
		return nil
	}), "label", "KEY=VALUE image label (repeatable)")
	fs.Var(funcValue(func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q: want seconds since 1970", v)
		}
		s.Epoch = time.Unix(n, 0).UTC()
		return nil
	}), "epoch", "mtime of every entry and the image's created time, in seconds (default $SOURCE_DATE_EPOCH, else 0)")
	fs.Var(funcValue(func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q: want seconds since 1970", v)
		}
		s.RootFSEpoch = time.Unix(n, 0).UTC()
		return nil
	}), "rootfs-epoch", "mtime of the --rootfs layer's entries, in seconds (default --epoch); keeps that layer shared across builds")
	fs.StringVar(&s.Arch, "arch", "amd64", "image architecture")
}

// ExpandArgs replaces each "--spec FILE" or "--spec=FILE" with the file's arguments:
// one per non-empty line (write --flag=value), '#' starts a comment line, and
// ${VAR} is replaced from getenv; an unset variable is an error, so a missing
// setting cannot silently produce a different image.
func ExpandArgs(args []string, getenv func(string) (string, bool)) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		var file string
		switch {
		case a == "--spec" || a == "-spec":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("--spec needs a file")
			}
			i++
			file = args[i]
		case strings.HasPrefix(a, "--spec="), strings.HasPrefix(a, "-spec="):
			_, file, _ = strings.Cut(a, "=")
		default:
			out = append(out, a)
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		lines, err := SpecArgs(string(b), getenv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, lines...)
	}
	return out, nil
}

// SpecArgs parses the text of a --spec file (see ExpandArgs).
func SpecArgs(text string, getenv func(string) (string, bool)) ([]string, error) {
	var out []string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var missing []string
		line = os.Expand(line, func(k string) string {
			v, ok := getenv(k)
			if !ok {
				missing = append(missing, k)
			}
			return v
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("line %d: unset variable %s", n+1, strings.Join(missing, ", "))
		}
		out = append(out, line)
	}
	return out, nil
}

// ParseArgs parses (already expanded) arguments into Flags; the epoch defaults to
// $SOURCE_DATE_EPOCH from getenv; flag errors and -h go to usage.
func ParseArgs(name string, args []string, getenv func(string) (string, bool), usage io.Writer) (*Flags, error) {
	f := &Flags{}
	if v, ok := getenv("SOURCE_DATE_EPOCH"); ok && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", v)
		}
		f.Spec.Epoch = time.Unix(n, 0).UTC()
	} else {
		f.Spec.Epoch = time.Unix(0, 0).UTC()
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only)", fs.Args())
	}
	return f, nil
}
