package commands

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/hooks"
)

// fakeHooks is an in-memory Hooks. Create refuses code holding "BROKEN"
// the way the runtime reports a compile error.
type fakeHooks struct {
	mu      sync.Mutex
	next    int
	hooks   []hooks.Hook
	filters []hooks.Filter // DeleteMatching calls
}

func (f *fakeHooks) Create(_ context.Context, h hooks.Hook) (hooks.Hook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := strings.Index(h.Arg, "BROKEN"); i >= 0 {
		line := strings.Count(h.Arg[:i], "\n") + 1
		return hooks.Hook{}, fmt.Errorf("code:%d:1: undefined: BROKEN", line)
	}
	f.next++
	h.ID = fmt.Sprintf("h%d", f.next)
	h.State = "subscribed"
	h.Created = time.Unix(0, 0)
	f.hooks = append(f.hooks, h)
	return h, nil
}

func (f *fakeHooks) Delete(_ context.Context, ids []string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.hooks)
	f.hooks = slices.DeleteFunc(f.hooks, func(h hooks.Hook) bool { return slices.Contains(ids, h.ID) })
	return n - len(f.hooks), nil
}

func (f *fakeHooks) DeleteMatching(_ context.Context, fl hooks.Filter) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, fl)
	n := len(f.hooks)
	f.hooks = slices.DeleteFunc(f.hooks, func(h hooks.Hook) bool {
		return h.Node == fl.Node && (fl.Owner == "" || h.Owner == fl.Owner) &&
			(fl.Service == "" || h.Service == fl.Service) && (fl.Type == "" || h.Type == fl.Type) &&
			(fl.Arg == "" || h.Arg == fl.Arg)
	})
	return n - len(f.hooks), nil
}

func (f *fakeHooks) List(owner string) []hooks.Hook {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []hooks.Hook
	for _, h := range f.hooks {
		if owner == "" || h.Owner == owner {
			out = append(out, h)
		}
	}
	return out
}

func (f *fakeHooks) add(t *testing.T, h hooks.Hook) hooks.Hook {
	t.Helper()
	h, err := f.Create(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (f *fakeHooks) ids() []string {
	var ids []string
	for _, h := range f.List("") {
		ids = append(ids, h.ID)
	}
	return ids
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var (
	bot       = jid.MustParse("bot@example.org/hookbot")
	admin     = jid.MustParse("admin@example.org/laptop")
	admin2    = jid.MustParse("admin@example.org/phone")
	user      = jid.MustParse("user@example.org/laptop")
	coder     = jid.MustParse("coder@example.org/laptop")
	stranger  = jid.MustParse("stranger@elsewhere.example/x")
	testAcces = Access{
		Admins: []string{"admin@example.org"},
		Users:  []string{"user@example.org", "coder@example.org"},
	}
)

type fixture struct {
	srv   *Server
	hooks *fakeHooks
	clock *clock
}

// newFixture returns a server where user may create no type.
func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{hooks: &fakeHooks{}, clock: &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	opts = append([]Option{WithClock(f.clock.Now)}, opts...)
	f.srv = NewServer(f.hooks, testAcces, opts...)
	return f
}

// withUserTypes returns a server where users may create types.
func newFixtureTypes(t *testing.T, types ...hooks.Type) *fixture {
	t.Helper()
	f := newFixture(t)
	a := testAcces
	a.UserTypes = types
	f.srv.access = a
	return f
}

// Decoded replies.

type xReply struct {
	XMLName xml.Name  `xml:"iq"`
	Type    string    `xml:"type,attr"`
	ID      string    `xml:"id,attr"`
	To      string    `xml:"to,attr"`
	From    string    `xml:"from,attr"`
	Command *xCmdResp `xml:"http://jabber.org/protocol/commands command"`
	Error   *struct {
		Type  string `xml:"type,attr"`
		Conds []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

type xCmdResp struct {
	Node      string `xml:"node,attr"`
	SessionID string `xml:"sessionid,attr"`
	Status    string `xml:"status,attr"`
	Actions   []struct {
		Execute string `xml:"execute,attr"`
		Offered []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"actions"`
	Notes []struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	} `xml:"note"`
	Forms []xFormResp `xml:"jabber:x:data x"`
}

type xFieldResp struct {
	Var      string    `xml:"var,attr"`
	Type     string    `xml:"type,attr"`
	Label    string    `xml:"label,attr"`
	Required *struct{} `xml:"required"`
	Values   []string  `xml:"value"`
	Options  []struct {
		Label string `xml:"label,attr"`
		Value string `xml:"value"`
	} `xml:"option"`
}

type xFormResp struct {
	Type     string       `xml:"type,attr"`
	Title    string       `xml:"title"`
	Fields   []xFieldResp `xml:"field"`
	Reported []struct {
		Fields []xFieldResp `xml:"field"`
	} `xml:"reported"`
	Items []struct {
		Fields []xFieldResp `xml:"field"`
	} `xml:"item"`
}

func (f xFormResp) field(v string) (xFieldResp, bool) {
	for _, fl := range f.Fields {
		if fl.Var == v {
			return fl, true
		}
	}
	return xFieldResp{}, false
}

// cond returns the error's conditions, e.g. "bad-request bad-sessionid".
func (r xReply) cond() string {
	if r.Error == nil {
		return ""
	}
	var cs []string
	for _, c := range r.Error.Conds {
		if c.XMLName.Local != "text" {
			cs = append(cs, c.XMLName.Local)
		}
	}
	return strings.Join(cs, " ")
}

func (r xReply) notes() string {
	var ns []string
	for _, n := range r.Command.Notes {
		ns = append(ns, n.Type+": "+n.Text)
	}
	return strings.Join(ns, "; ")
}

// encode writes the tokens of r as XML.
func encode(t testing.TB, r xml.TokenReader) []byte {
	t.Helper()
	var b bytes.Buffer
	e := xml.NewEncoder(&b)
	if _, err := xmlstream.Copy(e, r); err != nil {
		t.Fatalf("encode reply: %v", err)
	}
	if err := e.Flush(); err != nil {
		t.Fatalf("encode reply: %v", err)
	}
	return b.Bytes()
}

// send runs the <command/> payload from from and decodes the reply,
// checking the IQ envelope.
func (f *fixture) send(t *testing.T, from jid.JID, payload string) xReply {
	t.Helper()
	iq := stanza.IQ{ID: "q1", From: from, To: bot, Type: stanza.SetIQ}
	out := encode(t, f.srv.HandleIQ(context.Background(), iq, xml.NewDecoder(strings.NewReader(payload))))
	var r xReply
	if err := xml.Unmarshal(out, &r); err != nil {
		t.Fatalf("decode reply %s: %v", out, err)
	}
	if r.ID != "q1" || r.To != from.String() || r.From != bot.String() {
		t.Fatalf("reply envelope: %s", out)
	}
	switch r.Type {
	case "result":
		if r.Command == nil {
			t.Fatalf("result without command: %s", out)
		}
		if r.Command.Status == "executing" {
			if len(r.Command.Actions) != 1 || r.Command.Actions[0].Execute == "" {
				t.Fatalf("executing stage without <actions execute>: %s", out)
			}
			a := r.Command.Actions[0]
			if !slices.ContainsFunc(a.Offered, func(o struct{ XMLName xml.Name }) bool { return o.XMLName.Local == a.Execute }) {
				t.Fatalf("execute=%q names no offered action: %s", a.Execute, out)
			}
		}
	case "error":
		if r.Error == nil {
			t.Fatalf("error without <error/>: %s", out)
		}
	default:
		t.Fatalf("reply type %q: %s", r.Type, out)
	}
	return r
}

// execute starts node.
func (f *fixture) execute(t *testing.T, from jid.JID, node string) xReply {
	t.Helper()
	return f.send(t, from, fmt.Sprintf(`<command xmlns='%s' node='%s' action='execute'/>`, NS, node))
}

// submit sends the fields (var → values) with action in session sid.
func (f *fixture) submit(t *testing.T, from jid.JID, node, sid, action string, fields map[string][]string) xReply {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `<command xmlns='%s' node='%s' sessionid='%s'`, NS, node, sid)
	if action != "" {
		fmt.Fprintf(&b, ` action='%s'`, action)
	}
	b.WriteString(`><x xmlns='jabber:x:data' type='submit'>`)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, `<field var='%s'>`, k)
		for _, v := range fields[k] {
			b.WriteString("<value>")
			_ = xml.EscapeText(&b, []byte(v)) // a strings.Builder never fails
			b.WriteString("</value>")
		}
		b.WriteString(`</field>`)
	}
	b.WriteString(`</x></command>`)
	return f.send(t, from, b.String())
}

func wantStatus(t *testing.T, r xReply, status string) {
	t.Helper()
	if r.Type != "result" || r.Command.Status != status {
		t.Fatalf("want status %s, got type %s cond %q command %+v", status, r.Type, r.cond(), r.Command)
	}
}

// The registry implements Hooks.
var _ Hooks = (*hooks.Manager)(nil)
