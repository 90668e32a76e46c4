package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/stanza"

	"hookbot/bot/adhoc"
	"hookbot/commands"
	"hookbot/hooks"
	"hookbot/internal/prosody"
)

// Integration tests of SPEC §3, §5 and §6 (issue 5, "Commands"), through
// the whole bot over Prosody.

// hookVars are the fields of a hook in the create result form and the
// reported fields of the list table (SPEC §5).
var hookVars = []string{"id", "owner", "service", "node", "type", "arg", "persistent", "events", "state"}

// discoInfo is a disco#info answer.
type discoInfo struct {
	Node       string `xml:"node,attr"`
	Identities []struct {
		Category string `xml:"category,attr"`
		Type     string `xml:"type,attr"`
		Name     string `xml:"name,attr"`
	} `xml:"identity"`
	Features []struct {
		Var string `xml:"var,attr"`
	} `xml:"feature"`
}

func (d discoInfo) features() []string {
	var fs []string
	for _, f := range d.Features {
		fs = append(fs, f.Var)
	}
	return fs
}

// info asks the bot for disco#info on node.
func (c *client) info(node string) (discoInfo, error) {
	var d discoInfo
	var attrs []xml.Attr
	if node != "" {
		attrs = []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}
	}
	err := c.s.UnmarshalIQElement(c.ctx(), xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"}, Attr: attrs,
	}), stanza.IQ{To: botJID, Type: stanza.GetIQ}, &d)
	return d, err
}

// commandList lists the bot's commands as node → name.
func (c *client) commandList() map[string]string {
	c.t.Helper()
	list, err := adhoc.List(c.ctx(), c.s, botJID)
	if err != nil {
		c.t.Fatalf("list commands: %v", err)
	}
	got := make(map[string]string)
	for _, it := range list {
		if it.JID != botJID.String() {
			c.t.Errorf("command %s: jid %q, want %s", it.Node, it.JID, botJID)
		}
		got[it.Node] = it.Name
	}
	return got
}

// run executes command node, submits fields with action and returns the
// final response (an error fails the test).
func (c *client) run(node, action string, fields []adhoc.Field) *adhoc.Response {
	c.t.Helper()
	resp, err := c.command(adhoc.Request{Node: node})
	if err != nil {
		c.t.Fatalf("%s: %v", node, err)
	}
	if resp.Status == "completed" || fields == nil {
		return resp
	}
	resp, err = c.command(adhoc.Request{Node: node, SessionID: resp.SessionID, Action: action, Submit: fields})
	if err != nil {
		c.t.Fatalf("%s: %v", node, err)
	}
	return resp
}

// listTable runs the list command and returns its rows by hook id,
// checking that the table is well formed (one <reported/> with
// hookVars, every reported field in every item).
func (c *client) listTable() map[string]map[string][]string {
	c.t.Helper()
	resp := c.run("list", "", nil)
	if resp.Status != "completed" || resp.Form == nil || resp.Form.Type != "result" {
		c.t.Fatalf("list: status %q, form %+v", resp.Status, resp.Form)
	}
	if len(resp.Form.Reported) != 1 {
		c.t.Fatalf("list: %d <reported/>, want 1", len(resp.Form.Reported))
	}
	cols, rows := resp.Form.Table()
	if !slices.Equal(cols, hookVars) {
		c.t.Errorf("list: reported %v, want %v", cols, hookVars)
	}
	out := make(map[string]map[string][]string)
	for i, item := range resp.Form.Items {
		var vars []string
		for _, f := range item.Fields {
			vars = append(vars, f.Var)
		}
		if !slices.Equal(vars, hookVars) {
			c.t.Errorf("list: item %d has fields %v, want %v", i, vars, hookVars)
		}
		out[rows[i]["id"][0]] = rows[i]
	}
	return out
}

// createFields is the create form of a go_code hook on node.
func createFields(node, service, typ, code string) []adhoc.Field {
	return []adhoc.Field{
		{Var: "node", Values: []string{node}},
		{Var: "service", Values: []string{service}},
		{Var: "type", Values: []string{typ}},
		{Var: "arg", Values: strings.Split(code, "\n")},
		{Var: "persistent", Values: []string{"0"}},
	}
}

// wantCmdError checks that err is an XEP-0050 error with condition and
// application condition app ("" for none).
func wantCmdError(t *testing.T, err error, cond, app string) {
	t.Helper()
	var e *adhoc.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want error %s/%s", err, cond, app)
	}
	if e.Condition != cond || e.App != app {
		t.Errorf("got error %s/%s (%q), want %s/%s", e.Condition, e.App, e.Text, cond, app)
	}
}

func TestCommandsAdminDisco(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")

	want := map[string]string{"create": "Create a hook", "delete": "Delete hooks", "list": "List hooks"}
	if got := admin.commandList(); !mapsEqual(got, want) {
		t.Errorf("commands: %v, want %v", got, want)
	}

	var rootItems struct {
		Items []adhoc.Item `xml:"item"`
	}
	err := admin.s.UnmarshalIQElement(admin.ctx(), xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: "http://jabber.org/protocol/disco#items", Local: "query"},
	}), stanza.IQ{To: botJID, Type: stanza.GetIQ}, &rootItems)
	if err != nil || !slices.ContainsFunc(rootItems.Items, func(it adhoc.Item) bool { return it.Node == commands.NS }) {
		t.Errorf("root disco#items %+v (%v) lack the node %s", rootItems.Items, err, commands.NS)
	}

	root, err := admin.info("")
	if err != nil {
		t.Fatalf("disco#info: %v", err)
	}
	if !slices.Contains(root.features(), commands.NS) {
		t.Errorf("root disco#info features %v lack %s", root.features(), commands.NS)
	}

	for _, tc := range []struct {
		node, typ, name string
		features        []string
	}{
		{commands.NS, "command-list", "", []string{commands.NS}},
		{"create", "command-node", "Create a hook", []string{commands.NS, commands.NSData}},
		{"delete", "command-node", "Delete hooks", []string{commands.NS, commands.NSData}},
		{"list", "command-node", "List hooks", []string{commands.NS, commands.NSData}},
	} {
		t.Run(tc.node, func(t *testing.T) {
			d, err := admin.info(tc.node)
			if err != nil {
				t.Fatalf("disco#info %s: %v", tc.node, err)
			}
			if d.Node != tc.node {
				t.Errorf("node %q not echoed (got %q)", tc.node, d.Node)
			}
			if len(d.Identities) != 1 || d.Identities[0].Category != "automation" || d.Identities[0].Type != tc.typ {
				t.Errorf("identities %+v, want automation/%s", d.Identities, tc.typ)
			} else if tc.name != "" && d.Identities[0].Name != tc.name {
				t.Errorf("identity name %q, want %q", d.Identities[0].Name, tc.name)
			}
			for _, f := range tc.features {
				if !slices.Contains(d.features(), f) {
					t.Errorf("features %v lack %s", d.features(), f)
				}
			}
		})
	}
	_, err = admin.info("nope")
	if !errors.Is(err, stanza.Error{Condition: stanza.ItemNotFound}) {
		t.Errorf("disco#info on an unknown node: %v, want item-not-found", err)
	}
}

func TestCommandsAdminCreateListDelete(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	for _, n := range []string{"a", "b"} {
		admin.createNode(n)
	}

	// create through the form: the form offers every field of SPEC §5.
	resp, err := admin.command(adhoc.Request{Node: "create"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if resp.Status != "executing" || resp.SessionID == "" || resp.Execute == "" || !slices.Contains(resp.Actions, resp.Execute) {
		t.Fatalf("create stage: status %q, session %q, execute %q, actions %v", resp.Status, resp.SessionID, resp.Execute, resp.Actions)
	}
	for _, tc := range []struct {
		v, typ string
		values []string
	}{
		{"node", "text-single", nil},
		{"service", "jid-single", nil},
		{"type", "list-single", []string{"go"}},
		{"arg", "text-multi", nil},
		{"persistent", "boolean", []string{"0"}},
		{"events", "list-multi", []string{"items"}},
	} {
		f, ok := resp.Form.Field(tc.v)
		if !ok || f.Type != tc.typ || !slices.Equal(f.Values, tc.values) {
			t.Errorf("field %s: %+v, want type %s values %v", tc.v, f, tc.typ, tc.values)
		}
	}
	code := reportHook("admin@localhost/test")
	done, err := admin.command(adhoc.Request{Node: "create", SessionID: resp.SessionID, Action: adhoc.Complete,
		Submit: createFields("a", "pubsub.localhost", "go_code", code)})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	id := done.Form.Value("id")
	if done.Status != "completed" || done.SessionID != resp.SessionID || done.NoteText("info") != "Hook "+id+" created" {
		t.Fatalf("create: status %q, session %q (want %q), notes %+v", done.Status, done.SessionID, resp.SessionID, done.Notes)
	}
	if done.Form.Type != "result" {
		t.Errorf("create result form type %q", done.Form.Type)
	}
	wantHook := map[string]string{
		"owner": "admin@localhost", "service": "pubsub.localhost", "node": "a", "type": "go_code",
		"arg": code, "persistent": "0", "events": "items", "state": "subscribed",
	}
	for _, v := range hookVars {
		f, ok := done.Form.Field(v)
		if !ok {
			t.Errorf("create result lacks %s", v)
			continue
		}
		if w, ok := wantHook[v]; ok && strings.Join(f.Values, "\n") != w && !(v == "persistent" && boolValue(f.Values) == w) {
			t.Errorf("create result %s = %q, want %q", v, f.Values, w)
		}
	}

	// four more, three of them on node b
	ids := []string{id}
	for _, n := range []string{"a", "b", "b", "b"} {
		ids = append(ids, admin.createHook(n, "pubsub.localhost", hooks.TypeGoCode, "return nil", false))
	}

	rows := admin.listTable()
	if len(rows) != 5 {
		t.Fatalf("list: %d rows, want 5", len(rows))
	}
	for v, w := range wantHook {
		got := strings.Join(rows[id][v], "\n")
		if got != w && !(v == "persistent" && boolValue(rows[id][v]) == w) {
			t.Errorf("list row %s: %s = %q, want %q", id, v, got, w)
		}
	}

	// delete through the filter (node b: 3 hooks), then through ids.
	out := admin.run("delete", adhoc.Complete, []adhoc.Field{{Var: "node", Values: []string{"b"}}})
	if out.Status != "completed" || out.NoteText("info") != "3 hook(s) deleted" {
		t.Errorf("delete by filter: status %q, notes %+v", out.Status, out.Notes)
	}
	out = admin.run("delete", adhoc.Complete, []adhoc.Field{{Var: "hooks", Values: ids[:2]}})
	if out.Status != "completed" || out.NoteText("info") != "2 hook(s) deleted" {
		t.Errorf("delete by ids: status %q, notes %+v", out.Status, out.Notes)
	}
	if rows := admin.listTable(); len(rows) != 0 {
		t.Errorf("list after delete: %v", rows)
	}
}

func TestCommandsUserErrorKeepsValues(t *testing.T) {
	r := newRig(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("a")

	for _, tc := range []struct {
		name   string
		fields []adhoc.Field
		note   string // substring of the error note
	}{
		{"syntax error", createFields("a", "pubsub.localhost", "go_code", "import \"fmt\"\nfmt.Println(\nreturn nil"), "code:3:"},
		{"type error", createFields("a", "pubsub.localhost", "go_code", "return 1 + \"a\""), "code:1:"},
		{"missing node", createFields("", "pubsub.localhost", "go_code", "return nil"), "node is required"},
		{"bad jid", createFields("a", "a@b@c", "go_code", "return nil"), "not a valid JID"},
		{"bad boolean", append(createFields("a", "pubsub.localhost", "go_code", "return nil")[:4],
			adhoc.Field{Var: "persistent", Values: []string{"yes"}}), "persistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, err := admin.command(adhoc.Request{Node: "create"})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			resp, err := admin.command(adhoc.Request{Node: "create", SessionID: first.SessionID, Action: adhoc.Complete, Submit: tc.fields})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if resp.Status != "executing" || resp.SessionID != first.SessionID || resp.Execute == "" {
				t.Fatalf("status %q, session %q (want %q), execute %q", resp.Status, resp.SessionID, first.SessionID, resp.Execute)
			}
			if n := resp.NoteText("error"); !strings.Contains(n, tc.note) {
				t.Errorf("error note %q, want it to contain %q", n, tc.note)
			}
			for _, f := range tc.fields {
				got, _ := resp.Form.Field(f.Var)
				if !slices.Equal(got.Values, f.Values) && !(len(f.Values) == 1 && f.Values[0] == "" && len(got.Values) == 0) {
					t.Errorf("field %s came back as %q, want %q", f.Var, got.Values, f.Values)
				}
			}
			// The stage still works: fix it and complete.
			fixed := createFields("a", "pubsub.localhost", "go_code", "return nil")
			resp, err = admin.command(adhoc.Request{Node: "create", SessionID: first.SessionID, Action: adhoc.Complete, Submit: fixed})
			if err != nil || resp.Status != "completed" {
				t.Fatalf("create after fixing: %v %+v", err, resp)
			}
		})
	}
}

func TestCommandsSessionErrors(t *testing.T) {
	r := newRig(t)
	const idle = 2 * time.Second
	r.startBot(t, func(c *Config) {
		c.commandOptions = []commands.Option{commands.WithIdleTimeout(idle)}
	})
	admin := r.client(t, "admin")
	user := r.client(t, "user")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other := r.srv.DialServe(t, ctx, "admin", "admin-pass", "other", nil)

	open := func(t *testing.T) string {
		t.Helper()
		resp, err := admin.command(adhoc.Request{Node: "create"})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		return resp.SessionID
	}
	for _, tc := range []struct {
		name      string
		req       func(t *testing.T) (*adhoc.Response, error)
		cond, app string
	}{
		{"unknown sessionid", func(t *testing.T) (*adhoc.Response, error) {
			return admin.command(adhoc.Request{Node: "create", SessionID: "nosuchsession", Action: adhoc.Complete})
		}, "bad-request", "bad-sessionid"},
		{"expired after idle timeout", func(t *testing.T) (*adhoc.Response, error) {
			sid := open(t)
			time.Sleep(idle + 500*time.Millisecond)
			return admin.command(adhoc.Request{Node: "create", SessionID: sid, Action: adhoc.Complete,
				Submit: createFields("a", "pubsub.localhost", "go_code", "return nil")})
		}, "not-allowed", "session-expired"},
		{"completed session reused", func(t *testing.T) (*adhoc.Response, error) {
			resp, err := admin.command(adhoc.Request{Node: "list"})
			if err != nil || resp.Status != "completed" {
				t.Fatalf("list: %v %+v", err, resp)
			}
			return admin.command(adhoc.Request{Node: "list", SessionID: resp.SessionID})
		}, "not-allowed", "session-expired"},
		{"action not offered", func(t *testing.T) (*adhoc.Response, error) {
			return admin.command(adhoc.Request{Node: "create", SessionID: open(t), Action: adhoc.Next})
		}, "bad-request", "bad-action"},
		{"prev on the first stage", func(t *testing.T) (*adhoc.Response, error) {
			return admin.command(adhoc.Request{Node: "create", SessionID: open(t), Action: adhoc.Prev})
		}, "bad-request", "bad-action"},
		{"sessionid from another full JID", func(t *testing.T) (*adhoc.Response, error) {
			return adhoc.Send(ctx, other, botJID, adhoc.Request{Node: "create", SessionID: open(t), Action: adhoc.Complete,
				Submit: createFields("a", "pubsub.localhost", "go_code", "return nil")})
		}, "bad-request", "bad-sessionid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.req(t)
			if err == nil {
				t.Fatalf("got %+v, want error %s/%s", resp, tc.cond, tc.app)
			}
			wantCmdError(t, err, tc.cond, tc.app)
		})
	}

	t.Run("cancel", func(t *testing.T) {
		sid := open(t)
		resp, err := admin.command(adhoc.Request{Node: "create", SessionID: sid, Action: adhoc.Cancel})
		if err != nil || resp.Status != "canceled" || resp.SessionID != sid {
			t.Fatalf("cancel: %v %+v", err, resp)
		}
		_, err = admin.command(adhoc.Request{Node: "create", SessionID: sid, Action: adhoc.Complete,
			Submit: createFields("a", "pubsub.localhost", "go_code", "return nil")})
		wantCmdError(t, err, "not-allowed", "session-expired")
		if rows := admin.listTable(); len(rows) != 0 {
			t.Errorf("a canceled create created hooks: %v", rows)
		}
	})

	t.Run("too many sessions", func(t *testing.T) {
		var err error
		for i := 0; i <= commands.DefaultMaxSessions && err == nil; i++ {
			_, err = admin.command(adhoc.Request{Node: "create"})
		}
		wantCmdError(t, err, "resource-constraint", "")
		// Another requester is not affected.
		if _, err := user.command(adhoc.Request{Node: "list"}); err != nil {
			t.Errorf("user: %v", err)
		}
	})
}

func TestCommandsStranger(t *testing.T) {
	r := newRig(t)
	b := r.startBot(t, nil)
	stranger := r.client(t, "stranger")

	if got := stranger.commandList(); len(got) != 0 {
		t.Errorf("stranger sees commands %v", got)
	}
	for _, node := range []string{"create", "delete", "list"} {
		_, err := stranger.command(adhoc.Request{Node: node})
		wantCmdError(t, err, "forbidden", "")
	}

	stranger.say("hook list")
	if m := stranger.next(5 * time.Second); m.Body != commands.Refusal || m.Type != stanza.ChatMessage || !m.From.Equal(botJID) {
		t.Errorf("refusal: %+v", m)
	}
	stranger.say("hook list")
	stranger.say("help")
	stranger.none(time.Second)

	// The bot answers unsubscribed. Prosody 0.12 with internal storage
	// does not forward that presence to the client (its roster save
	// reports no change), so read the result off the stranger's roster:
	// the pending request is gone and there is no subscription.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stranger.s.Send(ctx, stanza.Presence{To: botJID.Bare(), Type: stanza.SubscribePresence}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	for {
		var roster struct {
			Items []struct {
				JID          string `xml:"jid,attr"`
				Subscription string `xml:"subscription,attr"`
				Ask          string `xml:"ask,attr"`
			} `xml:"item"`
		}
		err := stranger.s.UnmarshalIQElement(ctx, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "jabber:iq:roster", Local: "query"}}),
			stanza.IQ{Type: stanza.GetIQ}, &roster)
		if err != nil {
			t.Fatalf("roster: %v", err)
		}
		pending := false
		for _, it := range roster.Items {
			if it.JID != botJID.Bare().String() {
				continue
			}
			if it.Subscription == "to" || it.Subscription == "both" {
				t.Fatalf("the stranger's subscription was accepted: %+v", it)
			}
			pending = it.Ask != ""
		}
		if !pending && strings.Contains(b.log.String(), "refusing presence subscription") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("subscription still pending after 10 s: %+v", roster.Items)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestCommandsUser(t *testing.T) {
	r := newRig(t)
	b := r.startBot(t, nil)
	admin := r.client(t, "admin")
	user := r.client(t, "user")
	admin.createNode("a")
	adminHook := admin.createHook("a", "pubsub.localhost", hooks.TypeGoCode, "return nil", true) // kept across the restart below

	// Default user_types: no code type, no create.
	want := map[string]string{"delete": "Delete hooks", "list": "List hooks"}
	if got := user.commandList(); !mapsEqual(got, want) {
		t.Errorf("user commands: %v, want %v", got, want)
	}
	_, err := user.command(adhoc.Request{Node: "create"})
	wantCmdError(t, err, "forbidden", "")
	user.say("hook create -n a -s pubsub.localhost -t go_code return nil")
	if m := user.next(5 * time.Second); !strings.HasPrefix(m.Body, "error:") {
		t.Errorf("chat create by a user: %q", m.Body)
	}

	// The admin's hook is invisible to the user and cannot be deleted.
	checkHidden := func(t *testing.T) {
		t.Helper()
		if rows := user.listTable(); len(rows) != 0 {
			t.Errorf("user lists %v", rows)
		}
		resp, err := user.command(adhoc.Request{Node: "delete"})
		if err != nil {
			t.Fatalf("delete: %v", err)
		}
		if f, _ := resp.Form.Field("hooks"); len(f.Options) != 0 {
			t.Errorf("user may choose %+v", f.Options)
		}
		resp, err = user.command(adhoc.Request{Node: "delete", SessionID: resp.SessionID, Action: adhoc.Complete,
			Submit: []adhoc.Field{{Var: "hooks", Values: []string{adminHook}}}})
		if err != nil || resp.Status != "executing" || resp.NoteText("error") == "" {
			t.Errorf("user deletes the admin's hook by id: %v %+v", err, resp)
		}
		out := user.run("delete", adhoc.Complete, []adhoc.Field{{Var: "node", Values: []string{"a"}}})
		if out.NoteText("info") != "0 hook(s) deleted" {
			t.Errorf("user deletes by filter: %+v", out.Notes)
		}
		user.say("hook delete " + adminHook)
		if m := user.next(5 * time.Second); !strings.HasPrefix(m.Body, "error:") {
			t.Errorf("chat delete of the admin's hook by a user: %q", m.Body)
		}
		if _, ok := admin.listTable()[adminHook]; !ok {
			t.Fatalf("the admin's hook is gone")
		}
	}
	checkHidden(t)

	// user_types = ["go_code"]: only go_code is offered and accepted.
	b.stop(t)
	r.startBot(t, func(c *Config) { c.UserTypes = []hooks.Type{hooks.TypeGoCode} })
	if got := user.commandList(); got["create"] != "Create a hook" {
		t.Errorf("user commands with user_types: %v", got)
	}
	resp, err := user.command(adhoc.Request{Node: "create"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	f, _ := resp.Form.Field("type")
	if len(f.Options) != 1 || f.Options[0].Value != "go_code" || !slices.Equal(f.Values, []string{"go_code"}) {
		t.Errorf("type field offered to the user: %+v", f)
	}
	resp, err = user.command(adhoc.Request{Node: "create", SessionID: resp.SessionID, Action: adhoc.Complete,
		Submit: createFields("a", "pubsub.localhost", "go_file", "/tmp/x.go")})
	if err != nil || resp.Status != "executing" || !strings.Contains(resp.NoteText("error"), "type") {
		t.Errorf("user creates a go_file hook: %v %+v", err, resp)
	}
	user.say("hook create -n a -s pubsub.localhost -t go x/y")
	if m := user.next(5 * time.Second); !strings.HasPrefix(m.Body, "error:") {
		t.Errorf("chat create of a go hook by a user: %q", m.Body)
	}
	mine := user.createHook("a", "pubsub.localhost", hooks.TypeGoCode, "return nil", false)
	rows := user.listTable()
	if len(rows) != 1 || rows[mine] == nil || rows[mine]["owner"][0] != "user@localhost" {
		t.Errorf("user lists %v, want only %s", rows, mine)
	}
	if rows := admin.listTable(); len(rows) != 2 {
		t.Errorf("admin lists %d hooks, want 2 (with owners)", len(rows))
	}
	user.run("delete", adhoc.Complete, []adhoc.Field{{Var: "hooks", Values: []string{mine}}})
	checkHidden(t)
}

func TestCommandsChat(t *testing.T) {
	r := newRig(t)
	b := r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("news")

	ask := func(body string) message {
		t.Helper()
		admin.say(body)
		m := admin.next(10 * time.Second)
		if !m.From.Equal(botJID) || m.Type != stanza.ChatMessage {
			t.Errorf("reply from %s of type %q", m.From, m.Type)
		}
		return m
	}

	if m := ask("help"); m.Body != commands.Usage() || !strings.Contains(m.Body, "hook create -n NODE") {
		t.Errorf("help: %q", m.Body)
	}
	if m := ask("hook list"); m.Body != "No hooks." {
		t.Errorf("empty list: %q", m.Body)
	}
	if m := ask("hook list -O json"); m.Body != "[]" {
		t.Errorf("empty json list: %q", m.Body)
	}

	code := "import \"fmt\"\n" +
		"msg := fmt.Sprintf(\"%s %s\", item.ID, item.Payload)\n" +
		"return bot.Send(\"admin@localhost/test\", msg)"
	m := ask("hook create -n news -s pubsub.localhost -t go_code -P\n" + code)
	id := strings.TrimSuffix(strings.TrimPrefix(m.Body, "Hook "), " created")
	if !strings.HasPrefix(m.Body, "Hook ") || !strings.HasSuffix(m.Body, " created") || id == "" {
		t.Fatalf("create: %q", m.Body)
	}

	// It survives a restart, and runs.
	b.stop(t)
	r.startBot(t, nil)
	var list []map[string]any
	m = ask("hook list -O json")
	if err := json.Unmarshal([]byte(m.Body), &list); err != nil {
		t.Fatalf("list -O json is not JSON: %v\n%s", err, m.Body)
	}
	if len(list) != 1 {
		t.Fatalf("list after restart: %s", m.Body)
	}
	var keys []string
	for k := range list[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := slices.Clone(hookVars)
	sort.Strings(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("json keys %v, want %v", keys, wantKeys)
	}
	h := list[0]
	if h["id"] != id || h["persistent"] != true || h["arg"] != code || h["type"] != "go_code" || h["node"] != "news" ||
		fmt.Sprint(h["events"]) != "[items]" || h["owner"] != "admin@localhost" {
		t.Errorf("listed hook %v", h)
	}
	admin.publish("pubsub.localhost", "news", "n1", "<x xmlns='urn:t'>1</x>")
	if m := admin.next(10 * time.Second); m.Body != `n1 <x xmlns="urn:t">1</x>` {
		t.Errorf("hook run after restart: %q", m.Body)
	}

	if m := ask("hook list"); !strings.Contains(m.Body, "id: "+id+"\n") || !strings.Contains(m.Body, "persistent: true") {
		t.Errorf("simple list: %q", m.Body)
	}

	for _, tc := range []struct{ body, usage string }{
		{"hook create -x -n news return nil", "hook create -n NODE"},
		{"hook list -O xml", "hook list [-O simple|json]"},
		{"hook delete --nope", "hook delete [-n NODE]"},
		{"hook frobnicate", "hook list"},
		{"hook delete", "hook delete [-n NODE]"},
	} {
		if m := ask(tc.body); !strings.HasPrefix(m.Body, "error:") || !strings.Contains(m.Body, tc.usage) {
			t.Errorf("%q: %q, want error: with usage %q", tc.body, m.Body, tc.usage)
		}
	}

	if m := ask("hook delete " + id); m.Body != "1 hook(s) deleted" {
		t.Errorf("delete: %q", m.Body)
	}
	if m := ask("hook list -O json"); m.Body != "[]" {
		t.Errorf("list after delete: %q", m.Body)
	}
	// A normal message gets a normal reply.
	msg := stanza.Message{To: botJID, Type: stanza.NormalMessage}
	if err := admin.s.Send(admin.ctx(), msg.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData("hook list")), xml.StartElement{Name: xml.Name{Local: "body"}}))); err != nil {
		t.Fatal(err)
	}
	if m := admin.next(10 * time.Second); m.Type != stanza.NormalMessage || m.Body != "No hooks." {
		t.Errorf("reply to a normal message: %+v", m)
	}
	// Headline and error messages get no reply.
	for _, typ := range []stanza.MessageType{stanza.HeadlineMessage, stanza.ErrorMessage} {
		msg := stanza.Message{To: botJID, Type: typ}
		if err := admin.s.Send(admin.ctx(), msg.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData("help")), xml.StartElement{Name: xml.Name{Local: "body"}}))); err != nil {
			t.Fatal(err)
		}
	}
	admin.none(time.Second)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// boolValue normalizes an XEP-0004 boolean value to "0" or "1".
func boolValue(vs []string) string {
	if len(vs) == 1 && (vs[0] == "1" || vs[0] == "true") {
		return "1"
	}
	return "0"
}

// slixmpp is the Python with slixmpp that runs the interoperability
// requester (Debian's python3-slixmpp, not a pyenv on PATH).
const slixmppPython = "/usr/bin/python3"

// requireSlixmpp skips the test when slixmpp is missing, or fails it
// when HOOKBOT_INTEGRATION=1 (as prosody.Require does).
func requireSlixmpp(t *testing.T) {
	t.Helper()
	err := exec.Command(slixmppPython, "-c", "import slixmpp").Run()
	if err == nil {
		return
	}
	if os.Getenv(prosody.EnvIntegration) == "1" {
		t.Fatalf("%s cannot import slixmpp (%v) and %s=1: apt-get install python3-slixmpp", slixmppPython, err, prosody.EnvIntegration)
	}
	t.Skipf("%s cannot import slixmpp (%v): skipping (apt-get install python3-slixmpp; set %s=1 to make this a failure)", slixmppPython, err, prosody.EnvIntegration)
}

// TestCommandsSlixmpp runs create → list → delete with slixmpp's XEP-0050
// requester, an independent implementation (internal/interop).
func TestCommandsSlixmpp(t *testing.T) {
	r := newRig(t)
	requireSlixmpp(t)
	r.startBot(t, nil)
	admin := r.client(t, "admin")
	admin.createNode("interop")

	host, port, err := net.SplitHostPort(r.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	code := reportHook("admin@localhost/test")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, slixmppPython, filepath.Join("..", "..", "internal", "interop", "adhoc_slixmpp.py"),
		"admin@localhost/slixmpp", "admin-pass", host, port, r.srv.CAFile, botJID.String(), "interop", code)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("adhoc_slixmpp.py: %v\nstdout: %s\nstderr: %s", err, out, tail(stderr.String(), 40))
	}
	var got struct {
		Failed *string
		Result struct {
			Commands    [][2]string
			CreateStage struct {
				Status, Sessionid string
				Fields            []string
			} `json:"create_stage"`
			Create struct {
				Status, Sessionid string
				Notes             []string
				Form              map[string][]string
			}
			List struct {
				Status   string
				Reported []string
				Items    []map[string][]string
			}
			Delete struct {
				Status string
				Notes  []string
			}
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	t.Logf("slixmpp saw: %s", out)
	if got.Failed != nil {
		t.Fatalf("slixmpp failed: %s", *got.Failed)
	}
	res := got.Result
	wantCmds := [][2]string{{"create", "Create a hook"}, {"delete", "Delete hooks"}, {"list", "List hooks"}}
	if !slices.Equal(res.Commands, wantCmds) {
		t.Errorf("commands %v, want %v", res.Commands, wantCmds)
	}
	if res.CreateStage.Status != "executing" || !slices.Equal(res.CreateStage.Fields, []string{"arg", "events", "node", "persistent", "service", "type"}) {
		t.Errorf("create stage %+v", res.CreateStage)
	}
	id := ""
	if ids := res.Create.Form["id"]; len(ids) == 1 {
		id = ids[0]
	}
	if res.Create.Status != "completed" || res.Create.Sessionid != res.CreateStage.Sessionid ||
		!slices.Equal(res.Create.Notes, []string{"Hook " + id + " created"}) || id == "" {
		t.Errorf("create %+v", res.Create)
	}
	if strings.Join(res.Create.Form["arg"], "\n") != code || strings.Join(res.Create.Form["node"], "") != "interop" {
		t.Errorf("create result form %v", res.Create.Form)
	}
	wantCols := slices.Clone(hookVars)
	sort.Strings(wantCols)
	if res.List.Status != "completed" || !slices.Equal(res.List.Reported, wantCols) || len(res.List.Items) != 1 {
		t.Fatalf("list %+v", res.List)
	}
	if item := res.List.Items[0]; strings.Join(item["id"], "") != id || strings.Join(item["owner"], "") != "admin@localhost" ||
		strings.Join(item["arg"], "\n") != code || len(item) != len(hookVars) {
		t.Errorf("list item %v", item)
	}
	if res.Delete.Status != "completed" || !slices.Equal(res.Delete.Notes, []string{"1 hook(s) deleted"}) {
		t.Errorf("delete %+v", res.Delete)
	}
	if rows := admin.listTable(); len(rows) != 0 {
		t.Errorf("hooks left after slixmpp's delete: %v", rows)
	}
}
