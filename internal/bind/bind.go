// Package bind provides a client resource-binding stream feature that
// really asks for the requested resource.
//
// mellium.im/xmpp's BindResource never sends the resource it is given
// (bind.go in v0.22.0 writes the empty JID instead), so the server picks a
// random one. Resource sends <bind><resource>R</resource></bind> and
// records the JID the server returns.
package bind

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// NS is the resource binding namespace (RFC 6120 §7).
const NS = "urn:ietf:params:xml:ns:xmpp-bind"

// Resource returns a client stream feature that binds resource (or lets
// the server choose when resource is empty) and sets the session's local
// address to the full JID the server assigned.
func Resource(resource string) xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: NS, Local: "bind"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		List: func(ctx context.Context, e xmlstream.TokenWriter, start xml.StartElement) (bool, error) {
			return true, fmt.Errorf("bind: server side is not supported")
		},
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, interface{}, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, s *xmpp.Session, _ interface{}) (xmpp.SessionState, io.ReadWriter, error) {
			return negotiate(s, resource)
		},
	}
}

type bindResult struct {
	XMLName xml.Name      `xml:"jabber:client iq"`
	ID      string        `xml:"id,attr"`
	Type    stanza.IQType `xml:"type,attr"`
	JID     string        `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	Err     *stanza.Error `xml:"error"`
}

func negotiate(s *xmpp.Session, resource string) (xmpp.SessionState, io.ReadWriter, error) {
	w := s.TokenWriter()
	defer w.Close()
	r := s.TokenReader()
	defer r.Close()

	const id = "bind-1"
	var payload xml.TokenReader
	if resource != "" {
		payload = xmlstream.Wrap(xmlstream.Token(xml.CharData(resource)), xml.StartElement{Name: xml.Name{Local: "resource"}})
	}
	iq := stanza.IQ{ID: id, Type: stanza.SetIQ}
	req := iq.Wrap(xmlstream.Wrap(payload, xml.StartElement{Name: xml.Name{Space: NS, Local: "bind"}}))
	if _, err := xmlstream.Copy(w, req); err != nil {
		return 0, nil, fmt.Errorf("bind: send request: %w", err)
	}
	if err := w.Flush(); err != nil {
		return 0, nil, fmt.Errorf("bind: send request: %w", err)
	}

	d := xml.NewTokenDecoder(r)
	var res bindResult
	if err := d.Decode(&res); err != nil {
		return 0, nil, fmt.Errorf("bind: read reply: %w", err)
	}
	switch {
	case res.ID != id:
		return 0, nil, fmt.Errorf("bind: reply has id %q, want %q", res.ID, id)
	case res.Type == stanza.ErrorIQ && res.Err != nil:
		return 0, nil, fmt.Errorf("bind %q: %w", resource, *res.Err)
	case res.Type != stanza.ResultIQ:
		return 0, nil, fmt.Errorf("bind %q: unexpected reply type %q", resource, res.Type)
	}
	j, err := jid.Parse(res.JID)
	if err != nil {
		return 0, nil, fmt.Errorf("bind: server assigned invalid JID %q: %w", res.JID, err)
	}
	s.UpdateAddr(j)
	return xmpp.Ready, nil, nil
}
