package pubsub

import (
	"encoding/xml"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

// FuzzParseEvent checks that ParseEvent never panics and that every payload
// it returns is well-formed XML that survives another round trip
// unchanged (so its namespaces were written correctly).
func FuzzParseEvent(f *testing.F) {
	for _, tc := range parseEventTests {
		f.Add(tc.in)
	}
	from := jid.MustParse(svc)
	f.Fuzz(func(t *testing.T, in string) {
		ev, err := ParseEvent(from, xml.NewDecoder(strings.NewReader(in)), testNow)
		if err != nil {
			return
		}
		for _, it := range ev.Items {
			if err := wellFormed(it.Payload); err != nil {
				t.Fatalf("payload %q of input %q: %v", it.Payload, in, err)
			}
			d := xml.NewDecoder(strings.NewReader("<item xmlns='urn:other'>" + it.Payload + "</item>"))
			if _, err := d.Token(); err != nil {
				t.Fatal(err)
			}
			again, _, err := readPayload(d)
			if err != nil || again != it.Payload {
				t.Fatalf("round trip of %q: %q, %v", it.Payload, again, err)
			}
		}
	})
}
