package pubsub

import (
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"hookbot/hooks/hookbot"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const svc = "pubsub.localhost"

func item(kind, node, id, publisher, payload string, notifyOnly bool) Item {
	return Item{Item: hookbot.Item{Kind: kind, Service: svc, Node: node, ID: id,
		Publisher: publisher, Payload: payload, Time: testNow}, NotifyOnly: notifyOnly}
}

// parseEventTests are also the seed corpus of FuzzParseEvent.
var parseEventTests = []struct {
	name string
	in   string
	want Event
	err  bool
}{
	{
		name: "one item",
		in: `<message xmlns='jabber:client' from='pubsub.localhost' to='bot@localhost' type='headline' id='1'>
<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'>
<item id='i1'><entry xmlns='urn:test'>hello</entry></item></items></event></message>`,
		want: Event{Node: "news", Items: []Item{
			item("items", "news", "i1", "", `<entry xmlns="urn:test">hello</entry>`, false)}},
	},
	{
		name: "several items with publisher",
		in: `<message xmlns='jabber:client' from='pubsub.localhost/x'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'>
<item id='a' publisher='admin@localhost'><x xmlns='urn:x'>1</x></item>
<item id='b'><x xmlns='urn:x'>2</x></item>
<item id='c'><x xmlns='urn:x' a='&lt;&amp;&quot;'>3 &amp; &lt;</x></item>
</items></event></message>`,
		want: Event{Node: "news", Items: []Item{
			item("items", "news", "a", "admin@localhost", `<x xmlns="urn:x">1</x>`, false),
			item("items", "news", "b", "", `<x xmlns="urn:x">2</x>`, false),
			item("items", "news", "c", "", `<x xmlns="urn:x" a="&lt;&amp;&#34;">3 &amp; &lt;</x>`, false),
		}},
	},
	{
		name: "retract",
		in: `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'>
<items node='news'><retract id='r1'/><retract id='r2'/></items></event></message>`,
		want: Event{Node: "news", Items: []Item{
			item("retract", "news", "r1", "", "", false),
			item("retract", "news", "r2", "", "", false),
		}},
	},
	{
		name: "purge",
		in:   `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><purge node='news'/></event></message>`,
		want: Event{Node: "news", Items: []Item{item("purge", "news", "", "", "", false)}},
	},
	{
		name: "delete with redirect",
		in:   `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='news'><redirect uri='xmpp:x'/></delete></event></message>`,
		want: Event{Node: "news", Items: []Item{item("delete", "news", "", "", "", false)}},
	},
	{
		name: "notification only",
		in: `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'>
<item id='n1'/><item id='n2'>  </item></items></event></message>`,
		want: Event{Node: "news", Items: []Item{
			item("items", "news", "n1", "", "", true),
			item("items", "news", "n2", "", "", true),
		}},
	},
	{
		name: "delayed, delay after event",
		in: `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'>
<item id='i1'><x xmlns='urn:x'/></item></items></event><delay xmlns='urn:xmpp:delay' stamp='2025-12-31T23:59:58.5Z' from='pubsub.localhost'/></message>`,
		want: Event{Node: "news", Delayed: true, Stamp: time.Date(2025, 12, 31, 23, 59, 58, 5e8, time.UTC), Items: []Item{
			item("items", "news", "i1", "", `<x xmlns="urn:x"></x>`, false)}},
	},
	{
		name: "delayed, delay before event, bad stamp",
		in: `<message xmlns='jabber:client' from='pubsub.localhost'><delay xmlns='urn:xmpp:delay' stamp='yesterday'/><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'>
<item id='i1'><x xmlns='urn:x'/></item></items></event></message>`,
		want: Event{Node: "news", Delayed: true, Items: []Item{
			item("items", "news", "i1", "", `<x xmlns="urn:x"></x>`, false)}},
	},
	{
		name: "atom payload keeps its namespaces",
		in: `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'>
<item id='e'><entry xmlns='http://www.w3.org/2005/Atom' xmlns:thr='http://purl.org/syndication/thread/1.0' xml:lang='en'><title type='text'>x</title><thr:in-reply-to ref='r' thr:count='2'/><content xmlns='http://www.w3.org/1999/xhtml'><p>hi</p></content><link href='h'/></entry></item></items></event></message>`,
		want: Event{Node: "news", Items: []Item{item("items", "news", "e", "",
			`<entry xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title type="text">x</title>`+
				`<in-reply-to xmlns="http://purl.org/syndication/thread/1.0" ref="r" xmlns:thr="http://purl.org/syndication/thread/1.0" thr:count="2"></in-reply-to>`+
				`<content xmlns="http://www.w3.org/1999/xhtml"><p>hi</p></content><link href="h"></link></entry>`, false)}},
	},
	{
		name: "payload in no namespace",
		in:   `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><item id='p'><plain xmlns=''><b/></plain></item></items></event></message>`,
		want: Event{Node: "news", Items: []Item{item("items", "news", "p", "", `<plain xmlns=""><b></b></plain>`, false)}},
	},
	{
		name: "payload inheriting the event namespace",
		in:   `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><item id='p'><plain/></item></items></event></message>`,
		want: Event{Node: "news", Items: []Item{item("items", "news", "p", "", `<plain xmlns="http://jabber.org/protocol/pubsub#event"></plain>`, false)}},
	},
	{
		name: "bare event element",
		in:   `<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='1'><a xmlns='urn:a'/></item></items></event>`,
		want: Event{Node: "n", Items: []Item{item("items", "n", "1", "", `<a xmlns="urn:a"></a>`, false)}},
	},
	{
		name: "configuration event has no items",
		in:   `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><configuration node='news'/></event></message>`,
		want: Event{},
	},
	{
		name: "other children are skipped",
		in:   `<message xmlns='jabber:client' from='pubsub.localhost'><body>hi</body><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='1'><a xmlns='urn:a'/></item><foo xmlns='urn:foo'/></items></event><x xmlns='urn:y'><y/></x></message>`,
		want: Event{Node: "n", Items: []Item{item("items", "n", "1", "", `<a xmlns="urn:a"></a>`, false)}},
	},
	{name: "no event", in: `<message xmlns='jabber:client' from='pubsub.localhost'><body>hi</body></message>`, err: true},
	{name: "items without node", in: `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items><item id='1'/></items></event></message>`, err: true},
	{name: "purge without node", in: `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><purge/></event></message>`, err: true},
	{name: "retract without id", in: `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><retract/></items></event></message>`, err: true},
	{name: "truncated", in: `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='1'><a xmlns='urn:a'>`, err: true},
	{name: "mismatched tags", in: `<message xmlns='jabber:client'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='1'><a></b></item></items></event></message>`, err: true},
	{name: "empty", in: ``, err: true},
}

func TestParseEvent(t *testing.T) {
	from := jid.MustParse("pubsub.localhost/res")
	for _, tc := range parseEventTests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent(from, xml.NewDecoder(strings.NewReader(tc.in)), testNow)
			if tc.err {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			tc.want.Service = from.Bare()
			if !got.Service.Equal(tc.want.Service) {
				t.Errorf("service %v, want %v", got.Service, tc.want.Service)
			}
			got.Service, tc.want.Service = jid.JID{}, jid.JID{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tc.want)
			}
			for _, it := range got.Items {
				if err := wellFormed(it.Payload); err != nil {
					t.Errorf("payload %q: %v", it.Payload, err)
				}
			}
		})
	}
}

func TestParseEventNoEvent(t *testing.T) {
	_, err := ParseEvent(jid.JID{}, xml.NewDecoder(strings.NewReader(`<message xmlns='jabber:client'><body>x</body></message>`)), testNow)
	if !errors.Is(err, ErrNotEvent) {
		t.Fatalf("got %v, want ErrNotEvent", err)
	}
}

// TestAtomPayloadNamespaces decodes the payload again, as a hook would,
// and checks every element's namespace.
func TestAtomPayloadNamespaces(t *testing.T) {
	in := `<message xmlns='jabber:client' from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><item id='1'><entry xmlns='http://www.w3.org/2005/Atom'><title>x</title></entry></item></items></event></message>`
	ev, err := ParseEvent(jid.MustParse(svc), xml.NewDecoder(strings.NewReader(in)), testNow)
	if err != nil {
		t.Fatal(err)
	}
	p := ev.Items[0].Payload
	if strings.Contains(p, "_xmlns") || strings.Count(p, "xmlns=") != 1 {
		t.Errorf("payload has junk or duplicated declarations: %s", p)
	}
	var entry struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom entry"`
		Title   string   `xml:"http://www.w3.org/2005/Atom title"`
	}
	if err := xml.Unmarshal([]byte(p), &entry); err != nil {
		t.Fatalf("unmarshal %s: %v", p, err)
	}
	if entry.Title != "x" {
		t.Errorf("title %q, want x", entry.Title)
	}
}

// wellFormed reports whether s decodes as balanced XML whose names are
// bound to namespaces.
func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if strings.HasPrefix(a.Name.Space, "_") || a.Name.Local == "_xmlns" {
					return errors.New("junk prefix " + a.Name.Space + ":" + a.Name.Local)
				}
			}
		}
	}
}
