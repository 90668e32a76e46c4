package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/commands"
	"hookbot/internal/prosody"
)

// Tests of hookbot ctl (SPEC §7, issue 6): flag and environment parsing
// as unit tests; the commands, output formats and exit statuses against
// the rig's Prosody and an in-process bot.

func TestCtlFlags(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"HOOKBOT_CTL_JID":      "admin@localhost",
		"HOOKBOT_CTL_PASSWORD": "env-pass",
		"HOOKBOT_CTL_BOT":      "bot@localhost",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(t *testing.T, o ctlOptions)
		rest    []string
		wantErr string
	}{
		{name: "env only", env: base, args: []string{"hook", "list"}, rest: []string{"hook", "list"},
			check: func(t *testing.T, o ctlOptions) {
				if o.JID.String() != "admin@localhost" || o.Password != "env-pass" || o.Bot.String() != "bot@localhost" ||
					o.TLS != "starttls" || o.Timeout != 30*time.Second || o.Server != "" || o.InsecureSkipVerify {
					t.Errorf("options %+v", o)
				}
			}},
		{name: "flags win over env", env: with("HOOKBOT_CTL_SERVER", "env:1", "HOOKBOT_CTL_TIMEOUT", "5s"),
			args: []string{"--jid", "user@localhost", "--password", "flag-pass", "--server", "127.0.0.1:5222",
				"--tls", "none", "-ca-file", "ca.pem", "--insecure-skip-verify", "--bot", "bot@localhost/r",
				"--timeout", "2s", "hook", "list", "-O", "json"},
			rest: []string{"hook", "list", "-O", "json"},
			check: func(t *testing.T, o ctlOptions) {
				if o.JID.String() != "user@localhost" || o.Password != "flag-pass" || o.Server != "127.0.0.1:5222" ||
					o.TLS != "none" || o.CAFile != "ca.pem" || !o.InsecureSkipVerify || o.Bot.String() != "bot@localhost/r" ||
					o.Timeout != 2*time.Second {
					t.Errorf("options %+v", o)
				}
			}},
		{name: "env for every option", env: with("HOOKBOT_CTL_SERVER", "localhost:5222", "HOOKBOT_CTL_TLS", "direct",
			"HOOKBOT_CTL_CA_FILE", "ca.pem", "HOOKBOT_CTL_INSECURE_SKIP_VERIFY", "true", "HOOKBOT_CTL_TIMEOUT", "1m"),
			args: []string{"hook", "list"}, rest: []string{"hook", "list"},
			check: func(t *testing.T, o ctlOptions) {
				if o.Server != "localhost:5222" || o.TLS != "direct" || o.CAFile != "ca.pem" || !o.InsecureSkipVerify || o.Timeout != time.Minute {
					t.Errorf("options %+v", o)
				}
			}},
		{name: "password file flag wins over env password", env: base, args: []string{"--password-file", pwFile, "hook", "list"},
			rest: []string{"hook", "list"},
			check: func(t *testing.T, o ctlOptions) {
				if o.Password != "from-file" {
					t.Errorf("password %q, want from-file (trailing newline cut)", o.Password)
				}
			}},
		{name: "password file from env", env: map[string]string{"HOOKBOT_CTL_JID": "a@b", "HOOKBOT_CTL_BOT": "b@b", "HOOKBOT_CTL_PASSWORD_FILE": pwFile},
			args: []string{"hook", "list"}, rest: []string{"hook", "list"},
			check: func(t *testing.T, o ctlOptions) {
				if o.Password != "from-file" {
					t.Errorf("password %q", o.Password)
				}
			}},
		{name: "no jid", env: map[string]string{"HOOKBOT_CTL_PASSWORD": "p", "HOOKBOT_CTL_BOT": "b@b"}, args: []string{"hook", "list"}, wantErr: "--jid"},
		{name: "no bot", env: map[string]string{"HOOKBOT_CTL_PASSWORD": "p", "HOOKBOT_CTL_JID": "b@b"}, args: []string{"hook", "list"}, wantErr: "--bot"},
		{name: "no password", env: map[string]string{"HOOKBOT_CTL_BOT": "p@b", "HOOKBOT_CTL_JID": "b@b"}, args: []string{"hook", "list"}, wantErr: "--password"},
		{name: "both password flags", env: base, args: []string{"--password", "x", "--password-file", pwFile, "hook", "list"}, wantErr: "not both"},
		{name: "both password envs", env: with("HOOKBOT_CTL_PASSWORD_FILE", pwFile), args: []string{"hook", "list"}, wantErr: "not both"},
		{name: "missing password file", env: base, args: []string{"--password-file", "/nonexistent/pw", "hook", "list"}, wantErr: "password file"},
		{name: "bad jid", env: base, args: []string{"--jid", "@@", "hook", "list"}, wantErr: "--jid"},
		{name: "tls none remote", env: base, args: []string{"--tls", "none", "--server", "xmpp.example.org:5222", "hook", "list"}, wantErr: "loopback"},
		{name: "tls none without server", env: with("HOOKBOT_CTL_TLS", "none"), args: []string{"hook", "list"}, wantErr: "loopback"},
		{name: "bad tls", env: base, args: []string{"--tls", "ssl", "hook", "list"}, wantErr: "starttls, direct or none"},
		{name: "bad timeout", env: base, args: []string{"--timeout", "soon", "hook", "list"}, wantErr: "--timeout"},
		{name: "negative timeout", env: with("HOOKBOT_CTL_TIMEOUT", "-1s"), args: []string{"hook", "list"}, wantErr: "--timeout"},
		{name: "bad insecure env", env: with("HOOKBOT_CTL_INSECURE_SKIP_VERIFY", "maybe"), args: []string{"hook", "list"}, wantErr: "INSECURE_SKIP_VERIFY"},
		{name: "unknown flag", env: base, args: []string{"--port", "1", "hook", "list"}, wantErr: "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, rest, err := parseCtlFlags(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rest, tt.rest) {
				t.Errorf("rest %q, want %q", rest, tt.rest)
			}
			tt.check(t, o)
		})
	}
}

func TestCtlCommandParse(t *testing.T) {
	code := filepath.Join(t.TempDir(), "code.go")
	if err := os.WriteFile(code, []byte("return nil\r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    commands.Invocation
		raw     bool
		wantErr string
	}{
		{name: "list", args: []string{"hook", "list"}, want: commands.Invocation{Command: "list", Values: map[string][]string{}, Output: "simple"}},
		{name: "list json", args: []string{"hook", "list", "-O", "json"}, want: commands.Invocation{Command: "list", Values: map[string][]string{}, Output: "json"}},
		{name: "list json-raw", args: []string{"hook", "list", "-O", "json-raw"}, raw: true, want: commands.Invocation{Command: "list", Values: map[string][]string{}, Output: "json"}},
		{name: "list json-raw attached", args: []string{"hook", "list", "--output=json-raw"}, raw: true, want: commands.Invocation{Command: "list", Values: map[string][]string{}, Output: "json"}},
		{name: "list bad output", args: []string{"hook", "list", "-O", "xml"}, wantErr: "output must be"},
		{name: "create words", args: []string{"hook", "create", "-n", "news", "-s", "pubsub.localhost", "-t", "go_code", "-e", "items", "-e", "retract", "-P", "return", "nil"},
			want: commands.Invocation{Command: "create", Values: map[string][]string{
				"node": {"news"}, "service": {"pubsub.localhost"}, "type": {"go_code"}, "events": {"items", "retract"},
				"persistent": {"1"}, "arg": {"return nil"}}}},
		{name: "create stdin", args: []string{"hook", "create", "-n", "news", "-t", "go_code", "-"}, stdin: "import \"fmt\"\r\nfmt.Println(item.ID)\nreturn nil\n\n",
			want: commands.Invocation{Command: "create", Values: map[string][]string{
				"node": {"news"}, "type": {"go_code"}, "arg": {"import \"fmt\"\nfmt.Println(item.ID)\nreturn nil"}}}},
		{name: "create from file", args: []string{"hook", "create", "-nnews", "--from-file", code, "--type=go_code"},
			want: commands.Invocation{Command: "create", Values: map[string][]string{
				"node": {"news"}, "type": {"go_code"}, "arg": {"return nil"}}}},
		{name: "create from file attached", args: []string{"hook", "create", "--from-file=" + code, "-P", "-n", "news"},
			want: commands.Invocation{Command: "create", Values: map[string][]string{
				"node": {"news"}, "persistent": {"1"}, "arg": {"return nil"}}}},
		{name: "create from file and arg", args: []string{"hook", "create", "-n", "news", "--from-file", code, "return", "nil"}, wantErr: "not both"},
		{name: "create from missing file", args: []string{"hook", "create", "-n", "news", "--from-file", "/nonexistent.go"}, wantErr: "--from-file"},
		{name: "create no arg", args: []string{"hook", "create", "-n", "news"}, wantErr: "needs ARG"},
		{name: "create empty stdin", args: []string{"hook", "create", "-n", "news", "-"}, stdin: "\n", wantErr: "needs ARG"},
		{name: "create no node", args: []string{"hook", "create", "return nil"}, wantErr: "-n NODE"},
		{name: "create bad flag", args: []string{"hook", "create", "-x", "news", "a"}, wantErr: "unknown option -x"},
		{name: "delete ids", args: []string{"hook", "delete", "abc", "def"},
			want: commands.Invocation{Command: "delete", Values: map[string][]string{"hooks": {"abc", "def"}}}},
		{name: "delete filter", args: []string{"hook", "delete", "-n", "news", "-a", "return nil"},
			want: commands.Invocation{Command: "delete", Values: map[string][]string{"node": {"news"}, "arg": {"return nil"}}}},
		{name: "delete nothing", args: []string{"hook", "delete"}, wantErr: "ids or -n NODE"},
		{name: "no command", args: nil, wantErr: "no command"},
		{name: "not hook", args: []string{"node", "list"}, wantErr: "unknown command"},
		{name: "unknown hook command", args: []string{"hook", "show"}, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parseCtlCommand(tt.args, strings.NewReader(tt.stdin))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req.Inv, tt.want) || req.Raw != tt.raw {
				t.Errorf("got %+v raw %v, want %+v raw %v", req.Inv, req.Raw, tt.want, tt.raw)
			}
		})
	}
}

// ctlResult is the outcome of one hookbot ctl run.
type ctlResult struct {
	code           int
	stdout, stderr string
}

// ctl runs hookbot ctl in this process as user of the rig, with the
// connection settings in the environment, extra (KEY, value pairs)
// added, and stdin as standard input.
func (r *rig) ctl(t *testing.T, user, stdin string, extra []string, args ...string) ctlResult {
	t.Helper()
	env := map[string]string{
		"HOOKBOT_CTL_JID":      user + "@localhost",
		"HOOKBOT_CTL_PASSWORD": user + "-pass",
		"HOOKBOT_CTL_BOT":      "bot@localhost",
		"HOOKBOT_CTL_SERVER":   r.srv.Addr,
		"HOOKBOT_CTL_CA_FILE":  r.srv.CAFile,
		"HOOKBOT_CTL_TIMEOUT":  "20s",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	var stdout, stderr bytes.Buffer
	code := runCtl(context.Background(), args, ctlIO{
		Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
	})
	return ctlResult{code, stdout.String(), stderr.String()}
}

// ok checks that res succeeded with nothing on stderr and returns its
// stdout without the final newline.
func (res ctlResult) ok(t *testing.T) string {
	t.Helper()
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	return strings.TrimSuffix(res.stdout, "\n")
}

// createdID returns the id in "Hook <id> created".
func createdID(t *testing.T, out string) string {
	t.Helper()
	var id string
	if n, err := fmt.Sscanf(out, "Hook %s created", &id); n != 1 || err != nil || out != "Hook "+id+" created" {
		t.Fatalf("create printed %q, want Hook <id> created", out)
	}
	return id
}

func TestIntegrationCtl(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")
	admin.createNode("other")

	// Empty lists in every format.
	if out := r.ctl(t, "admin", "", nil, "hook", "list").ok(t); out != "No hooks." {
		t.Errorf("empty simple list %q", out)
	}
	for _, o := range []string{"json", "json-raw"} {
		if out := r.ctl(t, "admin", "", nil, "hook", "list", "-O", o).ok(t); out != "[]" {
			t.Errorf("empty %s list %q, want []", o, out)
		}
	}

	// go_code from the command line (with the bot's full JID), from
	// standard input and from a local file.
	idWords := createdID(t, r.ctl(t, "admin", "", []string{"HOOKBOT_CTL_BOT", "bot@localhost/hookbot"},
		"hook", "create", "-n", "news", "-s", "pubsub.localhost", "-t", "go_code", "-e", "items", "-e", "retract", "return", "nil").ok(t))
	idStdin := createdID(t, r.ctl(t, "admin", reportHook("admin@localhost/test")+"\n", nil,
		"hook", "create", "-n", "news", "-s", "pubsub.localhost", "-t", "go_code", "-P", "-").ok(t))
	codeFile := filepath.Join(t.TempDir(), "code.txt")
	ctlWriteFile(t, codeFile, "bot.Log(item.ID)\nreturn nil\n")
	idFromFile := createdID(t, r.ctl(t, "admin", "", nil,
		"hook", "create", "-n", "other", "-s", "pubsub.localhost", "-t", "go_code", "--from-file", codeFile).ok(t))
	// go_file: a file on the bot's machine.
	goFile := filepath.Join(t.TempDir(), "hook.go")
	ctlWriteFile(t, goFile, "package h\n\nimport (\n\t\"context\"\n\t\"hookbot\"\n)\n\nfunc Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error { return nil }\n")
	idFile := createdID(t, r.ctl(t, "admin", "", nil,
		"hook", "create", "-n", "other", "-s", "pubsub.localhost", "-t", "go_file", goFile).ok(t))
	// go: a package under hooks_path/src, the default type.
	ctlWriteFile(t, filepath.Join(r.config().HooksPath, "src", "example.org", "ctlhook", "hook.go"),
		"package ctlhook\n\nimport (\n\t\"context\"\n\t\"hookbot\"\n)\n\nfunc Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error { return nil }\n")
	idGo := createdID(t, r.ctl(t, "admin", "", nil, "hook", "create", "-n", "news", "-s", "pubsub.localhost", "example.org/ctlhook").ok(t))

	// The hook from standard input runs.
	admin.publish("pubsub.localhost", "news", "i1", "<n xmlns='urn:t'>1</n>")
	if m := admin.next(10 * time.Second); m.Body != `items i1 <n xmlns="urn:t">1</n>` {
		t.Errorf("hook from stdin sent %q", m.Body)
	}

	// JSON lists: indented and one line, the same hooks.
	want := map[string]commands.Entry{
		idWords:    {ID: idWords, Owner: "admin@localhost", Service: "pubsub.localhost", Node: "news", Type: "go_code", Arg: "return nil", Events: []string{"items", "retract"}, State: "subscribed"},
		idStdin:    {ID: idStdin, Owner: "admin@localhost", Service: "pubsub.localhost", Node: "news", Type: "go_code", Arg: reportHook("admin@localhost/test"), Persistent: true, Events: []string{"items"}, State: "subscribed"},
		idFromFile: {ID: idFromFile, Owner: "admin@localhost", Service: "pubsub.localhost", Node: "other", Type: "go_code", Arg: "bot.Log(item.ID)\nreturn nil", Events: []string{"items"}, State: "subscribed"},
		idFile:     {ID: idFile, Owner: "admin@localhost", Service: "pubsub.localhost", Node: "other", Type: "go_file", Arg: goFile, Events: []string{"items"}, State: "subscribed"},
		idGo:       {ID: idGo, Owner: "admin@localhost", Service: "pubsub.localhost", Node: "news", Type: "go", Arg: "example.org/ctlhook", Events: []string{"items"}, State: "subscribed"},
	}
	var entries []commands.Entry
	for _, o := range []string{"json", "json-raw"} {
		out := r.ctl(t, "admin", "", nil, "hook", "list", "-O", o).ok(t)
		if lines := strings.Count(out, "\n"); (o == "json-raw") != (lines == 0) {
			t.Errorf("-O %s printed %d lines", o, lines+1)
		}
		entries = nil
		if err := json.Unmarshal([]byte(out), &entries); err != nil {
			t.Fatalf("-O %s: %v\n%s", o, err, out)
		}
		if len(entries) != len(want) {
			t.Errorf("-O %s: %d hooks, want %d", o, len(entries), len(want))
		}
		for _, e := range entries {
			if !reflect.DeepEqual(e, want[e.ID]) {
				t.Errorf("-O %s: hook\n%+v, want\n%+v", o, e, want[e.ID])
			}
		}
	}
	// The simple list is what chat shows for the same hooks.
	if out := r.ctl(t, "admin", "", nil, "hook", "list").ok(t); out != commands.RenderSimple(entries) {
		t.Errorf("simple list:\n%s\nwant:\n%s", out, commands.RenderSimple(entries))
	}

	// Delete by id, then by filter (the three go_code hooks... minus the one
	// deleted by id: the two others of type go_code).
	if out := r.ctl(t, "admin", "", nil, "hook", "delete", idWords).ok(t); out != "1 hook(s) have been deleted" {
		t.Errorf("delete by id printed %q", out)
	}
	if out := r.ctl(t, "admin", "", nil, "hook", "delete", "-n", "other", "-s", "pubsub.localhost").ok(t); out != "2 hook(s) have been deleted" {
		t.Errorf("delete by filter printed %q", out)
	}
	if out := r.ctl(t, "admin", "", nil, "hook", "delete", "-n", "news", "-t", "go_code").ok(t); out != "1 hook(s) have been deleted" {
		t.Errorf("delete by filter and type printed %q", out)
	}
	out := r.ctl(t, "admin", "", nil, "hook", "list", "-O", "json-raw").ok(t)
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) != 1 || entries[0].ID != idGo {
		t.Errorf("left after deletes: %s (%v), want only %s", out, err, idGo)
	}

	// Failures: the exit status says which, stdout stays empty.
	lst := net.ListenConfig{}
	mute, err := lst.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() { // accepts and never speaks
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	failures := []struct {
		name, user, stdin string
		env               []string
		args              []string
		code              int
		stderr            string
	}{
		{"wrong password", "admin", "", []string{"HOOKBOT_CTL_PASSWORD", "wrong"}, []string{"hook", "list"}, ctlConn, "authentication failed"},
		{"no server", "admin", "", []string{"HOOKBOT_CTL_SERVER", "127.0.0.1:1"}, []string{"hook", "list"}, ctlConn, "dial"},
		{"unknown bot", "admin", "", []string{"HOOKBOT_CTL_BOT", "nobody@localhost"}, []string{"hook", "list"}, ctlConn, "not reachable"},
		{"bot resource offline", "admin", "", []string{"HOOKBOT_CTL_BOT", "bot@localhost/elsewhere"}, []string{"hook", "list"}, ctlConn, "not reachable"},
		{"stranger", "stranger", "", nil, []string{"hook", "list"}, ctlRefused, "forbidden"},
		{"user creates go_code", "user", "return nil", nil, []string{"hook", "create", "-n", "news", "-s", "pubsub.localhost", "-t", "go_code", "-"}, ctlRefused, "forbidden"},
		{"compile error", "admin", "return undefinedThing\n", nil, []string{"hook", "create", "-n", "news", "-s", "pubsub.localhost", "-t", "go_code", "-"}, ctlRefused, "code:1:"},
		{"unknown id", "admin", "", nil, []string{"hook", "delete", "nosuchhook"}, ctlRefused, "nosuchhook"},
		{"bad event", "admin", "", nil, []string{"hook", "create", "-n", "news", "-e", "publish", "return nil"}, ctlRefused, "events"},
		{"usage", "admin", "", nil, []string{"hook", "create", "--bogus"}, ctlUsage, "unknown option --bogus"},
		{"timeout", "admin", "", []string{"HOOKBOT_CTL_SERVER", mute.Addr().String(), "HOOKBOT_CTL_TIMEOUT", "500ms"}, []string{"hook", "list"}, ctlTimeout, "timed out"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			res := r.ctl(t, f.user, f.stdin, f.env, f.args...)
			if res.code != f.code || res.stdout != "" || !strings.Contains(res.stderr, f.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, empty stdout, stderr with %q", res.code, res.stdout, res.stderr, f.code, f.stderr)
			}
		})
	}
}

// ctlWriteFile writes content to path, creating its directories.
func ctlWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readmeScripts returns the ```sh blocks of the README.md section
// heading, in order.
func readmeScripts(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", heading)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var blocks []string
	for {
		_, rest, ok := strings.Cut(section, "\n```sh\n")
		if !ok {
			return blocks
		}
		block, after, ok := strings.Cut(rest, "\n```\n")
		if !ok {
			t.Fatalf("unclosed ```sh block in README.md section %q", heading)
		}
		blocks = append(blocks, block)
		section = after
	}
}

// TestIntegrationCtlReadme runs the examples of README.md's "Scripting
// hookbot" verbatim with bash, against a built hookbot on PATH, with only
// the documented HOOKBOT_CTL_* variables pointing at the rig.
func TestIntegrationCtlReadme(t *testing.T) {
	blocks := readmeScripts(t, "Scripting hookbot")
	if len(blocks) < 4 {
		t.Fatalf("found %d sh blocks in README.md, want at least 4", len(blocks))
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	r := newRig(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "hookbot"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")

	script := "set -euo pipefail\n" + strings.Join(blocks, "\n")
	cmd := exec.Command(bash, "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOOKBOT_CTL_JID=admin@localhost",
		"HOOKBOT_CTL_PASSWORD=admin-pass",
		"HOOKBOT_CTL_BOT=bot@localhost",
		"HOOKBOT_CTL_SERVER="+r.srv.Addr,
		"HOOKBOT_CTL_CA_FILE="+r.srv.CAFile,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("README examples: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("README examples wrote to stderr:\n%s", stderr.String())
	}
	out := stdout.String()
	t.Logf("README examples printed:\n%s", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// create, echo, the simple list, the json-raw line, 2 deletes, the
	// status line.
	if len(lines) < 8 {
		t.Fatalf("%d lines printed, want at least 8", len(lines))
	}
	first := createdID(t, lines[0])
	id := strings.TrimPrefix(lines[1], "created ")
	if !isHookID(id) || id == first {
		t.Errorf("second line %q, want created <new id>", lines[1])
	}
	n := len(lines)
	simple, raw := strings.Join(lines[2:n-4], "\n"), lines[n-4]
	var listed []commands.Entry
	if err := json.Unmarshal([]byte(raw), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("json-raw line %q: %v, want 2 hooks", raw, err)
	}
	if simple != commands.RenderSimple(listed) {
		t.Errorf("simple list:\n%s\nwant:\n%s", simple, commands.RenderSimple(listed))
	}
	for _, e := range listed {
		if e.ID != first && e.ID != id {
			t.Errorf("listed hook %s, want %s and %s", e.ID, first, id)
		}
	}
	wantTail := []string{"1 hook(s) have been deleted", "1 hook(s) have been deleted", "saved 0 hook(s)"}
	if !reflect.DeepEqual(lines[n-3:], wantTail) {
		t.Errorf("last lines %q, want %q", lines[n-3:], wantTail)
	}
}

func isHookID(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// TestIntegrationCtlBotFromPresence checks that a bare --bot is resolved
// from the presence the account receives: admin is subscribed to user,
// whose client is online as user@localhost/test; ctl sends its command
// there (user is no bot, so it fails naming that full JID), not to the
// default resource.
func TestIntegrationCtlBotFromPresence(t *testing.T) {
	r := newRig(t)
	admin := r.client(t, "admin")
	user := r.client(t, "user")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subscribe := stanza.Presence{To: jid.MustParse("user@localhost"), Type: stanza.SubscribePresence}
	if err := admin.s.Send(ctx, subscribe.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	approve := stanza.Presence{To: jid.MustParse("admin@localhost"), Type: stanza.SubscribedPresence}
	if err := user.s.Send(ctx, approve.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	var res ctlResult
	for {
		res = r.ctl(t, "admin", "", []string{"HOOKBOT_CTL_BOT", "user@localhost"}, "hook", "list")
		if strings.Contains(res.stderr, "user@localhost/test") || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res.code != ctlConn || !strings.Contains(res.stderr, "bot user@localhost/test is not reachable") {
		t.Errorf("exit %d, stderr %q; want 2 and the full JID from presence", res.code, res.stderr)
	}
}

// TestIntegrationCtlTLSModes: ctl reaches the bot over each way to
// connect: STARTTLS, direct TLS (XEP-0368) and, on loopback, none.
func TestIntegrationCtlTLSModes(t *testing.T) {
	r := newRig(t, prosody.WithDirectTLS(), prosody.WithPlainC2S())
	r.startBot(t, nil)
	for _, tt := range []struct {
		name  string
		extra []string
	}{
		{"starttls", []string{"HOOKBOT_CTL_TLS", "starttls"}},
		{"direct", []string{"HOOKBOT_CTL_TLS", "direct", "HOOKBOT_CTL_SERVER", r.srv.DirectTLSAddr}},
		{"none", []string{"HOOKBOT_CTL_TLS", "none"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if out := r.ctl(t, "admin", "", tt.extra, "hook", "list").ok(t); out != "No hooks." {
				t.Errorf("hook list printed %q", out)
			}
		})
	}
}
