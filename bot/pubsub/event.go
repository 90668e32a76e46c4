package pubsub

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"

	"mellium.im/xmpp/jid"

	"hookbot/hooks/hookbot"
)

// ErrNotEvent is returned by ParseEvent when the stanza carries no
// pubsub#event element.
var ErrNotEvent = errors.New("pubsub: no pubsub#event element")

// Event is one pubsub#event notification: the contents of one message.
//
// Items lists the notifications in document order. For Kind "items" an
// item either carries its payload or, when the node sends notifications
// without payloads, has NotifyOnly set: fetch it with ItemsByID. Retracts
// are items of Kind "retract" with only an ID. A purge or a delete of the
// node is a single item of that Kind with an empty ID. An event of another
// kind (configuration, subscription, collection) has no Items.
type Event struct {
	Service jid.JID   // bare JID of the service; see ParseEvent
	Node    string    // node of the notification; "" when there are no Items
	Delayed bool      // the message carried urn:xmpp:delay
	Stamp   time.Time // the delay stamp (zero if absent or unparsable)
	Items   []Item
}

// Item is one notification of an Event.
type Item struct {
	hookbot.Item
	// NotifyOnly marks a published item sent without its payload; the
	// caller fetches it by ID.
	NotifyOnly bool
}

// IsEvent reports whether name is the pubsub#event element, the child of a
// message that carries a notification.
func IsEvent(name xml.Name) bool {
	return name.Space == NSEvent && name.Local == "event"
}

// ParseEvent parses a notification.
//
// r is positioned either on a message (its first token is the message
// start element, which is what a mellium mux message handler reads) or on
// the event element itself. From a message, ParseEvent reads the first
// pubsub#event child and a urn:xmpp:delay child, in either order, and
// consumes the whole message; from a bare event element it reads only
// that element, so Delayed stays false.
//
// from is the sender of the message. Its bare form becomes Event.Service
// and every Item's Service; pass the account's own bare JID when the
// message had no from (notifications from the own PEP service arrive
// without one). now becomes every Item's Time.
//
// Malformed input yields an error (ErrNotEvent when there is no event at
// all); it never panics.
func ParseEvent(from jid.JID, r xml.TokenReader, now time.Time) (Event, error) {
	ev := Event{Service: from.Bare()}
	start, err := firstStart(r)
	if err != nil {
		return ev, err
	}
	if IsEvent(start.Name) {
		return ev, parseEventElem(&ev, r, now)
	}
	found := false
	for {
		tok, err := r.Token()
		if tok == nil && err != nil {
			if err == io.EOF {
				break
			}
			return ev, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case IsEvent(t.Name) && !found:
				found = true
				if err := parseEventElem(&ev, r, now); err != nil {
					return ev, err
				}
			case t.Name.Space == NSDelay && t.Name.Local == "delay":
				ev.Delayed = true
				for _, a := range t.Attr {
					if a.Name.Local == "stamp" && a.Name.Space == "" {
						if ts, err := time.Parse(time.RFC3339Nano, a.Value); err == nil {
							ev.Stamp = ts
						}
					}
				}
				if err := skip(r); err != nil {
					return ev, err
				}
			default:
				if err := skip(r); err != nil {
					return ev, err
				}
			}
		case xml.EndElement:
			// End of the message.
			if !found {
				return ev, ErrNotEvent
			}
			return ev, nil
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return ev, err
		}
	}
	// A reader limited to the message's children ends with EOF instead of
	// the end element.
	if !found {
		return ev, ErrNotEvent
	}
	return ev, nil
}

// firstStart returns the first start element of r, skipping whitespace,
// comments and the like.
func firstStart(r xml.TokenReader) (xml.StartElement, error) {
	for {
		tok, err := r.Token()
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
		if _, ok := tok.(xml.EndElement); ok {
			return xml.StartElement{}, ErrNotEvent
		}
		if err == io.EOF {
			return xml.StartElement{}, ErrNotEvent
		}
		if err != nil {
			return xml.StartElement{}, err
		}
	}
}

// skip consumes tokens up to and including the end of the element whose
// start was just read.
func skip(r xml.TokenReader) error {
	depth := 1
	for depth > 0 {
		tok, err := r.Token()
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
		if depth == 0 {
			return nil
		}
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func attr(se xml.StartElement, local string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// children calls f for each child element of the element whose start
// was just read, then reads through its end. f either reads the child
// through its end and returns true, or returns false and the child is
// skipped.
func children(r xml.TokenReader, f func(xml.StartElement) (read bool, err error)) error {
	for {
		tok, err := r.Token()
		switch t := tok.(type) {
		case xml.StartElement:
			read, e := f(t)
			if e != nil {
				return e
			}
			if !read {
				if e := skip(r); e != nil {
					return e
				}
			}
		case xml.EndElement:
			return nil
		}
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
}

// parseEventElem reads the children of an event element whose start was
// just read, through its end.
func parseEventElem(ev *Event, r xml.TokenReader, now time.Time) error {
	done := false
	return children(r, func(t xml.StartElement) (bool, error) {
		if done || t.Name.Space != NSEvent {
			return false, nil
		}
		node, ok := attr(t, "node")
		switch t.Name.Local {
		case "items":
			if !ok {
				return false, errors.New("pubsub: event items without node")
			}
			ev.Node, done = node, true
			return true, parseItems(ev, r, NSEvent, now, true)
		case "purge", "delete":
			if !ok {
				return false, fmt.Errorf("pubsub: event %s without node", t.Name.Local)
			}
			ev.Node, done = node, true
			ev.Items = append(ev.Items, Item{Item: hookbot.Item{
				Kind:    t.Name.Local,
				Service: ev.Service.String(),
				Node:    node,
				Time:    now,
			}})
		}
		return false, nil
	})
}

// parseItems reads the children of an items element (of namespace ns)
// whose start was just read, through its end, appending to ev.Items.
// Retractions are accepted only in events.
func parseItems(ev *Event, r xml.TokenReader, ns string, now time.Time, event bool) error {
	return children(r, func(t xml.StartElement) (bool, error) {
		if t.Name.Space != ns {
			return false, nil
		}
		id, _ := attr(t, "id")
		switch {
		case t.Name.Local == "item":
			publisher, _ := attr(t, "publisher")
			payload, hasElem, err := readPayload(r)
			if err != nil {
				return true, fmt.Errorf("pubsub: item %q of node %q: %w", id, ev.Node, err)
			}
			if !hasElem {
				payload = ""
			}
			if id == "" && payload == "" {
				return true, nil // nothing to run and nothing to fetch
			}
			ev.Items = append(ev.Items, Item{
				Item: hookbot.Item{
					Kind:      hookbot.KindItems,
					Service:   ev.Service.String(),
					Node:      ev.Node,
					ID:        id,
					Publisher: publisher,
					Payload:   payload,
					Time:      now,
				},
				NotifyOnly: payload == "",
			})
			return true, nil
		case t.Name.Local == "retract" && event:
			if id == "" {
				return false, fmt.Errorf("pubsub: retract without id on node %q", ev.Node)
			}
			ev.Items = append(ev.Items, Item{Item: hookbot.Item{
				Kind:    hookbot.KindRetract,
				Service: ev.Service.String(),
				Node:    ev.Node,
				ID:      id,
				Time:    now,
			}})
		}
		return false, nil
	})
}
