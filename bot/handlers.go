package bot

import (
	"context"
	"encoding/xml"
	"io"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"hookbot/commands"
)

// NSPubSubEvent is the namespace of PubSub notifications.
const NSPubSubEvent = "http://jabber.org/protocol/pubsub#event"

// maxAsync bounds the IQ and chat handlers running at once per session.
// Beyond it requests are refused at once (resource-constraint) or
// dropped: the Serve loop never waits, since the handlers themselves may
// wait for IQ replies that only the Serve loop reads.
const maxAsync = 64

// serveState is the per-session state of the handlers. Its fields are
// used on the Serve goroutine only.
type serveState struct {
	// deferred is the id of an IQ whose reply a goroutine will send.
	deferred string
	// answered is set once a presence subscription request was answered.
	answered bool
}

// handler returns the Serve handler of session s: the mux, wrapped so
// that IQs answered asynchronously get no automatic error. With an events
// handler, notifications bypass the mux (see msgRouter).
func (b *Bot) handler(ctx context.Context, s *xmpp.Session) xmpp.Handler {
	st := &serveState{}
	sem := make(chan struct{}, maxAsync)
	opts := []mux.Option{
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: ping.NS, Local: "ping"}, b.handlePing),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsDiscoInfo, Local: "query"}, b.handleDiscoInfo),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsDiscoItems, Local: "query"}, b.handleDiscoItems),
		// A wildcard presence handler fires once per child element: st
		// makes sure each request is answered once.
		mux.PresenceFunc(stanza.SubscribePresence, xml.Name{}, func(p stanza.Presence, t xmlstream.TokenReadEncoder) error {
			if st.answered {
				return nil
			}
			st.answered = true
			return b.handleSubscribe(p, t)
		}),
	}
	for _, r := range b.iqs {
		opts = append(opts, mux.IQFunc(r.typ, r.payload, b.asyncIQ(ctx, s, st, sem, r.h)))
	}
	if b.events != nil {
		ev := xml.Name{Space: NSPubSubEvent, Local: "event"}
		opts = append(opts,
			mux.Message(stanza.HeadlineMessage, ev, b.events),
			mux.Message(stanza.NormalMessage, ev, b.events))
	}
	var chat func(stanza.Message, xmlstream.TokenReadEncoder) error
	if b.chat != nil {
		body := xml.Name{Space: stanza.NSClient, Local: "body"}
		chat = b.chatHandler(ctx, s, sem)
		opts = append(opts,
			mux.MessageFunc(stanza.ChatMessage, body, chat),
			mux.MessageFunc(stanza.NormalMessage, body, chat))
	}
	m := mux.New(stanza.NSClient, opts...)
	var h xmpp.Handler = m
	if b.events != nil && !b.muxEvents {
		h = newMsgRouter(m, b.events, chat)
	}
	return xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		st.deferred, st.answered = "", false
		err := h.HandleXMPP(t, start)
		if err != nil {
			// A handler error would end the session: log and go on.
			b.log.Warn("stanza handler failed", "stanza", start.Name.Local, "err", err)
		}
		if st.deferred != "" && idOf(start) == st.deferred {
			// mellium answers an IQ that the handler did not reply to with
			// service-unavailable, addressed to the IQ's from. The reply
			// comes later from a goroutine: point that automatic error at
			// no one (the server drops IQ errors addressed to the account)
			// so the requester sees only the real reply.
			for i, a := range start.Attr {
				if a.Name.Local == "from" {
					start.Attr[i].Value = ""
				}
			}
		}
		return nil
	})
}

func idOf(start *xml.StartElement) string {
	for _, a := range start.Attr {
		if a.Name.Local == "id" {
			return a.Value
		}
	}
	return ""
}

// asyncIQ reads the IQ payload into memory and answers it from a
// goroutine with h's reply.
func (b *Bot) asyncIQ(ctx context.Context, s *xmpp.Session, st *serveState, sem chan struct{}, h IQHandler) func(stanza.IQ, xmlstream.TokenReadEncoder, *xml.StartElement) error {
	return func(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		toks, err := collect(xmlstream.MultiReader(xmlstream.Token(start.Copy()), t))
		if err != nil {
			b.log.Warn("read IQ payload", "from", iq.From.String(), "err", err)
			return nil // Serve answers service-unavailable
		}
		select {
		case sem <- struct{}{}:
		default:
			b.log.Warn("too many requests under way: refusing", "from", iq.From.String())
			if _, err := xmlstream.Copy(t, errorIQ(iq, stanza.Error{Type: stanza.Wait, Condition: stanza.ResourceConstraint})); err != nil {
				b.log.Warn("refuse IQ", "err", err)
			}
			return nil
		}
		st.deferred = iq.ID
		go func() {
			defer func() { <-sem }()
			hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			reply := h(hctx, iq, &tokenSlice{toks: toks})
			if reply == nil {
				reply = errorIQ(iq, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable})
			}
			if err := write(s, writeTimeout, reply); err != nil {
				b.log.Warn("send IQ reply", "to", iq.From.String(), "err", err)
			}
		}()
		return nil
	}
}

// chatHandler hands chat and normal messages with a body to b.chat in a
// goroutine.
func (b *Bot) chatHandler(ctx context.Context, s *xmpp.Session, sem chan struct{}) func(stanza.Message, xmlstream.TokenReadEncoder) error {
	return func(msg stanza.Message, t xmlstream.TokenReadEncoder) error {
		// t reads the message from its start element on: find the body.
		var body struct {
			Text string `xml:",chardata"`
		}
		d := xml.NewTokenDecoder(t)
		for body.Text == "" {
			tok, err := d.Token()
			if err != nil {
				return nil
			}
			if start, ok := tok.(xml.StartElement); ok && start.Name.Local == "body" {
				if d.DecodeElement(&body, &start) != nil || body.Text == "" {
					return nil
				}
			}
		}
		select {
		case sem <- struct{}{}:
		default:
			b.log.Warn("too many requests under way: dropping a chat message", "from", msg.From.String())
			return nil
		}
		go func() {
			defer func() { <-sem }()
			b.chat(ctx, s, msg, body.Text)
		}()
		return nil
	}
}

// handlePing answers XEP-0199 pings.
func (b *Bot) handlePing(iq stanza.IQ, t xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
	_, err := xmlstream.Copy(t, iq.Result(nil))
	if err != nil {
		b.log.Warn("answer ping", "err", err)
	}
	return nil
}

// handleSubscribe accepts and returns the presence subscriptions of users
// and admins and refuses strangers' (SPEC §3).
func (b *Bot) handleSubscribe(p stanza.Presence, t xmlstream.TokenReadEncoder) error {
	if p.From.Equal(jid.JID{}) {
		return nil
	}
	from := p.From.Bare()
	reply := func(typ stanza.PresenceType) xml.TokenReader {
		return stanza.Presence{To: from, Type: typ}.Wrap(nil)
	}
	role := b.cfg.Role(from.String())
	var err error
	if role == commands.Stranger {
		b.log.Info("refusing presence subscription", "from", from.String())
		_, err = xmlstream.Copy(t, reply(stanza.UnsubscribedPresence))
	} else {
		b.log.Info("accepting presence subscription", "from", from.String(), "role", role.String())
		_, err = xmlstream.Copy(t, xmlstream.MultiReader(reply(stanza.SubscribedPresence), reply(stanza.SubscribePresence)))
	}
	if err != nil {
		b.log.Warn("answer presence subscription", "from", from.String(), "err", err)
	}
	return nil
}

// sendPresence sends an available presence with caps, or a presence of
// type typ.
func (b *Bot) sendPresence(s *xmpp.Session, timeout time.Duration, typ stanza.PresenceType) error {
	var caps xml.TokenReader
	if typ == "" {
		caps = b.capsElement()
	}
	return write(s, timeout, stanza.Presence{Type: typ}.Wrap(caps))
}

// pingServer pings the server.
func pingServer(ctx context.Context, s *xmpp.Session) error {
	return ping.Send(ctx, s, s.LocalAddr().Domain())
}

func errorIQ(iq stanza.IQ, e stanza.Error) xml.TokenReader {
	iq.To, iq.From = iq.From, iq.To
	iq.Type = stanza.ErrorIQ
	return iq.Wrap(e.TokenReader())
}

// collect reads every token of r into memory, copying what the decoder
// may reuse.
func collect(r xml.TokenReader) ([]xml.Token, error) {
	var toks []xml.Token
	for {
		tok, err := r.Token()
		if tok != nil {
			toks = append(toks, xml.CopyToken(tok))
		}
		if err == io.EOF {
			return toks, nil
		}
		if err != nil {
			return toks, err
		}
	}
}

// tokenSlice is an xml.TokenReader over buffered tokens.
type tokenSlice struct{ toks []xml.Token }

func (r *tokenSlice) Token() (xml.Token, error) {
	if len(r.toks) == 0 {
		return nil, io.EOF
	}
	tok := r.toks[0]
	r.toks = r.toks[1:]
	return tok, nil
}
