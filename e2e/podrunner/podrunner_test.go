package podrunner

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestImageLookup(t *testing.T) {
	m := ImageMap{
		"registry.k8s.io/gateway-api/echo-basic": Sleeper(),
		"example.com/ours:":                      Binary("/bin/ours"),
		"example.com/":                           Binary("/bin/any"),
	}
	for image, want := range map[string]string{
		"registry.k8s.io/gateway-api/echo-basic:v1.5.1":     "sleep",
		"registry.k8s.io/gateway-api/echo-basic@sha256:abc": "sleep",
		"registry.k8s.io/gateway-api/echo-basic":            "sleep",
		"registry.k8s.io/gateway-api/echo-basic-extra:v1":   "",
		"example.com/ours:v2":                               "/bin/ours",
		"example.com/other:v2":                              "/bin/any",
		"other.example/x":                                   "",
	} {
		fn, ok := m.Lookup(image)
		got := ""
		if ok {
			p, err := fn(corev1.Container{})
			if err != nil {
				t.Fatal(err)
			}
			got = p.Argv[0]
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", image, got, want)
		}
	}
}

func TestBinaryArgs(t *testing.T) {
	p, err := Binary("/x")(corev1.Container{Command: []string{"/in-image", "serve"}, Args: []string{"--a=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Argv, " ") != "/x serve --a=1" {
		t.Errorf("argv %q", p.Argv)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"$(A)-$(B)": "1-two",
		"$$(A)":     "$(A)",
		"$(C)":      "$(C)",
		"x$":        "x$",
		"$(A":       "$(A",
		"plain":     "plain",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFieldValue(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n", Labels: map[string]string{"app": "x"}}}
	for path, want := range map[string]string{
		"metadata.name": "p", "metadata.namespace": "n", "status.podIP": "10.0.0.2", "spec.nodeName": "node",
		"metadata.labels['app']": "x", "metadata.labels": `app="x"`,
	} {
		got, err := fieldValue(pod, path, "10.0.0.2", "10.0.0.1", "node")
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := fieldValue(pod, "spec.bogus", "", "", ""); err == nil {
		t.Error("unknown field path accepted")
	}
}

func TestSleepCommand(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want time.Duration
		ok   bool
	}{
		{[]string{"sleep", "5"}, 5 * time.Second, true},
		{[]string{"/bin/sleep", "0.5"}, 500 * time.Millisecond, true},
		{[]string{"/bin/sh", "-c", "sleep 3"}, 3 * time.Second, true},
		{[]string{"sh", "-c", "sleep 3 && echo"}, 0, false},
		{[]string{"/nginx", "-s", "quit"}, 0, false},
	} {
		d, ok := sleepCommand(tc.argv)
		if d != tc.want || ok != tc.ok {
			t.Errorf("%q: %v %v", tc.argv, d, ok)
		}
	}
}

func TestProxyHeader(t *testing.T) {
	src := &net.TCPAddr{IP: net.ParseIP("10.245.0.1"), Port: 40000}
	dst := &net.TCPAddr{IP: net.ParseIP("10.245.0.7"), Port: 443}
	v1, err := ProxyHeader("v1", src, dst)
	if err != nil || string(v1) != "PROXY TCP4 10.245.0.1 10.245.0.7 40000 443\r\n" {
		t.Errorf("v1: %q, %v", v1, err)
	}
	v2, err := ProxyHeader("v2", src, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"), 10, 245, 0, 1, 10, 245, 0, 7)
	want = binary.BigEndian.AppendUint16(want, 40000)
	want = binary.BigEndian.AppendUint16(want, 443)
	if !bytes.Equal(v2, want) {
		t.Errorf("v2: %q, want %q", v2, want)
	}
	six := &net.TCPAddr{IP: net.ParseIP("fd00::1"), Port: 1}
	v2six, _ := ProxyHeader("v2", six, six)
	if v2six[13] != 0x21 || binary.BigEndian.Uint16(v2six[14:]) != 36 {
		t.Errorf("v2 IPv6 header: %x", v2six[:16])
	}
	if _, err := ProxyHeader("v3", src, dst); err == nil {
		t.Error("v3 accepted")
	}
}

func TestIPAM(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.9.0.0/29") // .1 reserved, .2-.6 usable, .7 broadcast
	a := newIPAM(cidr, net.ParseIP("10.9.0.1"))
	var got []string
	for range 5 {
		ip, err := a.allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip.String())
	}
	if strings.Join(got, ",") != "10.9.0.2,10.9.0.3,10.9.0.4,10.9.0.5,10.9.0.6" {
		t.Errorf("allocated %v", got)
	}
	if _, err := a.allocate(); err == nil {
		t.Error("exhausted range still allocates")
	}
	a.release(net.ParseIP("10.9.0.4"))
	if ip, err := a.allocate(); err != nil || ip.String() != "10.9.0.4" {
		t.Errorf("after release: %v, %v", ip, err)
	}
}

func TestLogServe(t *testing.T) {
	lf, err := createLog(filepath.Join(t.TempDir(), "c.log"))
	if err != nil {
		t.Fatal(err)
	}
	out := lf.stream("stdout")
	_, _ = out.Write([]byte("one\ntw"))
	_, _ = out.Write([]byte("o\nthree\npartial"))
	out.flush()
	read := func(opts logOptions) string {
		var b bytes.Buffer
		if err := lf.serve(context.Background(), &b, opts); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if got := read(logOptions{tailLines: -1}); got != "one\ntwo\nthree\npartial\n" {
		t.Errorf("all: %q", got)
	}
	if got := read(logOptions{tailLines: 2}); got != "three\npartial\n" {
		t.Errorf("tail: %q", got)
	}
	if got := read(logOptions{tailLines: -1, limitBytes: 6}); got != "one\ntw" {
		t.Errorf("limit: %q", got)
	}
	if got := read(logOptions{tailLines: 1, timestamps: true}); !strings.HasSuffix(got, " partial\n") || len(got) < 20 {
		t.Errorf("timestamps: %q", got)
	}
	// follow returns once the instance has ended and everything is delivered.
	done := make(chan string)
	go func() { done <- read(logOptions{tailLines: 0, follow: true}) }()
	time.Sleep(150 * time.Millisecond)
	_, _ = out.Write([]byte("late\n"))
	lf.close()
	select {
	case got := <-done:
		if got != "late\n" {
			t.Errorf("follow: %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end after close")
	}
}

func TestMountPoints(t *testing.T) {
	root := t.TempDir()
	m := newMountPoints()
	a := mount{src: "/src", dst: filepath.Join(root, "etc/app/secret")}
	b := mount{src: "/src", dst: filepath.Join(root, "etc/app/cm")}
	f := mount{file: true, src: "/src/file", dst: filepath.Join(root, "etc/app.conf")}
	for _, mt := range []mount{a, b, b, f} {
		if err := m.acquire(mt); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(f.dst); err != nil || fi.IsDir() {
		t.Fatalf("file target: %v", err)
	}
	m.release(a.dst)
	m.release(f.dst)
	if _, err := os.Stat(a.dst); !os.IsNotExist(err) {
		t.Errorf("released target kept: %v", err)
	}
	if _, err := os.Stat(b.dst); err != nil {
		t.Errorf("target in use removed: %v", err)
	}
	m.release(b.dst)
	if _, err := os.Stat(b.dst); err != nil {
		t.Errorf("target with one user left removed: %v", err)
	}
	m.release(b.dst)
	if _, err := os.Stat(filepath.Join(root, "etc")); !os.IsNotExist(err) {
		t.Errorf("created parents kept: %v", err)
	}
}

func TestWriteItems(t *testing.T) {
	dir := t.TempDir()
	mode := int32(0o600)
	data := map[string][]byte{"tls.crt": []byte("C"), "tls.key": []byte("K")}
	if err := writeItems(dir, data, []corev1.KeyToPath{{Key: "tls.crt", Path: "a/b.crt", Mode: &mode}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a/b.crt")); err != nil || string(b) != "C" {
		t.Errorf("item: %q, %v", b, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "a/b.crt")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, "tls.key")); !os.IsNotExist(err) {
		t.Error("unlisted key written")
	}
	if err := writeItems(dir, data, []corev1.KeyToPath{{Key: "missing", Path: "x"}}, nil, nil); err == nil {
		t.Error("missing key accepted")
	}
	if err := writeItems(dir, data, []corev1.KeyToPath{{Key: "tls.crt", Path: "../escape"}}, nil, nil); err == nil {
		t.Error("escaping path accepted")
	}
}
