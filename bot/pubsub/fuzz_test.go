package pubsub

import (
	"encoding/xml"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

// FuzzParseEvent checks that ParseEvent never panics and that every payload
// it returns is well-formed XML.
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
		}
	})
}
