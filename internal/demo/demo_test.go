package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hookbot/internal/prosody"
)

// TestDemo runs the demo program as `make demo` does and checks that it
// reports the bot online within a timeout, that the sample hook it
// creates runs for the two items it publishes, then that it stops on
// SIGINT.
func TestDemo(t *testing.T) {
	prosody.Require(t)
	tmp := t.TempDir()
	for _, b := range []struct{ out, pkg string }{{"hookbot", "hookbot/cmd/hookbot"}, {"demo", "hookbot/internal/demo"}} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(tmp, b.out), b.pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(tmp, "demo"), "-hookbot", filepath.Join(tmp, "hookbot"), "-dir", filepath.Join(tmp, "work"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	online := make(chan string, 1)
	hookOutput := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "hookbot is online"):
				online <- line
			case strings.HasPrefix(line, "hook output: "):
				hookOutput <- line
			}
		}
	}()
	select {
	case line := <-online:
		t.Log(line)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("demo did not report the bot online within 30s")
	}
	for i := 1; i <= 2; i++ {
		want := fmt.Sprintf("hook output: items item-%d on demo: <entry xmlns=\"http://www.w3.org/2005/Atom\"><title>Demo item %d</title><updated>", i, i)
		select {
		case line := <-hookOutput:
			if !strings.HasPrefix(line, want) {
				t.Errorf("sample hook output %q, want it to start with %q", line, want)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("the sample hook's output %d did not arrive within 30s", i)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("demo exit after Ctrl-C: %v", err)
	}
	pidFile := filepath.Join(tmp, "work", "prosody", "prosody.pid")
	if out, err := exec.Command("sh", "-c", "test -f "+pidFile+" && kill -0 $(cat "+pidFile+")").CombinedOutput(); err == nil {
		t.Errorf("prosody still running after the demo stopped: %s", out)
	}
}
