package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pwFile := write("pw", "file-secret\n")
	full := write("full.toml", `
jid = "bot@example.org"
password_file = "pw"
server = "xmpp.example.org:5222"
resource = "res"
tls = "direct"
ca_file = "ca.pem"
insecure_skip_verify = true
database = "db/hookbot.db"
admins = ["admin@example.org"]
users = ["example.org", "u@other.org"]
user_types = ["go_code"]
hooks_path = "/abs/hooks"
hook_timeout = "3s"
workers = 7
catchup_items = 5
log_level = "debug"
`)
	minimal := write("min.toml", "jid = \"bot@example.org\"\npassword = \"secret\"\n")

	tests := []struct {
		name    string
		args    []string
		env     []string
		check   func(t *testing.T, c Config)
		wantErr string // substring of the error; "" for success
	}{
		{name: "full file", args: []string{"-c", full}, check: func(t *testing.T, c Config) {
			want := []struct{ got, want any }{
				{c.JID.String(), "bot@example.org"}, {c.Password, "file-secret"},
				{c.Server, "xmpp.example.org:5222"}, {c.Resource, "res"}, {c.TLS, "direct"},
				{c.CAFile, filepath.Join(dir, "ca.pem")}, {c.InsecureSkipVerify, true},
				{c.Database, filepath.Join(dir, "db/hookbot.db")}, {len(c.Admins), 1}, {len(c.Users), 2},
				{string(c.UserTypes[0]), "go_code"}, {c.HooksPath, "/abs/hooks"},
				{c.HookTimeout, 3 * time.Second}, {c.Workers, 7}, {c.CatchupItems, 5}, {c.LogLevel.String(), "DEBUG"},
			}
			for i, w := range want {
				if w.got != w.want {
					t.Errorf("value %d: got %v, want %v", i, w.got, w.want)
				}
			}
		}},
		{name: "defaults", args: []string{"-c", minimal}, check: func(t *testing.T, c Config) {
			if c.Resource != "hookbot" || c.TLS != "starttls" || c.HookTimeout != 10*time.Second ||
				c.CatchupItems != 50 || c.Workers < 1 || c.LogLevel.String() != "INFO" ||
				c.Database != filepath.Join(dir, "hookbot.db") && c.Database != "hookbot.db" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "flag beats env beats file", args: []string{"-c", minimal, "--ca-file", "x.pem", "--log_level=warn"},
			env: []string{"HOOKBOT_CA_FILE=env.pem", "HOOKBOT_RESOURCE=envres", "HOOKBOT_LOG_LEVEL=error"},
			check: func(t *testing.T, c Config) {
				if c.CAFile != "x.pem" || c.Resource != "envres" || c.LogLevel.String() != "WARN" {
					t.Errorf("got ca_file %q resource %q log_level %v", c.CAFile, c.Resource, c.LogLevel)
				}
			}},
		{name: "flag password replaces file's password_file", args: []string{"-c", full, "--password", "flagpw"},
			check: func(t *testing.T, c Config) {
				if c.Password != "flagpw" {
					t.Errorf("password %q", c.Password)
				}
			}},
		{name: "bool flag alone", args: []string{"-c", minimal, "--insecure-skip-verify"},
			check: func(t *testing.T, c Config) {
				if !c.InsecureSkipVerify {
					t.Error("insecure_skip_verify not set")
				}
			}},
		{name: "env only", env: []string{"HOOKBOT_JID=b@x.org", "HOOKBOT_PASSWORD_FILE=" + pwFile, "HOOKBOT_ADMINS=a@x.org, c@x.org"},
			args: []string{"-c", write("empty.toml", "")},
			check: func(t *testing.T, c Config) {
				if c.Password != "file-secret" || len(c.Admins) != 2 {
					t.Errorf("password %q admins %v", c.Password, c.Admins)
				}
			}},
		{name: "tls none on loopback", args: []string{"-c", minimal, "--tls", "none", "--server", "127.0.0.1:5222"}},
		{name: "tls none on localhost", args: []string{"-c", minimal, "--tls", "none", "--server", "localhost:5222"}},
		{name: "tls none on ::1", args: []string{"-c", minimal, "--tls", "none", "--server", "[::1]:5222"}},

		{name: "unknown key in file", args: []string{"-c", write("unk.toml", "jid = \"b@x.org\"\npassword = \"p\"\ncolour = \"blue\"\n")}, wantErr: `unknown key "colour"`},
		{name: "unknown flag", args: []string{"-c", minimal, "--colour", "blue"}, wantErr: "--colour"},
		{name: "unknown env", args: []string{"-c", minimal}, env: []string{"HOOKBOT_COLOUR=blue"}, wantErr: "HOOKBOT_COLOUR"},
		{name: "missing jid", args: []string{"-c", write("nojid.toml", "password = \"p\"\n")}, wantErr: "jid is required"},
		{name: "jid with resource", args: []string{"-c", minimal, "--jid", "b@x.org/r"}, wantErr: "jid"},
		{name: "missing password", args: []string{"-c", write("nopw.toml", "jid = \"b@x.org\"\n")}, wantErr: "password"},
		{name: "both passwords in file", args: []string{"-c", write("both.toml", "jid = \"b@x.org\"\npassword = \"p\"\npassword_file = \"pw\"\n")}, wantErr: "password and password_file"},
		{name: "tls none remote", args: []string{"-c", minimal, "--tls", "none", "--server", "xmpp.example.org:5222"}, wantErr: `tls = "none"`},
		{name: "tls none without server", args: []string{"-c", minimal, "--tls", "none"}, wantErr: `tls = "none"`},
		{name: "bad tls", args: []string{"-c", minimal, "--tls", "ssl"}, wantErr: "tls"},
		{name: "bad duration", args: []string{"-c", minimal, "--hook-timeout", "10"}, wantErr: "hook-timeout"},
		{name: "bad duration in file", args: []string{"-c", write("dur.toml", "jid = \"b@x.org\"\npassword = \"p\"\nhook_timeout = 10\n")}, wantErr: "hook_timeout"},
		{name: "bad workers", args: []string{"-c", minimal, "--workers", "0"}, wantErr: "workers"},
		{name: "bad log level", args: []string{"-c", minimal, "--log-level", "loud"}, wantErr: "log_level"},
		{name: "bad user type", args: []string{"-c", minimal, "--user-types", "python"}, wantErr: "user_types"},
		{name: "bad server", args: []string{"-c", minimal, "--server", "nohost"}, wantErr: "server"},
		{name: "wrong type in file", args: []string{"-c", write("type.toml", "jid = \"b@x.org\"\npassword = \"p\"\nadmins = \"a@x.org\"\n")}, wantErr: `"admins"`},
		{name: "missing explicit file", args: []string{"-c", filepath.Join(dir, "nope.toml")}, wantErr: "nope.toml"},
		{name: "bad toml", args: []string{"-c", write("bad.toml", "jid = \n")}, wantErr: "bad.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := LoadConfig(tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestConfigNeverShowsPassword(t *testing.T) {
	c := Config{Password: "hunter2", Resource: "r"}
	if s := c.LogValue().String(); strings.Contains(s, "hunter2") {
		t.Errorf("LogValue shows the password: %s", s)
	}
}

func TestLoadConfigRest(t *testing.T) {
	_, rest, err := LoadConfig([]string{"--jid", "b@x.org", "--password", "p", "-c", filepath.Join(t.TempDir(), "x.toml")}, nil)
	if err == nil {
		t.Fatal("missing explicit file accepted")
	}
	_, rest, err = LoadConfig([]string{"--jid", "b@x.org", "--password", "p", "arg1", "--", "-x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rest, " ") != "arg1 -x" {
		t.Errorf("rest = %q", rest)
	}
}
