package commands

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseChat(t *testing.T) {
	for _, tc := range []struct {
		body string
		want Invocation
	}{
		{"help", Invocation{Command: "help"}},
		{"  help  ", Invocation{Command: "help"}},
		{"hook list", Invocation{Command: "list", Values: map[string][]string{}, Output: "simple"}},
		{"hook list -O json", Invocation{Command: "list", Values: map[string][]string{}, Output: "json"}},
		{"hook list --output=json", Invocation{Command: "list", Values: map[string][]string{}, Output: "json"}},
		{"hook create -n news x/y", Invocation{Command: "create", Values: map[string][]string{"node": {"news"}, "arg": {"x/y"}}}},
		{"hook create --node news --service pubsub.example.org --type go_file --event items --event=purge --persistent ./h.go",
			Invocation{Command: "create", Values: map[string][]string{
				"node": {"news"}, "service": {"pubsub.example.org"}, "type": {"go_file"},
				"events": {"items", "purge"}, "persistent": {"1"}, "arg": {"./h.go"}}}},
		{"hook create -nnews -tgo_code -P\n  a := 1\n\n  bot.Log(\"-x\")\n\n",
			Invocation{Command: "create", Values: map[string][]string{
				"node": {"news"}, "type": {"go_code"}, "persistent": {"1"}, "arg": {"  a := 1\n\n  bot.Log(\"-x\")"}}}},
		{"hook create -n 'my node' -s \"a@b\" -- -1",
			Invocation{Command: "create", Values: map[string][]string{"node": {"my node"}, "service": {"a@b"}, "arg": {"-1"}}}},
		{"hook create -n x\r\nline1\r\nline2",
			Invocation{Command: "create", Values: map[string][]string{"node": {"x"}, "arg": {"line1\r\nline2"}}}},
		{"hook delete abc def", Invocation{Command: "delete", Values: map[string][]string{"hooks": {"abc", "def"}}}},
		{"hook delete -n n -s s@x -t go -a 'a b'",
			Invocation{Command: "delete", Values: map[string][]string{"node": {"n"}, "service": {"s@x"}, "type": {"go"}, "arg": {"a b"}}}},
	} {
		got, err := ParseChat(tc.body)
		if err != nil {
			t.Errorf("ParseChat(%q): %v", tc.body, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseChat(%q)\n got %#v\nwant %#v", tc.body, got, tc.want)
		}
	}
}

func TestParseChatErrors(t *testing.T) {
	for _, tc := range []struct {
		body, msg, usage string
	}{
		{"", "empty command", "help\n"},
		{"hook", "unknown command", "help\n"},
		{"hook create -q x", "unknown option -q", "hook create -n NODE"},
		{"hook create -P=1 x", "takes no value", "hook create"},
		{"hook create -n 'open x", "unclosed quote", "hook create"},
		{"hook create -n 'a'b x", "right after closing quote", "hook create"},
		{"hook delete -P", "unknown option -P", "hook delete"},
		{"hook list -O", "needs a value", "hook list"},
	} {
		_, err := ParseChat(tc.body)
		var perr *ParseError
		if !errors.As(err, &perr) {
			t.Errorf("ParseChat(%q) = %v, want a ParseError", tc.body, err)
			continue
		}
		if !strings.Contains(perr.Msg, tc.msg) || !strings.HasPrefix(perr.Usage, tc.usage) || !strings.Contains(err.Error(), "\nusage: ") {
			t.Errorf("ParseChat(%q) = %q (usage %q), want %q", tc.body, perr.Msg, perr.Usage, tc.msg)
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want Invocation
	}{
		{[]string{"hook", "create", "-n", "news", "-t", "go_code", "-P", "-"},
			Invocation{Command: "create", Values: map[string][]string{"node": {"news"}, "type": {"go_code"}, "persistent": {"1"}, "arg": {"-"}}}},
		{[]string{"hook", "create", "-n", "a b", "bot.Log(\"x\")", "// two words"},
			Invocation{Command: "create", Values: map[string][]string{"node": {"a b"}, "arg": {"bot.Log(\"x\") // two words"}}}},
		{[]string{"hook", "list", "-O", "json"}, Invocation{Command: "list", Values: map[string][]string{}, Output: "json"}},
		{[]string{"hook", "delete", "id1", "id2"}, Invocation{Command: "delete", Values: map[string][]string{"hooks": {"id1", "id2"}}}},
	} {
		got, err := ParseArgs(tc.args)
		if err != nil {
			t.Errorf("ParseArgs(%q): %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseArgs(%q)\n got %#v\nwant %#v", tc.args, got, tc.want)
		}
	}
}

func TestFormatChatRoundTrip(t *testing.T) {
	for _, body := range []string{
		"hook create -n news -s pubsub.example.org -t go_code -e items -e retract -P\nfmt.Println(\"hi\")\n  x",
		"hook create -n 'two words' -- -x",
		`hook create -n "it's" x`,
		"hook delete -n n -a 'a b' id1 id2",
		"hook list -O json",
		"help",
	} {
		inv, err := ParseChat(body)
		if err != nil {
			t.Fatalf("ParseChat(%q): %v", body, err)
		}
		s, err := FormatChat(inv)
		if err != nil {
			t.Fatalf("FormatChat(%#v): %v", inv, err)
		}
		again, err := ParseChat(s)
		if err != nil || !reflect.DeepEqual(again, inv) {
			t.Errorf("round trip of %q via %q: %#v, %v", body, s, again, err)
		}
	}
	if _, err := FormatChat(Invocation{Command: "create", Values: map[string][]string{"node": {`a "b' c`}}}); err == nil {
		t.Error("FormatChat quoted a value holding both quotes and a space")
	}
}

func TestRenderEntries(t *testing.T) {
	fields := map[string][]string{
		"id": {"h1"}, "owner": {"a@b"}, "service": {"ps.b"}, "node": {"n"}, "type": {"go_code"},
		"arg": {"l1", "l2"}, "persistent": {"1"}, "events": {"items", "purge"}, "state": {"pending"},
	}
	e, err := EntryFromFields(fields)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{ID: "h1", Owner: "a@b", Service: "ps.b", Node: "n", Type: "go_code", Arg: "l1\nl2",
		Persistent: true, Events: []string{"items", "purge"}, State: "pending"}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("entry %+v", e)
	}
	fields["persistent"] = []string{"maybe"}
	if _, err := EntryFromFields(fields); err == nil {
		t.Error("EntryFromFields accepted persistent=maybe")
	}
	for _, tc := range []struct {
		entries []Entry
		indent  bool
		want    string
	}{
		{nil, false, "[]"},
		{nil, true, "[]"},
		{[]Entry{{ID: "x", Events: []string{}}}, false,
			`[{"id":"x","owner":"","service":"","node":"","type":"","arg":"","persistent":false,"events":[],"state":""}]`},
	} {
		got, err := RenderJSON(tc.entries, tc.indent)
		if err != nil || got != tc.want {
			t.Errorf("RenderJSON(%v, %v) = %q, %v", tc.entries, tc.indent, got, err)
		}
	}
}
