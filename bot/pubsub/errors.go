package pubsub

import (
	"encoding/xml"
	"errors"
	"strings"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Error is an IQ error returned by a PubSub service, with the XEP-0060
// application condition when the service gave one.
//
// Its message says what failed and, where it can, what to do about it,
// e.g. "node news on pubsub.localhost does not exist (item-not-found)".
// errors.Is(err, stanza.Error{Condition: stanza.ItemNotFound}) works
// through Unwrap.
type Error struct {
	Op        string           // "subscribe to", "unsubscribe from", "list subscriptions of", "fetch items of", "publish to"
	Service   jid.JID          // empty for the account's own PEP service
	Node      string           // "" for service-wide requests
	Type      stanza.ErrorType // cancel, modify, auth, wait…
	Condition stanza.Condition // RFC 6120 condition
	App       string           // pubsub#errors condition, e.g. "closed-node"; "" if none
	Feature   string           // the feature named by an "unsupported" condition
	Text      string           // the service's own text, if any
}

// Unwrap returns the stanza error, for errors.Is.
func (e *Error) Unwrap() error {
	se := stanza.Error{Type: e.Type, Condition: e.Condition}
	if e.Text != "" {
		se.Text = map[string]string{"": e.Text}
	}
	return se
}

// Cond returns the most specific condition: the pubsub#errors one if any,
// else the stanza condition.
func (e *Error) Cond() string {
	if e.App != "" {
		return e.App
	}
	return string(e.Condition)
}

func (e *Error) Error() string {
	svc := e.Service.String()
	if svc == "" {
		svc = "the account's own PEP service"
	}
	node := "node " + e.Node + " on " + svc
	if e.Node == "" {
		node = svc
	}
	var msg string
	switch e.App {
	case "presence-subscription-required":
		msg = node + " only accepts subscribers who share presence with its owner: have the owner add the bot to their roster"
	case "not-in-roster-group":
		msg = node + " only accepts subscribers in an allowed roster group of its owner: ask the owner to add the bot to that group"
	case "closed-node":
		msg = node + " is closed to subscribers not on its whitelist: ask the node owner to allow the bot"
	case "not-subscribed":
		msg = "the bot is not subscribed to " + node
	case "configuration-required":
		msg = "the subscription to " + node + " must be configured before it is active"
	case "pending-subscription":
		msg = "the subscription to " + node + " is still waiting for the owner's approval"
	case "invalid-jid":
		msg = svc + " refused the subscriber JID: subscribe with the bot's own bare JID"
	case "unsupported":
		f := e.Feature
		if f == "" {
			f = "this operation"
		}
		msg = svc + " does not support " + f
	case "payload-too-big":
		msg = "the payload is too big for " + node
	case "invalid-payload":
		msg = node + " does not accept this payload"
	case "item-forbidden", "item-required", "payload-required":
		msg = node + " refused the item as published"
	case "max-items-exceeded":
		msg = "too many items requested from " + node
	case "too-many-subscriptions":
		msg = "the bot has too many subscriptions to " + node
	}
	if msg == "" {
		switch e.Condition {
		case stanza.ItemNotFound:
			if e.Node == "" {
				msg = svc + " has no such node or item"
			} else {
				msg = node + " does not exist"
			}
		case stanza.Forbidden, stanza.NotAuthorized:
			msg = "the bot may not " + e.Op + " " + node
			if e.Op == "subscribe to" {
				msg += ": its access model may require that the owner shares presence with the bot or whitelists it"
			}
		case stanza.RegistrationRequired:
			msg = node + " requires registration"
		case stanza.ServiceUnavailable, stanza.FeatureNotImplemented:
			msg = svc + " does not offer this PubSub operation"
		case stanza.RemoteServerNotFound, stanza.RemoteServerTimeout:
			msg = svc + " cannot be reached"
		case stanza.NotAllowed:
			msg = node + " does not allow the bot to " + e.Op
		case stanza.Conflict:
			msg = node + " conflicts with an existing one"
		case stanza.ResourceConstraint:
			msg = svc + " is busy: try again later"
		default:
			msg = e.Op + " " + node + " failed"
		}
	}
	var b strings.Builder
	b.WriteString(msg)
	if e.Text != "" {
		b.WriteString(": ")
		b.WriteString(e.Text)
	}
	b.WriteString(" (")
	b.WriteString(e.Cond())
	b.WriteString(")")
	return b.String()
}

// decodeError reads an error element whose start was just read (from the
// tokens of an IQ of type error) into an *Error.
func decodeError(start xml.StartElement, toks *tokens, op string, service jid.JID, node string) *Error {
	e := &Error{Op: op, Service: service, Node: node}
	if t, ok := attr(start, "type"); ok {
		e.Type = stanza.ErrorType(t)
	}
	depth := 1
	for depth > 0 {
		tok, ok := toks.next()
		if !ok {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth != 2 {
				continue
			}
			switch t.Name.Space {
			case stanza.NSError:
				if t.Name.Local == "text" {
					e.Text = toks.text()
					depth--
				} else if e.Condition == "" {
					e.Condition = stanza.Condition(t.Name.Local)
				}
			case NSErrors:
				e.App = t.Name.Local
				e.Feature, _ = attr(t, "feature")
			}
		case xml.EndElement:
			depth--
		}
	}
	if e.Condition == "" {
		e.Condition = stanza.UndefinedCondition
	}
	return e
}

// Is reports whether err is a *Error whose condition, pubsub or stanza, is
// cond.
func Is(err error, cond string) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.App == cond || string(e.Condition) == cond
}
