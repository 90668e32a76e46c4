package pubsub

import (
	"encoding/xml"
	"errors"
	"log/slog"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// Handler returns a handler that parses pubsub#event notifications and
// passes each Event with Items to deliver.
//
// self is the account's bare JID: notifications from its own PEP service
// arrive without a from attribute and are attributed to it. deliver runs
// on the session's Serve goroutine and must not block (hand the event to
// a queue). A malformed event is logged and dropped; the handler never
// returns an error, so it never ends the session.
func Handler(self jid.JID, log *slog.Logger, deliver func(Event)) *EventHandler {
	return &EventHandler{self: self, log: log, deliver: deliver}
}

// EventHandler is the notification handler returned by Handler. It is a
// mux.MessageHandler; HandleEvent is the same without a stanza.Message,
// for callers that route messages themselves.
type EventHandler struct {
	self    jid.JID
	log     *slog.Logger
	deliver func(Event)
}

var _ mux.MessageHandler = (*EventHandler)(nil)

// HandleMessage implements mux.MessageHandler: t reads the message from
// its start element on. It always returns nil.
func (h *EventHandler) HandleMessage(msg stanza.Message, t xmlstream.TokenReadEncoder) error {
	h.HandleEvent(msg.From, t)
	return nil
}

// HandleEvent parses the notification that r reads (a message from its
// start element on, as for ParseEvent) and delivers it. from is the
// message's sender, the zero JID when the message had no from attribute.
func (h *EventHandler) HandleEvent(from jid.JID, r xml.TokenReader) {
	if from.Equal(jid.JID{}) {
		from = h.self
	}
	ev, err := ParseEvent(from, r, time.Now())
	switch {
	case errors.Is(err, ErrNotEvent):
		return
	case err != nil:
		h.log.Warn("pubsub: dropping malformed event", "from", from.String(), "node", ev.Node, "err", err)
		return
	}
	if len(ev.Items) > 0 {
		h.deliver(ev)
	}
}

// MuxOptions registers h for the pubsub#event payload of headline and
// normal messages, the two types services use for notifications.
func MuxOptions(h mux.MessageHandler) []mux.Option {
	name := xml.Name{Space: NSEvent, Local: "event"}
	return []mux.Option{
		mux.Message(stanza.HeadlineMessage, name, h),
		mux.Message(stanza.NormalMessage, name, h),
	}
}
