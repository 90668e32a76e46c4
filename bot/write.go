package bot

import (
	"context"
	"encoding/xml"
	"fmt"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// writeTimeout bounds the write of one stanza.
const writeTimeout = 30 * time.Second

// write sends the stanza r on s within timeout.
//
// mellium v0.22.0 watches the context of a write from a goroutine that
// can still see it end after the write has returned; it then sets a past
// write deadline on the connection, which fails whatever another
// goroutine is writing at that moment. So the context of a write is
// never canceled when the write returns: it ends a while later.
func write(s *xmpp.Session, timeout time.Duration, r xml.TokenReader) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := s.Send(ctx, r)
	time.AfterFunc(time.Second, cancel)
	return err
}

// SendMessage sends a message of type typ with body to the JID to, on
// the current session.
func (b *Bot) SendMessage(to jid.JID, typ stanza.MessageType, body string) error {
	s, err := b.Session()
	if err != nil {
		return err
	}
	el := xmlstream.Wrap(xmlstream.Token(xml.CharData(body)), xml.StartElement{Name: xml.Name{Local: "body"}})
	if err := write(s, writeTimeout, stanza.Message{To: to, Type: typ}.Wrap(el)); err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	return nil
}
