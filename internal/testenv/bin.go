package testenv

import (
	"os"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
)

// NghttpxBin returns $NGHTTPX_BIN and fails the test when it is unset or missing.
func NghttpxBin(t testing.TB) string {
	t.Helper()
	return binFromEnv(t, "NGHTTPX_BIN", "the nghttpx that `make nghttpx` builds")
}

// EchoBin returns $ECHO_BIN (the conformance echo-basic) and fails the test when it
// is unset or missing.
func EchoBin(t testing.TB) string {
	t.Helper()
	return binFromEnv(t, "ECHO_BIN", "echo-basic (`make echo`)")
}

// H2loadBin returns the h2load built next to $NGHTTPX_BIN (it speaks HTTP/3 when
// nghttpx does) and fails the test when it is missing.
func H2loadBin(t testing.TB) string {
	t.Helper()
	p := nghttpx.H2load(NghttpxBin(t))
	checkExecutable(t, "h2load next to NGHTTPX_BIN", p)
	return p
}

func binFromEnv(t testing.TB, env, what string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: point it at %s, or run make integration", env, what)
	}
	checkExecutable(t, env, p)
	return p
}

func checkExecutable(t testing.TB, what, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err == nil && (fi.IsDir() || fi.Mode()&0o111 == 0) {
		err = os.ErrPermission
	}
	if err != nil {
		t.Fatalf("%s: %s is not an executable file: %v", what, p, err)
	}
}
