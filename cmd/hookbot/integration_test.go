package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/internal/prosody"
	"hookbot/internal/testutil"
)

// buildHookbot builds the hookbot binary into a temporary directory.
func buildHookbot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookbot")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeConfig writes a hookbot.toml for srv into dir.
func writeConfig(t *testing.T, dir string, srv *prosody.Server, password string) string {
	t.Helper()
	cfg := fmt.Sprintf(`jid = "bot@localhost"
password = %q
server = %q
resource = "proc"
ca_file = %q
database = "hookbot.db"
admins = ["admin@localhost"]
log_level = "debug"
`, password, srv.Addr, srv.CAFile)
	p := filepath.Join(dir, "hookbot.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type seenPresence struct {
	from jid.JID
	typ  string
}

// dialAdmin logs in as admin, asks for the roster, sends presence and
// returns the presences it receives.
func dialAdmin(t *testing.T, ctx context.Context, srv *prosody.Server) (*xmpp.Session, <-chan seenPresence) {
	t.Helper()
	ch := make(chan seenPresence, 100)
	h := xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		if start.Name.Local != "presence" {
			return nil
		}
		var p seenPresence
		for _, a := range start.Attr {
			switch a.Name.Local {
			case "from":
				p.from, _ = jid.Parse(a.Value)
			case "type":
				p.typ = a.Value
			}
		}
		ch <- p
		return nil
	})
	s := srv.DialServe(t, ctx, "admin", "admin-pass", "desk", h)
	rc, err := s.SendIQ(ctx, stanza.IQ{Type: stanza.GetIQ}.Wrap(xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "jabber:iq:roster", Local: "query"}})))
	if err != nil {
		t.Fatalf("roster: %v", err)
	}
	rc.Close()
	if err := s.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	return s, ch
}

func waitPresence(t *testing.T, ch <-chan seenPresence, d time.Duration, what string, match func(seenPresence) bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case p := <-ch:
			if match(p) {
				return
			}
		case <-timeout:
			t.Fatalf("no presence %s within %v", what, d)
		}
	}
}

func TestIntegrationRunAndSIGTERM(t *testing.T) {
	srv := prosody.Start(t)
	srv.Register(t, "bot", "bot-pass")
	srv.Register(t, "admin", "admin-pass")
	bin := buildHookbot(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, srv, "bot-pass")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs testutil.SyncBuffer
	cmd := exec.Command(bin, "run", "-c", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("hookbot log:\n%s", logs.String())
		}
	})

	admin, presences := dialAdmin(t, ctx, srv)
	botFull := jid.MustParse("bot@localhost/proc")
	// Subscribe until the bot is up (it may still be connecting).
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), "msg=connected") {
		if time.Now().After(deadline) {
			t.Fatal("bot did not connect within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := admin.Send(ctx, stanza.Presence{To: botFull.Bare(), Type: stanza.SubscribePresence}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	waitPresence(t, presences, 10*time.Second, "available from the bot", func(p seenPresence) bool {
		return p.from.Equal(botFull) && p.typ == ""
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitPresence(t, presences, 5*time.Second, "unavailable from the bot", func(p seenPresence) bool {
		return p.from.Equal(botFull) && p.typ == "unavailable"
	})
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("hookbot exited with %v, want status 0", err)
		}
	case <-time.After(5*time.Second - time.Since(start)):
		t.Fatal("hookbot did not exit within 5s of SIGTERM")
	}
	if strings.Contains(logs.String(), "bot-pass") {
		t.Error("the password appears in the log")
	}
	if _, err := os.Stat(filepath.Join(dir, "hookbot.db")); err != nil {
		t.Errorf("database not created next to the config: %v", err)
	}
}

func TestIntegrationWrongPasswordExits(t *testing.T) {
	srv := prosody.Start(t)
	srv.Register(t, "bot", "bot-pass")
	bin := buildHookbot(t)
	cfg := writeConfig(t, t.TempDir(), srv, "wrong-pass")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var logs testutil.SyncBuffer
	cmd := exec.CommandContext(ctx, bin, "run", "-c", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || ctx.Err() != nil {
		t.Fatalf("hookbot run = %v (ctx %v), want a non-zero exit before the timeout\n%s", err, ctx.Err(), logs.String())
	}
	if !strings.Contains(logs.String(), "authentication failed") {
		t.Errorf("log does not say authentication failed:\n%s", logs.String())
	}
	if n := strings.Count(srv.LogTail(10000), "Sending[c2s_unauthed]: <failure"); n != 1 {
		t.Errorf("%d SASL failures on the server, want exactly 1 (no retry loop)", n)
	}
	if strings.Contains(logs.String(), "wrong-pass") {
		t.Error("the password appears in the log")
	}
}
