package commands

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/hooks"
)

func TestItems(t *testing.T) {
	for _, tc := range []struct {
		name  string
		types []hooks.Type
		from  jid.JID
		want  []string
	}{
		{"admin", nil, admin, []string{"create", "delete", "list"}},
		{"user without types", nil, user, []string{"delete", "list"}},
		{"user with go", []hooks.Type{hooks.TypeGo}, user, []string{"create", "delete", "list"}},
		{"stranger", []hooks.Type{hooks.TypeGo}, stranger, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureTypes(t, tc.types...)
			var got []string
			for _, it := range f.srv.Items(tc.from) {
				if it.Name == "" {
					t.Errorf("item %s has no name", it.Node)
				}
				got = append(got, it.Node)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("items = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		node, category, typ string
		features            []string
		ok                  bool
	}{
		{NS, "automation", "command-list", []string{NS}, true},
		{"create", "automation", "command-node", []string{NS, NSData}, true},
		{"delete", "automation", "command-node", []string{NS, NSData}, true},
		{"list", "automation", "command-node", []string{NS, NSData}, true},
		{"nope", "", "", nil, false},
	} {
		ids, feats, ok := f.srv.Info(tc.node)
		if ok != tc.ok {
			t.Errorf("Info(%q) ok = %v", tc.node, ok)
			continue
		}
		if !ok {
			continue
		}
		if len(ids) != 1 || ids[0].Category != tc.category || ids[0].Type != tc.typ || ids[0].Name == "" {
			t.Errorf("Info(%q) identities = %+v", tc.node, ids)
		}
		var fs []string
		for _, ft := range feats {
			fs = append(fs, ft.Var)
		}
		if !slices.Equal(fs, tc.features) {
			t.Errorf("Info(%q) features = %v, want %v", tc.node, fs, tc.features)
		}
	}
}

// TestSessionErrors has one case per XEP-0050 error rule of SPEC §5.
func TestSessionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run returns the reply to check, after any setup.
		run  func(t *testing.T, f *fixture) xReply
		cond string
	}{
		{"unknown sessionid", func(t *testing.T, f *fixture) xReply {
			return f.submit(t, admin, "create", "nosuchsession", "complete", nil)
		}, "bad-request bad-sessionid"},
		{"sessionid from another full JID", func(t *testing.T, f *fixture) xReply {
			sid := f.execute(t, admin, "create").Command.SessionID
			return f.submit(t, admin2, "create", sid, "complete", map[string][]string{"node": {"n"}, "arg": {"x"}})
		}, "bad-request bad-sessionid"},
		{"sessionid of another node", func(t *testing.T, f *fixture) xReply {
			sid := f.execute(t, admin, "create").Command.SessionID
			return f.submit(t, admin, "delete", sid, "complete", nil)
		}, "bad-request bad-sessionid"},
		{"idle-expired session", func(t *testing.T, f *fixture) xReply {
			sid := f.execute(t, admin, "create").Command.SessionID
			f.clock.Add(DefaultIdleTimeout)
			return f.submit(t, admin, "create", sid, "complete", map[string][]string{"node": {"n"}, "arg": {"x"}})
		}, "not-allowed session-expired"},
		{"completed session", func(t *testing.T, f *fixture) xReply {
			sid := f.execute(t, admin, "create").Command.SessionID
			r := f.submit(t, admin, "create", sid, "complete", map[string][]string{"node": {"n"}, "arg": {"x"}})
			wantStatus(t, r, "completed")
			return f.submit(t, admin, "create", sid, "complete", map[string][]string{"node": {"n"}, "arg": {"x"}})
		}, "not-allowed session-expired"},
		{"canceled session", func(t *testing.T, f *fixture) xReply {
			sid := f.execute(t, admin, "create").Command.SessionID
			wantStatus(t, f.submit(t, admin, "create", sid, "cancel", nil), "canceled")
			return f.submit(t, admin, "create", sid, "complete", map[string][]string{"node": {"n"}, "arg": {"x"}})
		}, "not-allowed session-expired"},
		{"action next not offered", func(t *testing.T, f *fixture) xReply {
			sid := f.execute(t, admin, "create").Command.SessionID
			return f.submit(t, admin, "create", sid, "next", nil)
		}, "bad-request bad-action"},
		{"action prev not offered", func(t *testing.T, f *fixture) xReply {
			sid := f.execute(t, admin, "delete").Command.SessionID
			return f.submit(t, admin, "delete", sid, "prev", nil)
		}, "bad-request bad-action"},
		{"first request not execute", func(t *testing.T, f *fixture) xReply {
			return f.send(t, admin, `<command xmlns='`+NS+`' node='create' action='complete'/>`)
		}, "bad-request bad-action"},
		{"unknown action", func(t *testing.T, f *fixture) xReply {
			return f.send(t, admin, `<command xmlns='`+NS+`' node='create' action='jump'/>`)
		}, "bad-request malformed-action"},
		{"unknown node", func(t *testing.T, f *fixture) xReply {
			return f.execute(t, admin, "format-disk")
		}, "item-not-found"},
		{"stranger", func(t *testing.T, f *fixture) xReply {
			return f.execute(t, stranger, "list")
		}, "forbidden"},
		{"user create without types", func(t *testing.T, f *fixture) xReply {
			return f.execute(t, user, "create")
		}, "forbidden"},
		{"malformed payload", func(t *testing.T, f *fixture) xReply {
			return f.send(t, admin, `<query xmlns='jabber:iq:version'/>`)
		}, "bad-request"},
		{"too many sessions", func(t *testing.T, f *fixture) xReply {
			for range DefaultMaxSessions {
				wantStatus(t, f.execute(t, admin, "create"), "executing")
			}
			return f.execute(t, admin2, "delete") // same bare JID
		}, "resource-constraint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			r := tc.run(t, f)
			if r.Type != "error" || r.cond() != tc.cond {
				t.Errorf("got type %s cond %q, want error %q", r.Type, r.cond(), tc.cond)
			}
		})
	}
}

func TestSessionLifecycle(t *testing.T) {
	f := newFixture(t)
	r := f.execute(t, admin, "create")
	wantStatus(t, r, "executing")
	sid := r.Command.SessionID
	if sid == "" || r.Command.Node != "create" {
		t.Fatalf("first stage: %+v", r.Command)
	}
	if a := r.Command.Actions[0]; a.Execute != "complete" {
		t.Errorf("execute = %q, want complete", a.Execute)
	}
	// Use at 9 minutes keeps it alive for 10 more.
	f.clock.Add(9 * time.Minute)
	r = f.submit(t, admin, "create", sid, "", map[string][]string{"arg": {"x"}}) // missing node
	wantStatus(t, r, "executing")
	if r.Command.SessionID != sid {
		t.Errorf("sessionid changed: %s → %s", sid, r.Command.SessionID)
	}
	f.clock.Add(9 * time.Minute)
	r = f.submit(t, admin, "create", sid, ActionExecute, map[string][]string{"node": {"n"}, "arg": {"x"}})
	wantStatus(t, r, "completed")
	if r.Command.SessionID != sid {
		t.Errorf("sessionid changed: %s → %s", sid, r.Command.SessionID)
	}
	if n := f.srv.openSessions(); n != 0 {
		t.Errorf("%d sessions still open", n)
	}
	// Canceled sessions are gone.
	sid = f.execute(t, admin, "delete").Command.SessionID
	r = f.submit(t, admin, "delete", sid, "cancel", nil)
	wantStatus(t, r, "canceled")
	if r.Command.SessionID != sid {
		t.Errorf("canceled reply sessionid %q", r.Command.SessionID)
	}
	if n := f.srv.openSessions(); n != 0 {
		t.Errorf("%d sessions open after cancel", n)
	}
	// Expired sessions are forgotten after a while: then they are unknown.
	sid = f.execute(t, admin, "delete").Command.SessionID
	f.clock.Add(DefaultIdleTimeout + endedTTL)
	f.execute(t, admin, "list") // sweeps
	if r := f.submit(t, admin, "delete", sid, "complete", nil); r.cond() != "bad-request bad-sessionid" {
		t.Errorf("long-expired session: %q", r.cond())
	}
}

func TestCreateAdmin(t *testing.T) {
	f := newFixture(t)
	r := f.execute(t, admin, "create")
	wantStatus(t, r, "executing")
	if len(r.Command.Forms) != 1 || r.Command.Forms[0].Type != "form" {
		t.Fatalf("forms: %+v", r.Command.Forms)
	}
	form := r.Command.Forms[0]
	for _, tc := range []struct {
		v, typ   string
		required bool
		values   []string
		options  []string
	}{
		{"node", "text-single", true, nil, nil},
		{"service", "jid-single", false, nil, nil},
		{"type", "list-single", false, []string{"go"}, []string{"go", "go_file", "go_code"}},
		{"arg", "text-multi", true, nil, nil},
		{"persistent", "boolean", false, []string{"0"}, nil},
		{"events", "list-multi", false, []string{"items"}, []string{"items", "retract", "purge", "delete"}},
	} {
		fl, ok := form.field(tc.v)
		if !ok {
			t.Errorf("no field %s", tc.v)
			continue
		}
		var opts []string
		for _, o := range fl.Options {
			opts = append(opts, o.Value)
		}
		if fl.Type != tc.typ || (fl.Required != nil) != tc.required || !slices.Equal(fl.Values, tc.values) || !slices.Equal(opts, tc.options) || fl.Label == "" {
			t.Errorf("field %s = %+v", tc.v, fl)
		}
	}

	r = f.submit(t, admin, "create", r.Command.SessionID, "complete", map[string][]string{
		"node":       {"news"},
		"type":       {"go_code"},
		"arg":        {"x := 1", "_ = x"},
		"persistent": {"true"},
		"events":     {"items", "retract"},
	})
	wantStatus(t, r, "completed")
	if got := r.notes(); got != "info: Hook h1 created" {
		t.Errorf("notes = %q", got)
	}
	want := hooks.Hook{
		ID: "h1", Owner: "admin@example.org", Service: "admin@example.org", Node: "news",
		Type: hooks.TypeGoCode, Arg: "x := 1\n_ = x", Persistent: true,
		Events: []string{"items", "retract"}, State: "subscribed", Created: time.Unix(0, 0),
	}
	if got := f.hooks.List(""); len(got) != 1 || !equalHook(got[0], want) {
		t.Errorf("created %+v, want %+v", got, want)
	}
	if len(r.Command.Forms) != 1 || r.Command.Forms[0].Type != "result" {
		t.Fatalf("result forms: %+v", r.Command.Forms)
	}
	res := r.Command.Forms[0]
	for v, want := range map[string][]string{
		"id": {"h1"}, "owner": {"admin@example.org"}, "service": {"admin@example.org"},
		"node": {"news"}, "type": {"go_code"}, "arg": {"x := 1", "_ = x"},
		"persistent": {"1"}, "events": {"items", "retract"}, "state": {"subscribed"},
	} {
		if fl, _ := res.field(v); !slices.Equal(fl.Values, want) {
			t.Errorf("result field %s = %q, want %q", v, fl.Values, want)
		}
	}
}

func equalHook(a, b hooks.Hook) bool {
	return a.ID == b.ID && a.Owner == b.Owner && a.Service == b.Service && a.Node == b.Node &&
		a.Type == b.Type && a.Arg == b.Arg && a.Persistent == b.Persistent &&
		slices.Equal(a.Events, b.Events) && a.State == b.State
}

// TestCreateUserError checks that a user error re-sends the stage with the
// submitted values kept and an error note.
func TestCreateUserError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string][]string
		note   string
	}{
		{"missing node", map[string][]string{"arg": {"a", "b"}, "service": {"pubsub.example.org"}}, "node is required"},
		{"missing arg", map[string][]string{"node": {"n"}}, "arg is required"},
		{"bad JID", map[string][]string{"node": {"n"}, "arg": {"a"}, "service": {"a@b@c"}}, "not a valid JID"},
		{"bad boolean", map[string][]string{"node": {"n"}, "arg": {"a"}, "persistent": {"yes"}}, "must be 0, 1, true or false"},
		{"type not offered", map[string][]string{"node": {"n"}, "arg": {"a"}, "type": {"python"}}, `"python" is not one of`},
		{"event not offered", map[string][]string{"node": {"n"}, "arg": {"a"}, "events": {"items", "publish"}}, `"publish" is not one of`},
		{"two values for text-single", map[string][]string{"node": {"n", "m"}, "arg": {"a"}}, "takes one value"},
		{"code does not compile", map[string][]string{"node": {"n"}, "type": {"go_code"}, "arg": {"x := 1", "BROKEN"}}, "code:2:1: undefined: BROKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			sid := f.execute(t, admin, "create").Command.SessionID
			r := f.submit(t, admin, "create", sid, "complete", tc.fields)
			wantStatus(t, r, "executing")
			if r.Command.SessionID != sid {
				t.Errorf("sessionid changed")
			}
			if len(r.Command.Notes) != 1 || r.Command.Notes[0].Type != "error" || !strings.Contains(r.Command.Notes[0].Text, tc.note) {
				t.Errorf("notes = %q, want error containing %q", r.notes(), tc.note)
			}
			if len(r.Command.Forms) != 1 {
				t.Fatalf("forms: %+v", r.Command.Forms)
			}
			for v, want := range tc.fields {
				if fl, _ := r.Command.Forms[0].field(v); !slices.Equal(fl.Values, want) {
					t.Errorf("kept %s = %q, want %q", v, fl.Values, want)
				}
			}
			if ids := f.hooks.ids(); ids != nil {
				t.Errorf("hooks created: %v", ids)
			}
			// The session goes on: fixing the error completes it.
			fixed := map[string][]string{"node": {"n"}, "arg": {"a"}}
			wantStatus(t, f.submit(t, admin, "create", sid, "complete", fixed), "completed")
		})
	}
}

func TestCreateUser(t *testing.T) {
	f := newFixtureTypes(t, hooks.TypeGo)
	r := f.execute(t, user, "create")
	wantStatus(t, r, "executing")
	fl, _ := r.Command.Forms[0].field("type")
	if len(fl.Options) != 1 || fl.Options[0].Value != "go" {
		t.Errorf("user type options = %+v", fl.Options)
	}
	sid := r.Command.SessionID
	r = f.submit(t, user, "create", sid, "complete", map[string][]string{"node": {"n"}, "arg": {"x"}, "type": {"go_code"}})
	wantStatus(t, r, "executing")
	if r.notes() == "" || r.Command.Notes[0].Type != "error" {
		t.Errorf("user picked go_code: notes %q", r.notes())
	}
	r = f.submit(t, user, "create", sid, "complete", map[string][]string{"node": {"n"}, "arg": {"example.org/h"}, "service": {"pubsub.example.org"}})
	wantStatus(t, r, "completed")
	if hs := f.hooks.List("user@example.org"); len(hs) != 1 || hs[0].Type != hooks.TypeGo || hs[0].Service != "pubsub.example.org" {
		t.Errorf("user hooks %+v", hs)
	}
}

// table checks that the form is a well-formed result table and returns
// its rows as var → values.
func table(t *testing.T, r xReply) []map[string][]string {
	t.Helper()
	if len(r.Command.Forms) != 1 {
		t.Fatalf("forms: %+v", r.Command.Forms)
	}
	x := r.Command.Forms[0]
	if x.Type != "result" || len(x.Reported) != 1 || len(x.Fields) != 0 {
		t.Fatalf("not a result table: %+v", x)
	}
	var cols []string
	for _, c := range x.Reported[0].Fields {
		cols = append(cols, c.Var)
	}
	if want := []string{"id", "owner", "service", "node", "type", "arg", "persistent", "events", "state"}; !slices.Equal(cols, want) {
		t.Errorf("reported = %v, want %v", cols, want)
	}
	var rows []map[string][]string
	for i, it := range x.Items {
		row := make(map[string][]string)
		for _, fl := range it.Fields {
			row[fl.Var] = fl.Values
		}
		for _, c := range cols {
			if _, ok := row[c]; !ok {
				t.Errorf("item %d lacks field %s", i, c)
			}
		}
		if len(row) != len(cols) {
			t.Errorf("item %d has %d fields, want %d", i, len(row), len(cols))
		}
		rows = append(rows, row)
	}
	return rows
}

func TestList(t *testing.T) {
	f := newFixture(t)
	f.hooks.add(t, hooks.Hook{Owner: "admin@example.org", Service: "pubsub.example.org", Node: "a", Type: hooks.TypeGoCode, Arg: "l1\nl2", Events: []string{"items", "purge"}})
	f.hooks.add(t, hooks.Hook{Owner: "user@example.org", Service: "user@example.org", Node: "b", Type: hooks.TypeGo, Arg: "x/y", Persistent: true, Events: []string{"items"}})
	f.hooks.add(t, hooks.Hook{Owner: "coder@example.org", Service: "coder@example.org", Node: "c", Type: hooks.TypeGo, Arg: "", Events: nil})
	for _, tc := range []struct {
		from jid.JID
		ids  []string
	}{
		{admin, []string{"h1", "h2", "h3"}},
		{user, []string{"h2"}},
	} {
		r := f.execute(t, tc.from, "list")
		wantStatus(t, r, "completed")
		if r.Command.SessionID == "" {
			t.Error("no sessionid on a one-stage command")
		}
		rows := table(t, r)
		var ids []string
		for _, row := range rows {
			ids = append(ids, strings.Join(row["id"], ""))
		}
		if !slices.Equal(ids, tc.ids) {
			t.Errorf("%s lists %v, want %v", tc.from, ids, tc.ids)
		}
		if tc.from.Equal(admin) {
			if got := rows[0]["arg"]; !slices.Equal(got, []string{"l1", "l2"}) {
				t.Errorf("arg = %q", got)
			}
			if got := rows[0]["events"]; !slices.Equal(got, []string{"items", "purge"}) {
				t.Errorf("events = %q", got)
			}
			if got := rows[1]["persistent"]; !slices.Equal(got, []string{"1"}) {
				t.Errorf("persistent = %q", got)
			}
			if got := rows[2]["owner"]; !slices.Equal(got, []string{"coder@example.org"}) {
				t.Errorf("owner = %q", got)
			}
		}
	}
	// Empty: one reported, no item.
	f = newFixture(t)
	if rows := table(t, f.execute(t, user, "list")); len(rows) != 0 {
		t.Errorf("rows %v", rows)
	}
}

func TestDelete(t *testing.T) {
	seed := func(t *testing.T) *fixture {
		f := newFixture(t)
		for _, h := range []hooks.Hook{
			{Owner: "admin@example.org", Service: "ps.example.org", Node: "n", Type: hooks.TypeGo, Arg: "a"},
			{Owner: "admin@example.org", Service: "ps.example.org", Node: "n", Type: hooks.TypeGoCode, Arg: "b"},
			{Owner: "user@example.org", Service: "ps.example.org", Node: "n", Type: hooks.TypeGo, Arg: "c"},
			{Owner: "user@example.org", Service: "ps.example.org", Node: "m", Type: hooks.TypeGo, Arg: "d"},
		} {
			f.hooks.add(t, h)
		}
		return f
	}
	for _, tc := range []struct {
		name    string
		from    jid.JID
		options []string // hooks offered
		fields  map[string][]string
		note    string   // completed note, or "" for an error stage
		errNote string   // error note of a re-sent stage
		left    []string // hooks left
	}{
		{"admin by ids", admin, []string{"h1", "h2", "h3", "h4"}, map[string][]string{"hooks": {"h1", "h3"}}, "2 hook(s) deleted", "", []string{"h2", "h4"}},
		{"admin by filter", admin, nil, map[string][]string{"node": {"n"}}, "3 hook(s) deleted", "", []string{"h4"}},
		{"admin by filter with type", admin, nil, map[string][]string{"node": {"n"}, "type": {"go"}, "service": {"ps.example.org"}}, "2 hook(s) deleted", "", []string{"h2", "h4"}},
		{"filter without node", admin, nil, map[string][]string{"type": {"go"}}, "", "node is required", []string{"h1", "h2", "h3", "h4"}},
		{"user sees own hooks", user, []string{"h3", "h4"}, map[string][]string{"hooks": {"h4"}}, "1 hook(s) deleted", "", []string{"h1", "h2", "h3"}},
		{"user cannot delete others by id", user, nil, map[string][]string{"hooks": {"h1"}}, "", `"h1" is not one of`, []string{"h1", "h2", "h3", "h4"}},
		{"user filter limited to own hooks", user, nil, map[string][]string{"node": {"n"}}, "1 hook(s) deleted", "", []string{"h1", "h2", "h4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := seed(t)
			r := f.execute(t, tc.from, "delete")
			wantStatus(t, r, "executing")
			if tc.options != nil {
				fl, _ := r.Command.Forms[0].field("hooks")
				var opts []string
				for _, o := range fl.Options {
					opts = append(opts, o.Value)
				}
				if !slices.Equal(opts, tc.options) || fl.Type != "list-multi" {
					t.Errorf("hooks field %s options %v, want %v", fl.Type, opts, tc.options)
				}
			}
			r = f.submit(t, tc.from, "delete", r.Command.SessionID, "complete", tc.fields)
			if tc.note != "" {
				wantStatus(t, r, "completed")
				if got := r.notes(); got != "info: "+tc.note {
					t.Errorf("notes %q, want %q", got, tc.note)
				}
			} else {
				wantStatus(t, r, "executing")
				if !strings.Contains(r.notes(), tc.errNote) || r.Command.Notes[0].Type != "error" {
					t.Errorf("notes %q, want error %q", r.notes(), tc.errNote)
				}
			}
			if got := f.hooks.ids(); !slices.Equal(got, tc.left) {
				t.Errorf("left %v, want %v", got, tc.left)
			}
			for _, fl := range f.hooks.filters {
				if tc.from.Equal(user) && fl.Owner != "user@example.org" {
					t.Errorf("user filter without owner: %+v", fl)
				}
				if tc.from.Equal(admin) && fl.Owner != "" {
					t.Errorf("admin filter with owner: %+v", fl)
				}
			}
		})
	}
}

// TestStages drives a two-stage command through next and prev.
func TestStages(t *testing.T) {
	f := newFixture(t)
	var got Values
	f.srv.cmds = append(f.srv.cmds, &Command{
		Node: "two", Name: "Two stages", Allowed: isUser,
		Stages: []Stage{
			{Title: "one", Fields: []Field{{Var: "a", Type: TextSingle, Required: true}}},
			{Title: "two", Fields: []Field{{Var: "b", Type: Boolean}}},
		},
		Run: func(_ context.Context, _ Env, v Values) (Result, error) {
			got = v
			return Result{Note: "done"}, nil
		},
	})
	r := f.execute(t, user, "two")
	sid := r.Command.SessionID
	if a := r.Command.Actions[0]; a.Execute != "next" || len(a.Offered) != 1 {
		t.Errorf("stage 1 actions %+v", a)
	}
	if r := f.submit(t, user, "two", sid, "complete", map[string][]string{"a": {"x"}}); r.cond() != "bad-request bad-action" {
		t.Errorf("complete on stage 1: %q", r.cond())
	}
	r = f.submit(t, user, "two", sid, "next", map[string][]string{"a": {"x"}})
	wantStatus(t, r, "executing")
	if a := r.Command.Actions[0]; a.Execute != "complete" || len(a.Offered) != 2 || r.Command.Forms[0].Title != "two" {
		t.Errorf("stage 2: %+v", r.Command)
	}
	r = f.submit(t, user, "two", sid, "prev", map[string][]string{"b": {"1"}})
	if fl, _ := r.Command.Forms[0].field("a"); r.Command.Forms[0].Title != "one" || !slices.Equal(fl.Values, []string{"x"}) {
		t.Errorf("prev: %+v", r.Command.Forms)
	}
	r = f.submit(t, user, "two", sid, "", map[string][]string{"a": {"y"}}) // execute = next
	if fl, _ := r.Command.Forms[0].field("b"); r.Command.Forms[0].Title != "two" || !slices.Equal(fl.Values, []string{"1"}) {
		t.Errorf("next again: %+v", r.Command.Forms)
	}
	r = f.submit(t, user, "two", sid, "complete", map[string][]string{"b": {"false"}})
	wantStatus(t, r, "completed")
	if got.Get("a") != "y" || got.Get("b") != "0" {
		t.Errorf("values %v", got)
	}
}

// TestMuxPath reads the request the way a mux handler sees it: the
// command start element, then the rest of the IQ's inner tokens.
func TestMuxPath(t *testing.T) {
	f := newFixture(t)
	d := xml.NewDecoder(strings.NewReader(fmt.Sprintf(`<iq type='set' id='x'><command xmlns='%s' node='list' action='execute'><junk/></command></iq>`, NS)))
	d.Token() // <iq>
	tok, _ := d.Token()
	start := tok.(xml.StartElement)
	req := ReadRequest(xmlstream.MultiReader(xmlstream.Token(start), d))
	if req.err != nil || req.Node != "list" || req.Action != "execute" {
		t.Fatalf("request %+v", req)
	}
	iq := stanza.IQ{ID: "x", From: admin, To: bot, Type: stanza.SetIQ}
	out := string(encode(t, f.srv.Execute(context.Background(), iq, req)))
	if !strings.Contains(out, `status="completed"`) || !strings.Contains(out, `<reported>`) {
		t.Errorf("reply %s", out)
	}
	if tok, err := d.Token(); err != nil || tok.(xml.EndElement).Name.Local != "iq" {
		t.Errorf("ReadRequest read past the command: %v %v", tok, err)
	}
}

func TestConcurrentSessions(t *testing.T) {
	f := newFixture(t, WithMaxSessions(100))
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			ctx := context.Background()
			iq := stanza.IQ{ID: "c", From: admin, To: bot, Type: stanza.SetIQ}
			payload := fmt.Sprintf(`<command xmlns='%s' node='create'><x xmlns='jabber:x:data' type='submit'>`+
				`<field var='node'><value>n%d</value></field><field var='arg'><value>x</value></field></x></command>`, NS, i)
			// One-shot: execute returns the form, then complete.
			var b strings.Builder
			if err := copyXML(&b, f.srv.HandleIQ(ctx, iq, xml.NewDecoder(strings.NewReader(payload)))); err != nil {
				errs <- err
				return
			}
			var r xReply
			if err := xml.Unmarshal([]byte(b.String()), &r); err != nil || r.Command == nil {
				errs <- fmt.Errorf("first reply %s: %v", b.String(), err)
				return
			}
			payload = strings.Replace(payload, "node='create'", "node='create' action='complete' sessionid='"+r.Command.SessionID+"'", 1)
			b.Reset()
			err := copyXML(&b, f.srv.HandleIQ(ctx, iq, xml.NewDecoder(strings.NewReader(payload))))
			if err == nil && !strings.Contains(b.String(), "completed") {
				err = fmt.Errorf("second reply %s", b.String())
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(f.hooks.ids()); n != 8 {
		t.Errorf("%d hooks created, want 8", n)
	}
}

func copyXML(w io.Writer, r xml.TokenReader) error {
	e := xml.NewEncoder(w)
	if _, err := xmlstream.Copy(e, r); err != nil {
		return err
	}
	return e.Flush()
}
