package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"hookbot/bot/adhoc"
	"hookbot/bot/pubsub"
	"hookbot/hooks"
	"hookbot/internal/prosody"
	"hookbot/internal/testutil"
)

// rig is a private Prosody with the accounts of the integration tests:
// bot, admin (a bot admin and a Prosody admin, who may create nodes on
// pubsub.localhost), user (a bot user) and stranger. Passwords are the
// name followed by "-pass".
type rig struct {
	srv *prosody.Server
	dir string // holds the bot's database, kept across bot restarts
}

func newRig(t *testing.T, opts ...prosody.Option) *rig {
	t.Helper()
	srv := prosody.Start(t, opts...)
	for _, u := range []string{"bot", "admin", "user", "stranger"} {
		srv.Register(t, u, u+"-pass")
	}
	return &rig{srv: srv, dir: t.TempDir()}
}

// config returns the configuration of the bot on r.
func (r *rig) config() Config {
	return Config{
		JID:          jid.MustParse("bot@localhost"),
		Password:     "bot-pass",
		Server:       r.srv.Addr,
		Resource:     "hookbot",
		TLS:          "starttls",
		CAFile:       r.srv.CAFile,
		Database:     filepath.Join(r.dir, "hookbot.db"),
		Admins:       []string{"admin@localhost"},
		Users:        []string{"user@localhost"},
		HooksPath:    filepath.Join(r.dir, "hooks"),
		HookTimeout:  5 * time.Second,
		Workers:      4,
		CatchupItems: 50,
		LogLevel:     slog.LevelDebug,
	}
}

// botJID is the full JID the bot binds.
var botJID = jid.MustParse("bot@localhost/hookbot")

// runningBot is hookbot's run, in this process.
type runningBot struct {
	cfg    Config
	log    *testutil.SyncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startBot runs the bot with r.config(), changed by edit if not nil, and
// waits until it answers a ping. It is stopped when the test ends.
func (r *rig) startBot(t *testing.T, edit func(*Config)) *runningBot {
	t.Helper()
	cfg := r.config()
	if edit != nil {
		edit(&cfg)
	}
	b := &runningBot{cfg: cfg, log: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() { b.done <- run(ctx, cfg, logger) }()
	t.Cleanup(func() {
		b.stop(t)
		if t.Failed() {
			t.Logf("bot log:\n%s", tail(b.log.String(), 80))
		}
	})
	r.waitOnline(t)
	return b
}

// stop stops the bot and waits for run to return (at most once).
func (b *runningBot) stop(t *testing.T) {
	t.Helper()
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("bot did not stop within 10 s")
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitOnline waits until the bot answers disco#info from admin.
func (r *rig) waitOnline(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := r.srv.DialServe(t, ctx, "admin", "admin-pass", fmt.Sprintf("probe%d", time.Now().UnixNano()), nil)
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		// Not ping.Send: it takes the server's service-unavailable for
		// an offline resource as a pong.
		err := s.UnmarshalIQElement(pctx, xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"},
		}), stanza.IQ{To: botJID, Type: stanza.GetIQ}, nil)
		pcancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("bot not online within 30 s: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// message is a message a client received.
type message struct {
	From jid.JID
	Type stanza.MessageType
	Body string
}

// client is a logged-in account of the rig that collects the messages
// it receives.
type client struct {
	t    *testing.T
	s    *xmpp.Session
	msgs chan message
}

// client logs user in with resource "test", sends presence and returns
// the client.
func (r *rig) client(t *testing.T, user string) *client {
	t.Helper()
	c := &client{t: t, msgs: make(chan message, 1000)}
	collect := func(m stanza.Message, tr xmlstream.TokenReadEncoder) error {
		var body struct {
			Body string `xml:"body"`
		}
		if err := xml.NewTokenDecoder(tr).Decode(&body); err != nil {
			return nil
		}
		c.msgs <- message{From: m.From, Type: m.Type, Body: body.Body}
		return nil
	}
	body := xml.Name{Space: stanza.NSClient, Local: "body"}
	h := mux.New(stanza.NSClient,
		mux.MessageFunc(stanza.ChatMessage, body, collect),
		mux.MessageFunc(stanza.NormalMessage, body, collect))
	// Not a context canceled on return: mellium may then set a past write
	// deadline that fails the client's next write (see bot/write.go).
	c.s = r.srv.DialServe(t, c.ctx(), user, user+"-pass", "test", h)
	if err := c.s.Send(c.ctx(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatalf("presence: %v", err)
	}
	return c
}

// ctx returns a context that ends in 30 s.
func (c *client) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c.t.Cleanup(cancel)
	return ctx
}

// command sends a command request to the bot.
func (c *client) command(req adhoc.Request) (*adhoc.Response, error) {
	return adhoc.Send(c.ctx(), c.s, botJID, req)
}

// say sends a chat message to the bot.
func (c *client) say(body string) {
	c.t.Helper()
	msg := stanza.Message{To: botJID, Type: stanza.ChatMessage}
	el := xmlstream.Wrap(xmlstream.Token(xml.CharData(body)), xml.StartElement{Name: xml.Name{Local: "body"}})
	if err := c.s.Send(c.ctx(), msg.Wrap(el)); err != nil {
		c.t.Fatalf("send %q: %v", body, err)
	}
}

// next returns the next message received within d, or fails.
func (c *client) next(d time.Duration) message {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(d):
		c.t.Fatalf("no message within %v", d)
		return message{}
	}
}

// none checks that no message arrives within d.
func (c *client) none(d time.Duration) {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		c.t.Fatalf("unexpected message from %s: %q", m.From, m.Body)
	case <-time.After(d):
	}
}

// createNode creates node on pubsub.localhost (admin only).
func (c *client) createNode(node string) {
	c.t.Helper()
	err := c.s.UnmarshalIQElement(c.ctx(), xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "create"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}}),
		xml.StartElement{Name: xml.Name{Space: pubsub.NS, Local: "pubsub"}},
	), stanza.IQ{To: jid.MustParse(prosody.PubSubDomain), Type: stanza.SetIQ}, nil)
	if err != nil {
		c.t.Fatalf("create node %s: %v", node, err)
	}
}

// publish publishes payload as item id on node of service ("" for the
// client's own PEP) and returns the item id.
func (c *client) publish(service, node, id, payload string) string {
	c.t.Helper()
	var svc jid.JID
	if service != "" {
		svc = jid.MustParse(service)
	}
	got, err := pubsub.Publish(c.ctx(), c.s, svc, node, id, payload)
	if err != nil {
		c.t.Fatalf("publish %s on %s: %v", id, node, err)
	}
	return got
}

// createHook creates a hook through the create command and returns its id.
func (c *client) createHook(node, service string, typ hooks.Type, arg string, persistent bool, events ...string) string {
	c.t.Helper()
	resp, err := c.command(adhoc.Request{Node: "create"})
	if err != nil {
		c.t.Fatalf("create: %v", err)
	}
	p := "0"
	if persistent {
		p = "1"
	}
	fields := []adhoc.Field{
		{Var: "node", Values: []string{node}},
		{Var: "service", Values: []string{service}},
		{Var: "type", Values: []string{string(typ)}},
		{Var: "arg", Values: strings.Split(arg, "\n")},
		{Var: "persistent", Values: []string{p}},
	}
	if len(events) > 0 {
		fields = append(fields, adhoc.Field{Var: "events", Values: events})
	}
	resp, err = c.command(adhoc.Request{Node: "create", SessionID: resp.SessionID, Action: adhoc.Complete, Submit: fields})
	if err != nil {
		c.t.Fatalf("create: %v", err)
	}
	if resp.Status != "completed" {
		c.t.Fatalf("create: status %s, notes %+v", resp.Status, resp.Notes)
	}
	id := resp.Form.Value("id")
	if want := "Hook " + id + " created"; resp.NoteText("info") != want {
		c.t.Fatalf("create: note %q, want %q", resp.NoteText("info"), want)
	}
	return id
}

// reportHook is go_code that sends "<kind> <id> <payload>" to to for
// every run.
func reportHook(to string) string {
	return `import "fmt"
return bot.Send("` + to + `", fmt.Sprintf("%s %s %s", item.Kind, item.ID, item.Payload))`
}

// reportHookFull is go_code that sends "<kind> <service> <node> <id>
// <payload>" to to for every run.
func reportHookFull(to string) string {
	return `import "fmt"
return bot.Send("` + to + `", fmt.Sprintf("%s %s %s %s %s", item.Kind, item.Service, item.Node, item.ID, item.Payload))`
}
