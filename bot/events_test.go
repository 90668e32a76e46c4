package bot

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"

	"hookbot/bot/pubsub"
	"hookbot/hooks"
)

// self is the bot's address in these tests.
var self = jid.MustParse("bot@localhost/hookbot")

// serve runs the real Serve loop of a session whose input is in, with b's
// handler, until in ends; it returns what the session wrote.
func serve(tb testing.TB, b *Bot, in io.Reader) string {
	tb.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	ready := func(_ context.Context, in, _ *stream.Info, _ *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, any, error) {
		in.XMLNS = stanza.NSClient
		return xmpp.Ready, nil, nil, nil
	}
	s, err := xmpp.NewSession(ctx, self.Domain(), self, struct {
		io.Reader
		io.Writer
	}{in, &out}, 0, ready)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Serve(b.handler(ctx, s)); err != nil {
		tb.Fatalf("Serve: %v", err)
	}
	return out.String()
}

// notification is a PubSub notification as Prosody sends it.
const notification = `<message xmlns='jabber:client' type='headline' from='pubsub.localhost' to='bot@localhost/hookbot' id='2f1c7a1e-0bd4-4ad3-9d77-5e1e5bd4c1a3'>` +
	`<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='bench'>` +
	`<item id='1234'><entry xmlns='http://www.w3.org/2005/Atom'><title>hello</title><id>1234</id></entry></item>` +
	`</items></event></message>`

const eventOpen = `<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><item id='i1'><x xmlns='urn:x'>1</x></item></items></event>`

// recorder records what the events and chat handlers of a Bot receive.
type recorder struct {
	mu     sync.Mutex
	events []pubsub.Event
	chats  []string
	chatc  chan struct{}
}

func (r *recorder) event(ev pubsub.Event) {
	for i := range ev.Items {
		ev.Items[i].Time = time.Time{}
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// newTestBot returns a Bot whose events and chat handlers record into a
// new recorder. With message set, the events handler is a plain
// mux.MessageHandler, without HandleEvent.
func newTestBot(muxOnly, message bool) (*Bot, *recorder) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := New(Config{JID: self.Bare(), Logger: log})
	b.muxEvents = muxOnly
	rec := &recorder{chatc: make(chan struct{}, 100)}
	h := pubsub.Handler(self.Bare(), log, rec.event)
	if message {
		b.HandleEvents(mux.MessageHandlerFunc(h.HandleMessage))
	} else {
		b.HandleEvents(h)
	}
	b.HandleChat(func(_ context.Context, _ *xmpp.Session, _ stanza.Message, body string) {
		rec.mu.Lock()
		rec.chats = append(rec.chats, body)
		rec.mu.Unlock()
		rec.chatc <- struct{}{}
	})
	return b, rec
}

func TestEventRouting(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		events int      // notifications delivered
		delay  bool     // the first one is Delayed
		chats  []string // bodies the chat handler gets
		out    string   // the session's output contains it
	}{
		{name: "notification", in: notification, events: 1},
		{name: "no type", in: `<message xmlns='jabber:client' from='pubsub.localhost'>` + eventOpen + `</message>`, events: 1},
		{name: "unknown type is normal", in: `<message xmlns='jabber:client' type='x' from='pubsub.localhost'>` + eventOpen + `</message>`, events: 1},
		{name: "whitespace before the event", in: "<message xmlns='jabber:client' type='headline' from='pubsub.localhost'>\n  " + eventOpen + "\n</message>", events: 1},
		{name: "own PEP", in: `<message xmlns='jabber:client' type='headline' from='bot@localhost'>` + eventOpen + `</message>`, events: 1},
		{name: "chat body", in: `<message xmlns='jabber:client' type='chat' from='admin@localhost/x'><body>help</body></message>`, chats: []string{"help"}},
		{name: "normal body", in: `<message xmlns='jabber:client' from='admin@localhost/x'><body>list</body></message>`, chats: []string{"list"}},
		{
			name:   "delay then event",
			in:     `<message xmlns='jabber:client' type='headline' from='pubsub.localhost'><delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>` + eventOpen + `</message>`,
			events: 1, delay: true,
		},
		{name: "event then delay", in: `<message xmlns='jabber:client' type='headline' from='pubsub.localhost'>` + eventOpen + `<delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/></message>`, events: 1, delay: true},
		{name: "headline event then body", in: `<message xmlns='jabber:client' type='headline' from='pubsub.localhost'>` + eventOpen + `<body>new item</body></message>`, events: 1},
		{name: "normal event then body", in: `<message xmlns='jabber:client' from='pubsub.localhost'>` + eventOpen + `<body>new item</body></message>`, events: 1, chats: []string{"new item"}},
		{name: "normal body then event", in: `<message xmlns='jabber:client' from='pubsub.localhost'><body>new item</body>` + eventOpen + `</message>`, events: 1, chats: []string{"new item"}},
		{name: "chat with event", in: `<message xmlns='jabber:client' type='chat' from='pubsub.localhost'>` + eventOpen + `</message>`},
		{name: "error with event", in: `<message xmlns='jabber:client' type='error' from='pubsub.localhost'>` + eventOpen + `</message>`},
		{name: "empty message", in: `<message xmlns='jabber:client' type='headline' from='pubsub.localhost'/>`},
		{
			name: "malformed event, then a good one",
			in: `<message xmlns='jabber:client' type='headline' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items><item id='1'/></items></event></message>` +
				notification,
			events: 1,
		},
		{
			name:   "invalid from, then a good one",
			in:     `<message xmlns='jabber:client' type='headline' from='@pubsub.localhost'>` + eventOpen + `</message>` + notification,
			events: 1,
		},
		{
			name:   "ping between notifications",
			in:     notification + `<iq xmlns='jabber:client' type='get' id='p1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq>` + notification,
			events: 2, out: `type="result" to="localhost" id="p1"`,
		},
		{name: "presence", in: `<presence xmlns='jabber:client' from='admin@localhost/x'/>` + notification, events: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				events []pubsub.Event
				chats  []string
			}
			run := func(muxOnly, message bool) result {
				b, rec := newTestBot(muxOnly, message)
				out := serve(t, b, strings.NewReader(tc.in))
				if !strings.Contains(out, tc.out) {
					t.Errorf("output %q lacks %q", out, tc.out)
				}
				for range tc.chats {
					select {
					case <-rec.chatc:
					case <-time.After(5 * time.Second):
						t.Fatal("chat handler not called")
					}
				}
				select {
				case <-rec.chatc:
					t.Error("chat handler called once too often")
				case <-time.After(10 * time.Millisecond):
				}
				rec.mu.Lock()
				defer rec.mu.Unlock()
				return result{rec.events, rec.chats}
			}
			want := run(true, false)
			if len(want.events) != tc.events || !reflect.DeepEqual(want.chats, tc.chats) {
				t.Fatalf("through the mux: %d events, chats %q; want %d, %q", len(want.events), want.chats, tc.events, tc.chats)
			}
			if tc.events > 0 {
				if ev := want.events[0]; ev.Delayed != tc.delay || len(ev.Items) == 0 {
					t.Fatalf("through the mux: %+v", ev)
				}
			}
			for _, message := range []bool{false, true} {
				if got := run(false, message); !reflect.DeepEqual(got, want) {
					t.Errorf("fast path (HandleMessage %v):\n%+v\nthrough the mux:\n%+v", message, got, want)
				}
			}
		})
	}
}

// TestEventRoutingOwnPEP checks that a notification from the bot's own
// bare JID, which mellium passes on without from, is attributed to it.
func TestEventRoutingOwnPEP(t *testing.T) {
	b, rec := newTestBot(false, false)
	serve(t, b, strings.NewReader(`<message xmlns='jabber:client' type='headline' from='bot@localhost'>`+eventOpen+`</message>`))
	if len(rec.events) != 1 || !rec.events[0].Service.Equal(self.Bare()) {
		t.Fatalf("events %+v", rec.events)
	}
}

// TestEventRoutingConsumes checks that a handler that reads nothing leaves
// the stream at the next stanza.
func TestEventRoutingConsumes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := New(Config{JID: self.Bare(), Logger: log})
	n := 0
	b.HandleEvents(mux.MessageHandlerFunc(func(stanza.Message, xmlstream.TokenReadEncoder) error {
		n++
		return errors.New("ignored")
	}))
	serve(t, b, strings.NewReader(notification+notification+notification))
	if n != 3 {
		t.Fatalf("handler called %d times, want 3", n)
	}
}

// repeat is an io.Reader of n copies of s.
type repeat struct {
	s   string
	n   int
	off int
}

func (r *repeat) Read(p []byte) (int, error) {
	w := 0
	for w < len(p) && r.n > 0 {
		c := copy(p[w:], r.s[r.off:])
		w += c
		r.off += c
		if r.off == len(r.s) {
			r.off = 0
			r.n--
		}
	}
	if w == 0 {
		return 0, io.EOF
	}
	return w, nil
}

// BenchmarkServeNotifications runs b.N notifications as Prosody sends
// them through a session's real Serve loop and the bot's handler, with
// the events handler of Services.EventHandler: through the mux, as
// before the fast path, and through the fast path.
func BenchmarkServeNotifications(b *testing.B) {
	for _, bc := range []struct {
		name    string
		muxOnly bool
	}{{"mux", true}, {"fast", false}} {
		b.Run(bc.name, func(b *testing.B) {
			bot := New(Config{JID: self.Bare(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			bot.muxEvents = bc.muxOnly
			n := 0
			bot.HandleEvents(bot.Services().EventHandler(func(hooks.Notification) { n++ }))
			bot.HandleChat(func(context.Context, *xmpp.Session, stanza.Message, string) {})
			b.ReportAllocs()
			b.ResetTimer()
			serve(b, bot, &repeat{s: notification, n: b.N})
			if n != b.N {
				b.Fatalf("%d notifications delivered, want %d", n, b.N)
			}
		})
	}
}

// BenchmarkParseEvent is the parser alone on the same notification, for
// comparison.
func BenchmarkParseEvent(b *testing.B) {
	from := jid.MustParse("pubsub.localhost")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pubsub.ParseEvent(from, xml.NewDecoder(strings.NewReader(notification)), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
