// Command demo runs hookbot against a private Prosody on loopback: it
// starts Prosody (as the integration tests do), registers a bot and an
// admin account, writes hookbot.toml into a work directory, runs the bot
// in the foreground and checks that it comes online. Then, as the admin,
// it creates a sample go_code hook through the bot's ad-hoc create
// command, creates a PubSub node, publishes two items and prints what the
// hook sends back, and prints how to connect a client such as Gajim.
// Hook output keeps being printed until Ctrl-C, which stops everything
// it started.
//
//	go run ./internal/demo -hookbot bin/hookbot [-dir DIR]
//
// `make demo` builds hookbot and runs this.
package main

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/internal/prosody"
)

func main() {
	hookbot := flag.String("hookbot", "bin/hookbot", "hookbot binary to run")
	dir := flag.String("dir", "", "work directory (default: a new temporary directory)")
	flag.Parse()
	if err := run(*hookbot, *dir, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(hookbot, dir string, out io.Writer) error {
	if !prosody.Installed() {
		return errors.New("prosody is not installed: apt-get install prosody (make demo does it)")
	}
	bin, err := filepath.Abs(hookbot)
	if err != nil {
		return err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "hookbot-demo-"); err != nil {
			return err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	pdir := filepath.Join(dir, "prosody")
	if err := os.MkdirAll(pdir, 0o750); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := prosody.New(pdir)
	if err != nil {
		return fmt.Errorf("prosody: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("prosody: %w\n%s", err, srv.LogTail(40))
	}
	defer srv.Stop()

	botPass, adminPass := password(), password()
	botJID, err := srv.AddUser("bot", botPass)
	if err != nil {
		return err
	}
	adminJID, err := srv.AddUser("admin", adminPass)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(dir, "hookbot.toml")
	cfg := fmt.Sprintf(`# written by make demo
jid = %q
password = %q
server = %q
ca_file = %q
admins = [%q]
`, botJID, botPass, srv.Addr, srv.CAFile, adminJID)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}

	cmd := exec.Command(bin, "run", "-c", cfgFile)
	cmd.Dir = dir // the database is the default hookbot.db, next to the config
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches it through us
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start hookbot: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	type adminSession struct {
		s    *xmpp.Session
		msgs <-chan string
	}
	online := make(chan error, 1)
	var admin adminSession
	go func() {
		s, msgs, err := waitOnline(ctx, srv, adminJID, adminPass)
		admin = adminSession{s, msgs}
		online <- err
	}()
	select {
	case err := <-online:
		if err != nil {
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return fmt.Errorf("the bot did not come online: %w", err)
		}
	case err := <-exited:
		return fmt.Errorf("hookbot exited: %v", err)
	}
	defer admin.s.Conn().Close()
	defer admin.s.Close()
	fmt.Fprintf(out, "\nhookbot is online as %s/hookbot.\n", botJID)

	sample := make(chan error, 1)
	go func() { sample <- sampleHook(ctx, out, admin.s, admin.msgs, srv, botJID, adminJID) }()
	select {
	case err := <-sample:
		if err != nil {
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return fmt.Errorf("sample hook: %w", err)
		}
	case err := <-exited:
		return fmt.Errorf("hookbot exited: %v", err)
	}
	// Keep showing what the sample hook sends, for items published from
	// a real client.
	go func() {
		for body := range admin.msgs {
			fmt.Fprintf(out, "hook output: %s\n", body)
		}
	}()

	fmt.Fprintf(out, `
  work directory  %s (config hookbot.toml, database hookbot.db)
  XMPP server     %s (Prosody, StartTLS, self-signed certificate %s)
  bot account     %s  password %s
  admin account   %s  password %s

Connect with Gajim: add the account %s with the password above; under
"Connection", use host 127.0.0.1 and port %d, and accept the self-signed
certificate. The admin's roster already has the bot: open its ad-hoc
commands or chat "help" to it. Publish to node %q on %s and the sample
hook chats the item to the admin (it is printed here too).

Press Ctrl-C to stop the bot and Prosody.
`, dir, srv.Addr, srv.CAFile, botJID, botPass, adminJID, adminPass, adminJID, srv.Port, demoNode, srv.PubSub)

	select {
	case <-ctx.Done():
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		fmt.Fprintln(out, "stopped.")
		return nil
	case err := <-exited:
		return fmt.Errorf("hookbot exited: %v", err)
	}
}

// waitOnline logs in as the admin, subscribes to the bot (the bot accepts
// admins) and waits for its available presence. It returns the admin's
// session, still served, and the bodies of the messages the bot sends to
// it; the caller closes the session.
func waitOnline(ctx context.Context, srv *prosody.Server, admin, pass string) (*xmpp.Session, <-chan string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr := jid.MustParse(admin)
	botBare := jid.MustParse("bot@" + srv.Domain)
	var s *xmpp.Session
	var err error
	for s == nil {
		if s, err = prosody.Dial(ctx, srv.Addr, srv.CAFile, addr, pass, "demo"); err != nil && ctx.Err() != nil {
			return nil, nil, err
		}
	}
	fail := func(err error) (*xmpp.Session, <-chan string, error) {
		s.Close()
		s.Conn().Close()
		return nil, nil, err
	}
	seen := make(chan struct{}, 1)
	msgs := make(chan string, 100)
	go s.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		var from, typ string
		for _, a := range start.Attr {
			switch a.Name.Local {
			case "from":
				from = a.Value
			case "type":
				typ = a.Value
			}
		}
		fromBot := false
		if j, err := jid.Parse(from); err == nil && j.Bare().Equal(botBare) {
			fromBot = true
		}
		switch {
		case start.Name.Local == "presence" && typ == "" && fromBot:
			select {
			case seen <- struct{}{}:
			default:
			}
		case start.Name.Local == "message" && fromBot && (typ == "chat" || typ == "normal" || typ == ""):
			var m struct {
				Body string `xml:"body"`
			}
			if xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r)).Decode(&m) == nil && m.Body != "" {
				select {
				case msgs <- m.Body:
				default: // nobody reads: drop
				}
			}
		}
		return nil
	}))
	rc, err := s.SendIQ(ctx, stanza.IQ{Type: stanza.GetIQ}.Wrap(xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "jabber:iq:roster", Local: "query"}})))
	if err != nil {
		return fail(fmt.Errorf("roster: %w", err))
	}
	rc.Close()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		// Presence, then a subscription request: the bot may not be
		// connected yet, so ask again until it answers.
		s.Send(ctx, stanza.Presence{}.Wrap(nil))
		s.Send(ctx, stanza.Presence{To: botBare, Type: stanza.SubscribePresence}.Wrap(nil))
		select {
		case <-seen:
			s.Send(ctx, stanza.Presence{To: botBare, Type: stanza.SubscribedPresence}.Wrap(nil))
			return s, msgs, nil
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-tick.C:
		}
	}
}

// password returns a random password.
func password() string {
	return rand.Text()[:16]
}
