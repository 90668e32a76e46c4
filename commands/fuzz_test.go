package commands

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseChat checks that the chat parser never panics and that a
// parsed command formats back to a line that parses the same.
func FuzzParseChat(f *testing.F) {
	for _, s := range []string{
		"help",
		"hook list -O json",
		"hook create -n news -t go_code -P\nbot.Log(item.ID)\n",
		"hook create --node=a --event items -e purge -s 'x@y' -- -code",
		"hook delete -n n -a \"a b\" id1 id2",
		"hook create -n 'a'b",
		"hook create -n\u00a0x\u2028y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		inv, err := ParseChat(body)
		if err != nil {
			if !strings.Contains(err.Error(), "\nusage: ") {
				t.Fatalf("error without usage: %v", err)
			}
			return
		}
		s, err := FormatChat(inv)
		if err != nil {
			return // a value that cannot be quoted
		}
		again, err := ParseChat(s)
		if err != nil {
			t.Fatalf("ParseChat(%q) = %#v formats to %q, which fails: %v", body, inv, s, err)
		}
		if !reflect.DeepEqual(again, inv) {
			t.Fatalf("ParseChat(%q) = %#v\nformats to %q\nwhich parses as %#v", body, inv, s, again)
		}
	})
}

// FuzzDecodeSubmit checks that decoding and validating a form submission
// never panics, whatever the XML.
func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{
		`<x xmlns='jabber:x:data' type='submit'><field var='node'><value>n</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='arg'><value>a</value><value>b</value></field><field var='persistent'><value>true</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field><value/></field></x>`,
		`<x xmlns='jabber:x:data'><field var='events'><value>items</value><value>nope</value></field>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='create' action='complete' sessionid='s'><x xmlns='jabber:x:data' type='submit'/></command>`,
	} {
		f.Add(s)
	}
	cmd := createCommand()
	f.Fuzz(func(t *testing.T, in string) {
		sub, err := DecodeSubmit(xml.NewDecoder(strings.NewReader(in)))
		if err == nil {
			e := Env{Hooks: &fakeHooks{}, Access: testAcces, Req: Requester{Bare: "admin@example.org", Role: Admin}}
			v, err := validate(e, cmd.fields(), sub.Values)
			if err == nil && (v.Get("node") == "" || v.Get("arg") == "") {
				t.Fatalf("validated without required fields: %v", v)
			}
		}
		ReadRequest(xml.NewDecoder(strings.NewReader(in)))
	})
}
