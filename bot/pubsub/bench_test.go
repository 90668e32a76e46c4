package pubsub

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// BenchmarkParseEvent: one notification as Prosody sends it, from the
// message start element, as the bot's handler reads it.
func BenchmarkParseEvent(b *testing.B) {
	const msg = `<message xmlns='jabber:client' type='headline' from='pubsub.localhost' to='bot@localhost' id='x'>` +
		`<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='bench'>` +
		`<item id='1234'><entry xmlns='http://www.w3.org/2005/Atom'><title>hello</title><id>1234</id></entry></item>` +
		`</items></event></message>`
	from := jid.MustParse("pubsub.localhost")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		ev, err := ParseEvent(from, xml.NewDecoder(strings.NewReader(msg)), now)
		if err != nil || len(ev.Items) != 1 {
			b.Fatalf("%v %+v", err, ev)
		}
	}
}
