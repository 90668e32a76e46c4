package commands

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"hookbot/hooks"
)

func chat(t *testing.T, f *fixture, from jid.JID, body string) (string, bool) {
	t.Helper()
	return f.srv.HandleChat(context.Background(), from, body)
}

func TestChatCreateMultiline(t *testing.T) {
	f := newFixture(t)
	body := "hook create -n news -t go_code -P\nimport \"strings\"\n\nbot.Log(strings.ToUpper(item.Payload))\n"
	reply, ok := chat(t, f, admin, body)
	if !ok || reply != "Hook h1 created" {
		t.Fatalf("reply %q %v", reply, ok)
	}
	hs := f.hooks.List("admin@example.org")
	want := hooks.Hook{
		ID: "h1", Owner: "admin@example.org", Service: "admin@example.org", Node: "news",
		Type: hooks.TypeGoCode, Arg: "import \"strings\"\n\nbot.Log(strings.ToUpper(item.Payload))",
		Persistent: true, Events: []string{"items"}, State: "subscribed",
	}
	if len(hs) != 1 || !equalHook(hs[0], want) {
		t.Errorf("created %+v\nwant %+v", hs, want)
	}
}

func TestChatCompileErrorLine(t *testing.T) {
	f := newFixture(t)
	reply, _ := chat(t, f, admin, "hook create -n news -t go_code\nx := 1\nBROKEN")
	if !strings.HasPrefix(reply, "error: code:2:1:") || !strings.Contains(reply, "usage: hook create") {
		t.Errorf("reply %q", reply)
	}
}

func TestChatList(t *testing.T) {
	f := newFixture(t)
	if reply, _ := chat(t, f, admin, "hook list"); reply != "No hooks." {
		t.Errorf("empty simple list %q", reply)
	}
	if reply, _ := chat(t, f, admin, "hook list -O json"); strings.TrimSpace(reply) != "[]" {
		t.Errorf("empty json list %q", reply)
	}
	f.hooks.add(t, hooks.Hook{Owner: "admin@example.org", Service: "ps.example.org", Node: "a", Type: hooks.TypeGoCode, Arg: "l1\nl2", Persistent: true, Events: []string{"items", "purge"}})
	f.hooks.add(t, hooks.Hook{Owner: "user@example.org", Service: "user@example.org", Node: "b", Type: hooks.TypeGo, Arg: "x/y"})

	reply, ok := chat(t, f, admin, "hook list -O json")
	if !ok {
		t.Fatal("no reply")
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(reply), &got); err != nil {
		t.Fatalf("json %q: %v", reply, err)
	}
	want := []map[string]any{
		{"id": "h1", "owner": "admin@example.org", "service": "ps.example.org", "node": "a", "type": "go_code",
			"arg": "l1\nl2", "persistent": true, "events": []any{"items", "purge"}, "state": "subscribed"},
		{"id": "h2", "owner": "user@example.org", "service": "user@example.org", "node": "b", "type": "go",
			"arg": "x/y", "persistent": false, "events": []any{}, "state": "subscribed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("json\n got %v\nwant %v", got, want)
	}

	reply, _ = chat(t, f, user, "hook list")
	wantSimple := "id: h2\nowner: user@example.org\nservice: user@example.org\nnode: b\ntype: go\narg: x/y\npersistent: false\nevents: \nstate: subscribed"
	if reply != wantSimple {
		t.Errorf("user simple list\n%s\nwant\n%s", reply, wantSimple)
	}
	reply, _ = chat(t, f, admin, "hook list -O simple")
	if !strings.Contains(reply, "arg: l1\n  l2\n") || strings.Count(reply, "\n\nid: ") != 1 {
		t.Errorf("admin simple list\n%s", reply)
	}
}

func TestChatDelete(t *testing.T) {
	f := newFixture(t)
	f.hooks.add(t, hooks.Hook{Owner: "admin@example.org", Service: "ps.example.org", Node: "n", Type: hooks.TypeGo, Arg: "a"})
	f.hooks.add(t, hooks.Hook{Owner: "user@example.org", Service: "ps.example.org", Node: "n", Type: hooks.TypeGo, Arg: "b"})
	f.hooks.add(t, hooks.Hook{Owner: "user@example.org", Service: "ps.example.org", Node: "n", Type: hooks.TypeGo, Arg: "c"})
	for _, tc := range []struct {
		from  jid.JID
		body  string
		reply string // prefix
		left  []string
	}{
		{user, "hook delete h1", "error: hooks: \"h1\" is not one of h2, h3\nusage: hook delete", []string{"h1", "h2", "h3"}},
		{user, "hook delete", "error: node is required", []string{"h1", "h2", "h3"}},
		{user, "hook delete h2", "1 hook(s) deleted", []string{"h1", "h3"}},
		{user, "hook delete -n n", "1 hook(s) deleted", []string{"h1"}},
		{admin, "hook delete -n n -a zzz", "0 hook(s) deleted", []string{"h1"}},
		{admin, "hook delete h1", "1 hook(s) deleted", nil},
	} {
		reply, ok := chat(t, f, tc.from, tc.body)
		if !ok || !strings.HasPrefix(reply, tc.reply) {
			t.Errorf("%s: %q: reply %q, want %q", tc.from, tc.body, reply, tc.reply)
		}
		if got := f.hooks.ids(); !slices.Equal(got, tc.left) {
			t.Errorf("%q: left %v, want %v", tc.body, got, tc.left)
		}
	}
}

func TestChatErrors(t *testing.T) {
	f := newFixtureTypes(t, hooks.TypeGo)
	for _, tc := range []struct {
		from jid.JID
		body string
		want []string // substrings; the reply starts with "error: "
	}{
		{admin, "hook create -x foo code", []string{"unknown option -x", "usage: hook create -n NODE"}},
		{admin, "hook create -n", []string{"option -n needs a value", "usage: hook create"}},
		{admin, "hook create code", []string{"node is required", "usage: hook create"}},
		{admin, "hook create -n a", []string{"arg is required"}},
		{admin, "hook create -n a -s a@b@c x", []string{"not a valid JID"}},
		{admin, "hook create -n a -e bogus x", []string{`"bogus" is not one of`}},
		{admin, "hook create -n a -n b x", []string{"given twice"}},
		{admin, "hook list -O xml", []string{"simple or json", "usage: hook list"}},
		{admin, "hook list extra", []string{"unexpected argument"}},
		{admin, "hook frob", []string{"unknown command", "usage: help\nhook create"}},
		{admin, "hello", []string{"unknown command \"hello\""}},
		{user, "hook create -n a -t go_code x", []string{`"go_code" is not one of go`}},
	} {
		reply, ok := chat(t, f, tc.from, tc.body)
		if !ok || !strings.HasPrefix(reply, "error: ") {
			t.Errorf("%q: reply %q", tc.body, reply)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(reply, w) {
				t.Errorf("%q: reply %q lacks %q", tc.body, reply, w)
			}
		}
	}
	if ids := f.hooks.ids(); ids != nil {
		t.Errorf("hooks created: %v", ids)
	}
	f = newFixture(t) // users may create no type
	reply, _ := chat(t, f, user, "hook create -n a x")
	if !strings.HasPrefix(reply, "error: you may not create hooks") {
		t.Errorf("user create without types: %q", reply)
	}
}

func TestChatHelpAndSilence(t *testing.T) {
	f := newFixture(t)
	reply, ok := chat(t, f, user, "help")
	want := "help\nhook create -n NODE [-s SERVICE] [-t TYPE] [-e EVENT]... [-P|--persistent] ARG\nhook delete [-n NODE] [-s SERVICE] [-t TYPE] [-a ARG] [ID]...\nhook list [-O simple|json]"
	if !ok || reply != want {
		t.Errorf("help = %q", reply)
	}
	for _, body := range []string{"", "  \n\t"} {
		if reply, ok := chat(t, f, admin, body); ok {
			t.Errorf("body %q got reply %q", body, reply)
		}
	}
}

func TestChatStranger(t *testing.T) {
	f := newFixture(t)
	other := jid.MustParse("other@elsewhere.example/y")
	steps := []struct {
		from    jid.JID
		advance time.Duration
		reply   bool
	}{
		{stranger, 0, true},
		{stranger, time.Minute, false},
		{jid.MustParse("stranger@elsewhere.example/other"), time.Minute, false}, // same bare JID
		{other, 0, true},
		{stranger, 57 * time.Minute, false},
		{stranger, time.Minute, true}, // an hour after the first refusal
		{stranger, 0, false},
	}
	for i, s := range steps {
		f.clock.Add(s.advance)
		reply, ok := chat(t, f, s.from, "hook list")
		if ok != s.reply || (ok && reply != Refusal) {
			t.Errorf("step %d: reply %q %v, want reply=%v", i, reply, ok, s.reply)
		}
	}
	if ids := f.hooks.ids(); ids != nil {
		t.Errorf("hooks %v", ids)
	}
}
