package bot_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"hookbot/bot"
	"hookbot/commands"
	"hookbot/internal/prosody"
	"hookbot/internal/testutil"
)

// presence is what a test peer saw of a presence stanza.
type presence struct {
	From jid.JID
	Type string
	Ver  string // caps ver, "" when absent
}

// message is what a test peer saw of a message stanza.
type message struct {
	From jid.JID
	Type string
	Body string
}

// peer is a logged-in test client that records the presences and
// messages it receives.
type peer struct {
	s         *xmpp.Session
	presences chan presence
	messages  chan message
}

func newPeer(t *testing.T, ctx context.Context, srv *prosody.Server, user, resource string) *peer {
	t.Helper()
	p := &peer{presences: make(chan presence, 100), messages: make(chan message, 100)}
	h := xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		attr := func(name string) string {
			for _, a := range start.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		from, _ := jid.Parse(attr("from"))
		// Read the children: the caps ver of a presence, the body of a
		// message.
		var ver, body string
		inBody := false
		for {
			tok, err := r.Token()
			if err != nil {
				break
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				if tok.Name.Local == "c" && tok.Name.Space == "http://jabber.org/protocol/caps" {
					for _, a := range tok.Attr {
						if a.Name.Local == "ver" {
							ver = a.Value
						}
					}
				}
				inBody = tok.Name.Local == "body"
			case xml.CharData:
				if inBody {
					body += string(tok)
				}
			case xml.EndElement:
				inBody = false
			}
		}
		switch start.Name.Local {
		case "presence":
			p.presences <- presence{From: from, Type: attr("type"), Ver: ver}
		case "message":
			p.messages <- message{From: from, Type: attr("type"), Body: body}
		}
		return nil
	})
	p.s = srv.DialServe(t, ctx, user, user+"-pass", resource, h)
	// Subscription presences go to available resources that asked for
	// the roster (RFC 6121 §3.1.3).
	roster := p.iq(t, ctx, jid.JID{}, stanza.GetIQ, query("jabber:iq:roster", ""))
	if roster.Type != "result" {
		t.Fatalf("roster get: %+v", roster)
	}
	p.send(t, ctx, stanza.Presence{}.Wrap(nil))
	return p
}

func (p *peer) send(t *testing.T, ctx context.Context, r xml.TokenReader) {
	t.Helper()
	if err := p.s.Send(ctx, r); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// waitPresence waits for a presence that match accepts.
func (p *peer) waitPresence(t *testing.T, d time.Duration, what string, match func(presence) bool) presence {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case pr := <-p.presences:
			if match(pr) {
				return pr
			}
		case <-timeout:
			t.Fatalf("no presence %s within %v", what, d)
			return presence{}
		}
	}
}

// iqReply is the decoded reply of a disco or test IQ.
type iqReply struct {
	Type  string `xml:"type,attr"`
	Query struct {
		Node       string          `xml:"node,attr"`
		Identities []info.Identity `xml:"identity"`
		Features   []info.Feature  `xml:"feature"`
		Items      []discoItem     `xml:"item"`
	} `xml:"query"`
	Error struct {
		Type  string `xml:"type,attr"`
		Inner []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

// discoItem is a disco#items item or a roster item (no namespace check).
type discoItem struct {
	JID  jid.JID `xml:"jid,attr"`
	Name string  `xml:"name,attr"`
	Node string  `xml:"node,attr"`
}

func (r iqReply) condition() string {
	for _, e := range r.Error.Inner {
		if e.XMLName.Space == stanza.NSError {
			return e.XMLName.Local
		}
	}
	return ""
}

func (p *peer) iq(t *testing.T, ctx context.Context, to jid.JID, typ stanza.IQType, payload xml.TokenReader) iqReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := p.s.SendIQ(ctx, stanza.IQ{To: to, Type: typ}.Wrap(payload))
	if err != nil {
		t.Fatalf("IQ to %s: %v", to, err)
	}
	defer rc.Close()
	var r iqReply
	if err := xml.NewTokenDecoder(rc).Decode(&r); err != nil {
		t.Fatalf("decode IQ reply: %v", err)
	}
	return r
}

func query(ns, node string) xml.TokenReader {
	start := xml.StartElement{Name: xml.Name{Space: ns, Local: "query"}}
	if node != "" {
		start.Attr = []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}
	}
	return xmlstream.Wrap(nil, start)
}

// testNodes is a DiscoNodes provider with one node.
type testNodes struct{}

func (testNodes) Info(from jid.JID, node string) ([]info.Identity, []info.Feature, bool) {
	if node != "test-node" {
		return nil, nil, false
	}
	return []info.Identity{{Category: "automation", Type: "command-list"}}, []info.Feature{{Var: "urn:test:node"}}, true
}

func (testNodes) Items(from jid.JID, node string) ([]items.Item, bool) {
	if node != "test-node" {
		return nil, false
	}
	return []items.Item{{Node: "child", Name: "Child"}}, true
}

// world is a Prosody with the accounts of the tests and a running bot.
type world struct {
	srv      *prosody.Server
	bot      *bot.Bot
	connects atomic.Int32
	done     chan error
	logs     *testutil.SyncBuffer
}

func newWorld(t *testing.T, ctx context.Context, setup func(*bot.Bot), configure ...func(*bot.Config)) *world {
	t.Helper()
	srv := prosody.Start(t)
	for _, u := range []string{"bot", "admin", "user", "stranger"} {
		srv.Register(t, u, u+"-pass")
	}
	w := &world{srv: srv, done: make(chan error, 1), logs: &testutil.SyncBuffer{}}
	access := commands.Access{Admins: []string{"admin@localhost"}, Users: []string{"user@localhost"}}
	cfg := bot.Config{
		JID:        jid.MustParse("bot@localhost"),
		Password:   "bot-pass",
		Server:     srv.Addr,
		Resource:   "hookbot-test",
		CAFile:     srv.CAFile,
		Role:       access.Role,
		Logger:     slog.New(slog.NewTextHandler(io.MultiWriter(w.logs), &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxBackoff: 4 * time.Second,
	}
	for _, f := range configure {
		f(&cfg)
	}
	w.bot = bot.New(cfg)
	w.bot.OnConnect(func(ctx context.Context, s *xmpp.Session) { w.connects.Add(1) })
	if setup != nil {
		setup(w.bot)
	}
	rctx, cancel := context.WithCancel(ctx)
	go func() { w.done <- w.bot.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-w.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
		if t.Failed() {
			t.Logf("bot log:\n%s", w.logs.String())
		}
	})
	w.waitOnline(t, 10*time.Second, 1)
	return w
}

// waitOnline waits until the bot has connected n times in all.
func (w *world) waitOnline(t *testing.T, d time.Duration, n int32) {
	t.Helper()
	deadline := time.Now().Add(d)
	for w.connects.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("bot not connected (%d connections, want %d) within %v", w.connects.Load(), n, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIntegrationSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var chats atomic.Int32
	w := newWorld(t, ctx, func(b *bot.Bot) {
		b.AddFeatures("urn:test:feature")
		b.AddItems(items.Item{Node: "test-node", Name: "Test"})
		b.AddDiscoNodes(testNodes{})
		b.HandleIQ(stanza.SetIQ, xml.Name{Space: "urn:test", Local: "slow"}, func(ctx context.Context, iq stanza.IQ, payload xml.TokenReader) xml.TokenReader {
			// A handler that itself waits on the network: it must not
			// block the Serve loop.
			s, err := b.Session()
			if err != nil {
				return nil
			}
			if err := ping.Send(ctx, s, s.LocalAddr().Domain()); err != nil {
				return nil
			}
			iq.To, iq.From = iq.From, iq.To
			iq.Type = stanza.ResultIQ
			return iq.Wrap(query("urn:test", "done"))
		})
		b.HandleChat(func(ctx context.Context, s *xmpp.Session, msg stanza.Message, body string) {
			chats.Add(1)
			reply := stanza.Message{To: msg.From, Type: msg.Type}
			s.Send(ctx, reply.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData("echo: "+body)), xml.StartElement{Name: xml.Name{Local: "body"}})))
		})
	})
	self := w.bot.JID()
	if got, want := self.String(), "bot@localhost/hookbot-test"; got != want {
		t.Fatalf("bound %q, want exactly %q", got, want)
	}

	admin := newPeer(t, ctx, w.srv, "admin", "desk")

	t.Run("admin subscription accepted both ways and caps seen", func(t *testing.T) {
		admin.send(t, ctx, stanza.Presence{To: self.Bare(), Type: stanza.SubscribePresence}.Wrap(nil))
		admin.waitPresence(t, 10*time.Second, "subscribed from the bot", func(p presence) bool {
			return p.Type == "subscribed" && p.From.Bare().Equal(self.Bare())
		})
		admin.waitPresence(t, 10*time.Second, "subscribe from the bot", func(p presence) bool {
			return p.Type == "subscribe" && p.From.Bare().Equal(self.Bare())
		})
		admin.send(t, ctx, stanza.Presence{To: self.Bare(), Type: stanza.SubscribedPresence}.Wrap(nil))
		pr := admin.waitPresence(t, 10*time.Second, "available from the bot", func(p presence) bool {
			return p.Type == "" && p.From.Equal(self)
		})
		if pr.Ver == "" || pr.Ver != w.bot.CapsVer() {
			t.Errorf("caps ver %q, want %q", pr.Ver, w.bot.CapsVer())
		}
	})

	t.Run("new features resend presence with new caps", func(t *testing.T) {
		old := w.bot.CapsVer()
		w.bot.AddFeatures("urn:test:later")
		if w.bot.CapsVer() == old {
			t.Fatal("caps ver unchanged by a new feature")
		}
		admin.waitPresence(t, 10*time.Second, "with the new caps", func(p presence) bool {
			return p.From.Equal(self) && p.Ver == w.bot.CapsVer()
		})
	})

	t.Run("stranger subscription refused", func(t *testing.T) {
		stranger := newPeer(t, ctx, w.srv, "stranger", "s")
		stranger.send(t, ctx, stanza.Presence{To: self.Bare(), Type: stanza.SubscribePresence}.Wrap(nil))
		stranger.waitPresence(t, 10*time.Second, "unsubscribed from the bot", func(p presence) bool {
			return p.Type == "unsubscribed" && p.From.Bare().Equal(self.Bare())
		})
	})

	features := func(r iqReply) []string {
		var v []string
		for _, f := range r.Query.Features {
			v = append(v, f.Var)
		}
		return v
	}
	tests := []struct {
		name     string
		payload  xml.TokenReader
		typ      stanza.IQType
		wantType string
		wantCond string
		check    func(t *testing.T, r iqReply)
	}{
		{name: "disco#info root", payload: query("http://jabber.org/protocol/disco#info", ""), typ: stanza.GetIQ, wantType: "result",
			check: func(t *testing.T, r iqReply) {
				if len(r.Query.Identities) != 1 || r.Query.Identities[0].Category != "client" || r.Query.Identities[0].Type != "bot" {
					t.Errorf("identities %+v, want one client/bot", r.Query.Identities)
				}
				for _, f := range []string{"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/caps", "urn:xmpp:ping", "urn:test:feature"} {
					if !slices.Contains(features(r), f) {
						t.Errorf("feature %s missing from %v", f, features(r))
					}
				}
			}},
		{name: "disco#info caps node echoed", payload: query("http://jabber.org/protocol/disco#info", bot.CapsNode+"#"+w.bot.CapsVer()), typ: stanza.GetIQ, wantType: "result",
			check: func(t *testing.T, r iqReply) {
				if r.Query.Node != bot.CapsNode+"#"+w.bot.CapsVer() {
					t.Errorf("node %q not echoed", r.Query.Node)
				}
				if len(r.Query.Identities) != 1 || !slices.Contains(features(r), "urn:xmpp:ping") {
					t.Errorf("caps node answer differs from root: %+v", r.Query)
				}
			}},
		{name: "disco#info provider node", payload: query("http://jabber.org/protocol/disco#info", "test-node"), typ: stanza.GetIQ, wantType: "result",
			check: func(t *testing.T, r iqReply) {
				if r.Query.Node != "test-node" || !slices.Equal(features(r), []string{"urn:test:node"}) {
					t.Errorf("got %+v", r.Query)
				}
			}},
		{name: "disco#info unknown node", payload: query("http://jabber.org/protocol/disco#info", "nope"), typ: stanza.GetIQ, wantType: "error", wantCond: "item-not-found"},
		{name: "disco#items root", payload: query("http://jabber.org/protocol/disco#items", ""), typ: stanza.GetIQ, wantType: "result",
			check: func(t *testing.T, r iqReply) {
				if len(r.Query.Items) != 1 || r.Query.Items[0].Node != "test-node" || !r.Query.Items[0].JID.Equal(self) {
					t.Errorf("items %+v, want test-node on %s", r.Query.Items, self)
				}
			}},
		{name: "disco#items provider node echoed", payload: query("http://jabber.org/protocol/disco#items", "test-node"), typ: stanza.GetIQ, wantType: "result",
			check: func(t *testing.T, r iqReply) {
				if r.Query.Node != "test-node" || len(r.Query.Items) != 1 || r.Query.Items[0].Node != "child" {
					t.Errorf("got %+v", r.Query)
				}
			}},
		{name: "disco#items unknown node", payload: query("http://jabber.org/protocol/disco#items", "nope"), typ: stanza.GetIQ, wantType: "error", wantCond: "item-not-found"},
		{name: "unhandled get", payload: query("jabber:iq:version", ""), typ: stanza.GetIQ, wantType: "error", wantCond: "service-unavailable"},
		{name: "unhandled set", payload: query("urn:test:unknown", ""), typ: stanza.SetIQ, wantType: "error", wantCond: "service-unavailable"},
		{name: "async IQ handler answers once, off the Serve loop", payload: xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "urn:test", Local: "slow"}}), typ: stanza.SetIQ, wantType: "result",
			check: func(t *testing.T, r iqReply) {
				if r.Query.Node != "done" {
					t.Errorf("got %+v", r.Query)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := admin.iq(t, ctx, self, tc.typ, tc.payload)
			if r.Type != tc.wantType || r.condition() != tc.wantCond {
				t.Fatalf("reply type %q condition %q, want %q %q", r.Type, r.condition(), tc.wantType, tc.wantCond)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}

	t.Run("answers ping", func(t *testing.T) {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := ping.Send(pctx, admin.s, self); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("chat handler", func(t *testing.T) {
		msg := stanza.Message{To: self, Type: stanza.ChatMessage}
		admin.send(t, ctx, msg.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData("hi")), xml.StartElement{Name: xml.Name{Local: "body"}})))
		select {
		case m := <-admin.messages:
			if m.Body != "echo: hi" || m.Type != "chat" {
				t.Errorf("reply %+v", m)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no chat reply")
		}
		// Headline and error messages never reach the chat handler.
		for _, typ := range []stanza.MessageType{stanza.HeadlineMessage, stanza.ErrorMessage} {
			msg := stanza.Message{To: self, Type: typ}
			admin.send(t, ctx, msg.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData("x")), xml.StartElement{Name: xml.Name{Local: "body"}})))
		}
		time.Sleep(300 * time.Millisecond)
		if n := chats.Load(); n != 1 {
			t.Errorf("chat handler ran %d times, want 1", n)
		}
	})
}

func TestIntegrationReconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Default backoff (1 s to 60 s), as in production.
	w := newWorld(t, ctx, nil, func(c *bot.Config) { c.MaxBackoff = 0 })
	self := w.bot.JID()
	first := newPeer(t, ctx, w.srv, "admin", "first")
	first.send(t, ctx, stanza.Presence{To: self.Bare(), Type: stanza.SubscribePresence}.Wrap(nil))
	first.waitPresence(t, 10*time.Second, "subscribe from the bot", func(p presence) bool {
		return p.Type == "subscribe" && p.From.Bare().Equal(self.Bare())
	})
	first.send(t, ctx, stanza.Presence{To: self.Bare(), Type: stanza.SubscribedPresence}.Wrap(nil))
	first.waitPresence(t, 10*time.Second, "available from the bot", func(p presence) bool {
		return p.Type == "" && p.From.Equal(self)
	})
	for i, tc := range []struct {
		name string
		stop func() error
	}{
		{"SIGTERM", w.srv.Stop},
		{"SIGKILL", w.srv.Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.stop(); err != nil {
				t.Fatal(err)
			}
			if err := w.srv.Start(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// The admin logs in again (its session died with the server)
			// and sees the bot's presence: same Bot, same process.
			admin := newPeer(t, ctx, w.srv, "admin", "after-"+tc.name)
			admin.waitPresence(t, 10*time.Second-time.Since(start), "available from the bot after the restart", func(p presence) bool {
				return p.Type == "" && p.From.Equal(self)
			})
			// OnConnect runs in its own goroutine, maybe after the
			// presence was seen; a connection that flaps once more
			// (Prosody may drop the first one after a restart) counts too.
			w.waitOnline(t, 5*time.Second, int32(i+2))
			t.Logf("back online %v after the restart", time.Since(start).Round(time.Millisecond))
		})
	}
}

func TestIntegrationWrongPassword(t *testing.T) {
	srv := prosody.Start(t)
	srv.Register(t, "bot", "right")
	b := bot.New(bot.Config{
		JID:      jid.MustParse("bot@localhost"),
		Password: "wrong",
		Server:   srv.Addr,
		CAFile:   srv.CAFile,
		Logger:   slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err := b.Run(ctx)
	if !errors.Is(err, bot.ErrAuth) {
		t.Fatalf("Run = %v, want ErrAuth", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("auth failure took %v: retried?", d)
	}
}

func TestIntegrationConflictBacksOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := newWorld(t, ctx, nil)
	// Another client takes the bot's resource: the bot must not fight
	// for it in a tight loop.
	other := w.srv.Dial(t, ctx, "bot", "bot-pass", "hookbot-test")
	go other.Serve(nil)
	time.Sleep(3 * time.Second)
	if n := w.connects.Load(); n > 3 {
		t.Errorf("bot reconnected %d times in 3s: not backing off", n)
	}
	if !strings.Contains(w.logs.String(), "conflict") {
		t.Errorf("the bot did not log the conflict:\n%s", w.logs.String())
	}
}

func TestIntegrationKeepaliveDetectsDeadServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := newWorld(t, ctx, nil, func(c *bot.Config) {
		c.PingInterval = 300 * time.Millisecond
		c.PingTimeout = 500 * time.Millisecond
		c.MaxBackoff = time.Second
	})
	// A frozen server keeps the TCP connection open: only the keepalive
	// ping can tell the link is dead.
	pid := w.srv.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	offline := func() bool { _, err := w.bot.Session(); return errors.Is(err, bot.ErrOffline) }
	for !strings.Contains(w.logs.String(), "keepalive ping failed") || !offline() {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGCONT)
			t.Fatal("dead server not detected within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	w.waitOnline(t, 10*time.Second, 2)
}

func TestIntegrationDirectTLS(t *testing.T) {
	srv := prosody.Start(t, prosody.WithDirectTLS())
	srv.Register(t, "bot", "bot-pass")
	b := bot.New(bot.Config{
		JID:      jid.MustParse("bot@localhost"),
		Password: "bot-pass",
		Server:   srv.DirectTLSAddr,
		TLS:      "direct",
		CAFile:   srv.CAFile,
		Logger:   slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	online := make(chan jid.JID, 1)
	b.OnConnect(func(ctx context.Context, s *xmpp.Session) { online <- s.LocalAddr() })
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(rctx) }()
	select {
	case j := <-online:
		if j.String() != "bot@localhost/hookbot" {
			t.Errorf("bound %s", j)
		}
	case <-ctx.Done():
		t.Fatal("no connection over direct TLS")
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestIntegrationNoTLSOnLoopback(t *testing.T) {
	srv := prosody.Start(t, prosody.WithPlainC2S())
	srv.Register(t, "bot", "bot-pass")
	b := bot.New(bot.Config{
		JID:      jid.MustParse("bot@localhost"),
		Password: "bot-pass",
		Server:   srv.Addr,
		TLS:      "none",
		Logger:   slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	online := make(chan bool, 1)
	b.OnConnect(func(ctx context.Context, s *xmpp.Session) { online <- s.ConnectionState().HandshakeComplete })
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(rctx) }()
	select {
	case tls := <-online:
		if tls {
			t.Error("tls = none negotiated TLS")
		}
	case <-ctx.Done():
		t.Fatal("no connection without TLS")
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
