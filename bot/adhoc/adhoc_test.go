package adhoc

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"

	"mellium.im/xmpp/stanza"
)

func TestDecodeReply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    *Response
		wantErr *Error
	}{{
		name: "stage",
		in: `<iq type='result' id='1'><command xmlns='http://jabber.org/protocol/commands' node='create' sessionid='s1' status='executing'>
<actions execute='complete'><complete/></actions>
<note type='error'>node is required</note>
<x xmlns='jabber:x:data' type='form'><field var='node' type='text-single'><required/></field>
<field var='type' type='list-single'><value>go</value><option label='Go'><value>go</value></option></field></x>
</command></iq>`,
		want: &Response{Node: "create", SessionID: "s1", Status: "executing", Actions: []string{"complete"}, Execute: "complete",
			Notes: []Note{{Type: "error", Text: "node is required"}},
			Form: &Form{Type: "form", Fields: []Field{
				{Var: "node", Type: "text-single", Required: &struct{}{}},
				{Var: "type", Type: "list-single", Values: []string{"go"}, Options: []Option{{Label: "Go", Value: "go"}}},
			}}},
	}, {
		name: "table",
		in: `<iq type='result' id='1'><command xmlns='http://jabber.org/protocol/commands' node='list' sessionid='s2' status='completed'>
<x xmlns='jabber:x:data' type='result'><reported><field var='id'/><field var='node'/></reported>
<item><field var='id'><value>a</value></field><field var='node'><value>n</value></field></item></x></command></iq>`,
		want: &Response{Node: "list", SessionID: "s2", Status: "completed", Form: &Form{Type: "result",
			Reported: []Row{{Fields: []Field{{Var: "id"}, {Var: "node"}}}},
			Items:    []Row{{Fields: []Field{{Var: "id", Values: []string{"a"}}, {Var: "node", Values: []string{"n"}}}}}}},
	}, {
		name: "session error",
		in: `<iq type='error' id='1'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
<bad-sessionid xmlns='http://jabber.org/protocol/commands'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>unknown session</text></error></iq>`,
		wantErr: &Error{Type: "modify", Condition: "bad-request", App: "bad-sessionid", Text: "unknown session"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeReply(xml.NewDecoder(strings.NewReader(tc.in)))
			if tc.wantErr != nil {
				var e *Error
				if !errors.As(err, &e) || !reflect.DeepEqual(e, tc.wantErr) {
					t.Fatalf("error = %#v, want %#v", err, tc.wantErr)
				}
				if !errors.Is(err, stanza.Error{Condition: stanza.BadRequest}) {
					t.Errorf("errors.Is(bad-request) = false")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestFormTable(t *testing.T) {
	f := &Form{
		Reported: []Row{{Fields: []Field{{Var: "id"}, {Var: "events"}}}},
		Items:    []Row{{Fields: []Field{{Var: "id", Values: []string{"a"}}, {Var: "events", Values: []string{"items", "purge"}}}}},
	}
	cols, rows := f.Table()
	if !reflect.DeepEqual(cols, []string{"id", "events"}) {
		t.Errorf("columns = %v", cols)
	}
	if len(rows) != 1 || !reflect.DeepEqual(rows[0]["events"], []string{"items", "purge"}) {
		t.Errorf("rows = %v", rows)
	}
}

func TestSubmitForm(t *testing.T) {
	var b strings.Builder
	e := xml.NewEncoder(&b)
	r := submitForm([]Field{{Var: "arg", Values: []string{"a", "b"}}, {Var: "persistent", Type: "boolean", Values: []string{"1"}}})
	for {
		tok, err := r.Token()
		if tok != nil {
			if err := e.EncodeToken(tok); err != nil {
				t.Fatal(err)
			}
		}
		if err != nil {
			break
		}
	}
	e.Flush()
	var f Form
	if err := xml.Unmarshal([]byte(b.String()), &f); err != nil {
		t.Fatalf("%v in %s", err, b.String())
	}
	if f.Type != "submit" || f.Value("persistent") != "1" || !reflect.DeepEqual(f.Fields[0].Values, []string{"a", "b"}) {
		t.Errorf("form = %+v", f)
	}
}
