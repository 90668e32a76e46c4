package bot

import (
	"encoding/xml"
	"errors"
	"io"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// eventReader is implemented by events handlers that read a notification
// from its message's tokens and sender alone, such as the
// *pubsub.EventHandler of Services.EventHandler. The fast path calls
// HandleEvent instead of HandleMessage, which spares it building a
// stanza.Message.
type eventReader interface {
	HandleEvent(from jid.JID, r xml.TokenReader)
}

// msgRouter routes the messages of one session. Notifications, messages
// whose first child element is a pubsub#event, go straight to the events
// handler; everything else goes through the mux, as do all stanzas when
// there is no events handler.
//
// The mux hands each child element of a message to its handler with a
// reader that replays the whole message, which it buffers token by token
// for that purpose; for a notification that costs more than parsing it.
// The fast path reads only up to the first child element and replays
// those few tokens. The events handler sees the same tokens either way,
// but the fast path calls it once per message where the mux calls it once
// per event child, and it does not parse the to attribute, so an invalid
// one no longer drops the notification.
//
// A msgRouter is used on the Serve goroutine only.
type msgRouter struct {
	m      *mux.ServeMux
	events mux.MessageHandler
	reader eventReader // events as an eventReader, or nil
	// chat handles messages with a body; nil without a chat handler.
	chat func(stanza.Message, xmlstream.TokenReadEncoder) error

	// lastFrom and lastJID cache the parse of the last from attribute:
	// notifications come from a few services.
	lastFrom string
	lastJID  jid.JID
}

func newMsgRouter(m *mux.ServeMux, events mux.MessageHandler, chat func(stanza.Message, xmlstream.TokenReadEncoder) error) *msgRouter {
	r := &msgRouter{m: m, events: events, chat: chat}
	r.reader, _ = events.(eventReader)
	return r
}

// isEvent reports whether name is the pubsub#event element.
func isEvent(name xml.Name) bool {
	return name.Local == "event" && name.Space == NSPubSubEvent
}

// HandleXMPP implements xmpp.Handler. Like mux.ServeMux it may leave
// part of the stanza unread: mellium's Serve loop skips the rest.
func (r *msgRouter) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local != "message" || start.Name.Space != stanza.NSClient {
		return r.m.HandleXMPP(t, start)
	}
	typ, from := msgAttrs(start)
	if typ != stanza.HeadlineMessage && typ != stanza.NormalMessage {
		return r.m.HandleXMPP(t, start)
	}

	// Read up to the first child element, keeping what was read (at most
	// some whitespace before it) after the message start, which the
	// events handler reads first.
	all := make([]xml.Token, 1, 4)
	all[0] = *start
	event := false
	for {
		tok, err := t.Token()
		if tok != nil {
			all = append(all, xml.CopyToken(tok))
		}
		if err != nil {
			break // the mux sees the error when it reads on
		}
		if se, ok := tok.(xml.StartElement); ok {
			event = isEvent(se.Name)
			break
		}
		if _, ok := tok.(xml.EndElement); ok {
			break
		}
	}
	if !event {
		// The mux reads on from the message start: replay what was read.
		return r.m.HandleXMPP(rw(&replay{toks: all[1:], r: t}, t), start)
	}

	// A notification. The events handler reads the message from its start
	// element on, as through the mux.
	var rest xml.TokenReader = t
	var tap *bodyTap
	if typ == stanza.NormalMessage && r.chat != nil {
		// A normal message may also carry a body for the chat handler,
		// which the mux would call after the events handler: record the
		// message to replay it.
		tap = &bodyTap{r: t, depth: 2}
		rest = tap
	}
	var msg stanza.Message
	var evErr error
	if r.reader != nil {
		j, err := r.parseFrom(from)
		if err != nil {
			return err // as through the mux: stanza.NewMessage fails
		}
		r.reader.HandleEvent(j, &replay{toks: all, r: rest})
	} else {
		var err error
		if msg, err = stanza.NewMessage(*start); err != nil {
			return err
		}
		evErr = r.events.HandleMessage(msg, rw(&replay{toks: all, r: rest}, t))
	}
	if tap == nil {
		return evErr
	}
	// Read the rest of the message, looking for a body.
	for {
		_, err := tap.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.Join(evErr, err)
		}
	}
	if !tap.body {
		return evErr
	}
	if r.reader != nil {
		var err error
		if msg, err = stanza.NewMessage(*start); err != nil {
			return err
		}
	}
	return errors.Join(evErr, r.chat(msg, rw(&replay{toks: append(all, tap.toks...), r: eof{}}, t)))
}

// parseFrom parses a from attribute, reusing the last parse.
func (r *msgRouter) parseFrom(from string) (jid.JID, error) {
	if from == "" {
		return jid.JID{}, nil
	}
	if from == r.lastFrom {
		return r.lastJID, nil
	}
	j, err := jid.Parse(from)
	if err != nil {
		return j, err
	}
	r.lastFrom, r.lastJID = from, j
	return j, nil
}

// msgAttrs returns the type of a message as stanza.NewMessage reads it
// (normal when absent or unknown) and its from attribute.
func msgAttrs(start *xml.StartElement) (typ stanza.MessageType, from string) {
	typ = stanza.NormalMessage
	for _, a := range start.Attr {
		if a.Name.Space != "" && a.Name.Space != start.Name.Space {
			continue
		}
		switch a.Name.Local {
		case "type":
			_ = typ.UnmarshalXMLAttr(a) // never fails: unknown types are normal
		case "from":
			from = a.Value
		}
	}
	return typ, from
}

// rw pairs a reader with the encoder of t, as handlers get them.
func rw(r xml.TokenReader, t xmlstream.TokenReadEncoder) xmlstream.TokenReadEncoder {
	return struct {
		xml.TokenReader
		xmlstream.Encoder
	}{r, t}
}

// replay reads toks, then r.
type replay struct {
	toks []xml.Token
	r    xml.TokenReader
}

func (p *replay) Token() (xml.Token, error) {
	if len(p.toks) > 0 {
		tok := p.toks[0]
		p.toks = p.toks[1:]
		return tok, nil
	}
	return p.r.Token()
}

// eof is an empty xml.TokenReader.
type eof struct{}

func (eof) Token() (xml.Token, error) { return nil, io.EOF }

// bodyTap reads r, the rest of a message, recording every token and
// whether the message has a {jabber:client}body child.
type bodyTap struct {
	r     xml.TokenReader
	depth int // element depth of the next token; 1 is a child of the message
	toks  []xml.Token
	body  bool
}

func (b *bodyTap) Token() (xml.Token, error) {
	tok, err := b.r.Token()
	switch t := tok.(type) {
	case nil:
		return tok, err
	case xml.StartElement:
		if b.depth == 1 && t.Name.Local == "body" && t.Name.Space == stanza.NSClient {
			b.body = true
		}
		b.depth++
	case xml.EndElement:
		b.depth--
	}
	b.toks = append(b.toks, xml.CopyToken(tok))
	return tok, err
}
