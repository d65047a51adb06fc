package proc

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogged(t *testing.T) {
	dir := t.TempDir()
	p, err := StartLogged("sh", filepath.Join(dir, "sh.log"), dir, []string{"GREETING=hello"},
		[]string{"sh", "-c", `echo one; echo "$GREETING"; exec sleep 60`})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Tail(1) != "hello" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.Tail(1); got != "hello" {
		t.Fatalf("Tail(1) = %q, want the environment's greeting", got)
	}
	if got := p.Tail(5); got != "one\nhello" {
		t.Fatalf("Tail(5) = %q", got)
	}
	if p.Exited() {
		t.Fatal("exited while sleeping")
	}
	p.Stop(2 * time.Second)
	if !p.Exited() || p.Err() == nil || !strings.Contains(p.Err().Error(), "terminated") {
		t.Fatalf("after Stop: exited %v err %v, want terminated by SIGTERM", p.Exited(), p.Err())
	}
}
