package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRefusesConfig runs the command line as a user would, without a
// server: a bad configuration stops it before it dials.
func TestRunRefusesConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, config, want string
	}{
		{"unknown key", "jid = \"b@x.org\"\npassword = \"p\"\nfrobnicate = true\n", `unknown key "frobnicate"`},
		{"no jid", "password = \"p\"\n", "jid is required"},
		{"tls none on a remote server", "jid = \"b@x.org\"\npassword = \"p\"\ntls = \"none\"\nserver = \"xmpp.example.org:5222\"\n", `tls = "none" is refused unless server is a loopback address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".toml")
			if err := os.WriteFile(p, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), []string{"run", "-c", p}, &stdout, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want non-zero and %q", code, stderr.String(), tc.want)
			}
		})
	}
}

func TestMainDispatch(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{[]string{"version"}, 0, "hookbot ", ""},
		{nil, 2, "", "usage:"},
		{[]string{"frob"}, 2, "", `unknown command "frob"`},
		{[]string{"help"}, 0, "hookbot run", ""},
		{[]string{"check"}, 1, "", "usage: hookbot check"},
		{[]string{"check", "-t", "python", "x"}, 1, "", `unknown hook type "python"`},
		{[]string{"check", "-c", "/nonexistent/hookbot.toml", "-t", "go_code", "return nil"}, 1, "", "/nonexistent/hookbot.toml"},
		{[]string{"check", "-t", "go_code", "return nil"}, 0, "ok", ""},
		{[]string{"check", "-t", "go_code", "var x int = \"s\"\nreturn nil"}, 1, "", "code:1:"},
		{[]string{"check", "-t", "go_code", "return nil\ngo func() {}()"}, 1, "", "code:2:1"},
		{[]string{"check", "-t", "go_file", "/nonexistent/hook.go"}, 1, "", "/nonexistent/hook.go"},
		{[]string{"check", "-t", "go", "example.org/missing"}, 1, "", "example.org/missing"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.inStdout) || !strings.Contains(stderr.String(), tc.inStderr) {
				t.Errorf("exit %d stdout %q stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tc.code, tc.inStdout, tc.inStderr)
			}
		})
	}
}
