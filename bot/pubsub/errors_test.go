package pubsub

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// readTokens decodes s into a token list, as do copies an IQ response.
func readTokens(t *testing.T, s string) *tokens {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	toks := &tokens{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return toks
		}
		if err != nil {
			t.Fatal(err)
		}
		toks.toks = append(toks.toks, xml.CopyToken(tok))
	}
}

func TestDecodeError(t *testing.T) {
	const ps = "pubsub.localhost"
	tests := []struct {
		name    string
		op      string
		service string
		node    string
		in      string
		want    Error
		msg     string
	}{
		{
			name: "missing node", op: "subscribe to", service: ps, node: "news",
			in:   `<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`,
			want: Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound},
			msg:  "node news on pubsub.localhost does not exist (item-not-found)",
		},
		{
			name: "presence required with text", op: "subscribe to", service: "admin@localhost", node: "urn:x",
			in: `<error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
<presence-subscription-required xmlns='http://jabber.org/protocol/pubsub#errors'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Not in roster</text></error>`,
			want: Error{Type: stanza.Auth, Condition: stanza.NotAuthorized, App: "presence-subscription-required", Text: "Not in roster"},
			msg:  "node urn:x on admin@localhost only accepts subscribers who share presence with its owner: have the owner add the bot to their roster: Not in roster (presence-subscription-required)",
		},
		{
			name: "closed node", op: "subscribe to", service: ps, node: "n",
			in:   `<error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><closed-node xmlns='http://jabber.org/protocol/pubsub#errors'/></error>`,
			want: Error{Type: stanza.Cancel, Condition: stanza.NotAllowed, App: "closed-node"},
			msg:  "node n on pubsub.localhost is closed to subscribers not on its whitelist: ask the node owner to allow the bot (closed-node)",
		},
		{
			name: "unsupported feature, own PEP", op: "list subscriptions of",
			in:   `<error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><unsupported xmlns='http://jabber.org/protocol/pubsub#errors' feature='retrieve-subscriptions'/></error>`,
			want: Error{Type: stanza.Cancel, Condition: stanza.FeatureNotImplemented, App: "unsupported", Feature: "retrieve-subscriptions"},
			msg:  "the account's own PEP service does not support retrieve-subscriptions (unsupported)",
		},
		{
			name: "not subscribed", op: "unsubscribe from", service: ps, node: "n",
			in:   `<error type='cancel'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><not-subscribed xmlns='http://jabber.org/protocol/pubsub#errors'/></error>`,
			want: Error{Type: stanza.Cancel, Condition: stanza.UnexpectedRequest, App: "not-subscribed"},
			msg:  "the bot is not subscribed to node n on pubsub.localhost (not-subscribed)",
		},
		{
			name: "forbidden", op: "publish to", service: ps, node: "n",
			in:   `<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`,
			want: Error{Type: stanza.Auth, Condition: stanza.Forbidden},
			msg:  "the bot may not publish to node n on pubsub.localhost (forbidden)",
		},
		{
			name: "PEP forbidden", op: "subscribe to", service: "user@localhost", node: "urn:x",
			in:   `<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`,
			want: Error{Type: stanza.Auth, Condition: stanza.Forbidden},
			msg:  "the bot may not subscribe to node urn:x on user@localhost: its access model may require that the owner shares presence with the bot or whitelists it (forbidden)",
		},
		{
			name: "no condition", op: "subscribe to", service: ps, node: "n",
			in:   `<error/>`,
			want: Error{Condition: stanza.UndefinedCondition},
			msg:  "subscribe to node n on pubsub.localhost failed (undefined-condition)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var service jid.JID
			if tc.service != "" {
				service = jid.MustParse(tc.service)
			}
			toks := readTokens(t, tc.in)
			start, _ := toks.next()
			got := decodeError(start.(xml.StartElement), toks, tc.op, service, tc.node)
			tc.want.Op, tc.want.Service, tc.want.Node = tc.op, service, tc.node
			if got.Type != tc.want.Type || got.Condition != tc.want.Condition || got.App != tc.want.App ||
				got.Feature != tc.want.Feature || got.Text != tc.want.Text {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
			if got.Error() != tc.msg {
				t.Errorf("message\n%q, want\n%q", got.Error(), tc.msg)
			}
			wrapped := fmt.Errorf("subscribe %s: %w", tc.node, got)
			if !errors.Is(wrapped, stanza.Error{Condition: tc.want.Condition}) {
				t.Errorf("errors.Is(stanza condition %s) false", tc.want.Condition)
			}
			if !Is(wrapped, got.Cond()) {
				t.Errorf("Is(%s) false", got.Cond())
			}
		})
	}
}

func TestParsePayload(t *testing.T) {
	tests := []struct {
		in   string
		want string // after xml.Encoder and readPayload, which keeps the prefix the encoder picked
		err  bool
	}{
		{in: `<entry xmlns='http://www.w3.org/2005/Atom'><title>x</title></entry>`, want: `<entry xmlns="http://www.w3.org/2005/Atom"><title>x</title></entry>`},
		{in: ` <?xml version='1.0'?><!-- c --><a xmlns='urn:a' xmlns:p='urn:p' p:x='1'><b/></a> `, want: `<a xmlns="urn:a" xmlns:_="urn:p" _:x="1"><b></b></a>`},
		{in: `<a/><b/>`, err: true},
		{in: `text`, err: true},
		{in: `x<a/>`, err: true},
		{in: `<a>`, err: true},
		{in: ``, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			rs, err := parsePayload(tc.in)
			if tc.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var toks []xml.Token
			for _, r := range rs {
				tok, _ := r.Token()
				toks = append(toks, tok)
				if se, ok := tok.(xml.StartElement); ok {
					for _, a := range se.Attr {
						if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
							t.Errorf("xmlns attribute left in %v", se)
						}
					}
				}
			}
			// Serialize as an item would come back.
			var b strings.Builder
			b.WriteString("<item>")
			e := xml.NewEncoder(&b)
			for _, tok := range toks {
				if err := e.EncodeToken(tok); err != nil {
					t.Fatal(err)
				}
			}
			e.Flush()
			b.WriteString("</item>")
			d := xml.NewDecoder(strings.NewReader(b.String()))
			d.Token() // <item>
			got, _, err := readPayload(d)
			if err != nil {
				t.Fatalf("%s: %v", b.String(), err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
