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

// Handler returns a mux message handler that parses pubsub#event
// notifications and passes each Event with Items to deliver.
//
// self is the account's bare JID: notifications from its own PEP service
// arrive without a from attribute and are attributed to it. deliver runs
// on the session's Serve goroutine and must not block (hand the event to
// a queue). A malformed event is logged and dropped; the handler never
// returns an error, so it never ends the session.
func Handler(self jid.JID, log *slog.Logger, deliver func(Event)) mux.MessageHandler {
	return mux.MessageHandlerFunc(func(msg stanza.Message, t xmlstream.TokenReadEncoder) error {
		from := msg.From
		if from.Equal(jid.JID{}) {
			from = self
		}
		ev, err := ParseEvent(from, t, time.Now())
		switch {
		case errors.Is(err, ErrNotEvent):
			return nil
		case err != nil:
			log.Warn("pubsub: dropping malformed event", "from", from.String(), "node", ev.Node, "err", err)
			return nil
		}
		if len(ev.Items) > 0 {
			deliver(ev)
		}
		return nil
	})
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
