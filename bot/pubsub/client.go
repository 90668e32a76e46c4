package pubsub

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hookbot/hooks/hookbot"
)

// State is the state of a subscription, as the service reports it.
type State string

// Subscription states (XEP-0060 §5.6, §6.1.2).
const (
	StateNone         State = "none"
	StateSubscribed   State = "subscribed"
	StatePending      State = "pending"      // waits for the node owner's approval
	StateUnconfigured State = "unconfigured" // active; options may be configured
	// StateConfigRequired: the service requires subscription options to be
	// configured before notifications are sent.
	StateConfigRequired State = "configuration-required"
)

// Subscription is one subscription of the account on a service.
type Subscription struct {
	Node  string
	JID   jid.JID
	State State
	SubID string
}

// maxTokens bounds the size of an IQ response read into memory.
const maxTokens = 1 << 20

// tokens is a copied IQ response.
type tokens struct {
	toks []xml.Token
	pos  int
}

func (t *tokens) next() (xml.Token, bool) {
	if t.pos >= len(t.toks) {
		return nil, false
	}
	t.pos++
	return t.toks[t.pos-1], true
}

// Token implements xml.TokenReader.
func (t *tokens) Token() (xml.Token, error) {
	tok, ok := t.next()
	if !ok {
		return nil, io.EOF
	}
	return tok, nil
}

// text returns the character data of the element whose start was just
// read, consuming its end.
func (t *tokens) text() string {
	var b strings.Builder
	depth := 1
	for depth > 0 {
		tok, ok := t.next()
		if !ok {
			break
		}
		switch v := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			b.Write(v)
		}
	}
	return b.String()
}

// request describes one IQ sent to a PubSub service.
type request struct {
	op      string
	service jid.JID
	node    string
	typ     stanza.IQType
	payload xml.TokenReader // children of <pubsub xmlns=NS>
}

// do sends req and returns the children of the result IQ, copied, with the
// reader closed. An IQ error becomes *Error.
func do(ctx context.Context, s *xmpp.Session, req request) (*tokens, error) {
	// mellium v0.22.0 watches the context of a write from a goroutine that
	// may see it end after the write returned, and then sets a past write
	// deadline that fails another goroutine's write in progress. So the
	// context given to the session keeps ctx's deadline but is not
	// canceled with ctx, and ends a second after the reply is read.
	deadline := time.Now().Add(Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer time.AfterFunc(time.Second, cancel)
	iq := stanza.IQ{To: req.service, Type: req.typ}
	resp, err := s.SendIQElement(ctx, xmlstream.Wrap(req.payload,
		xml.StartElement{Name: xml.Name{Space: NS, Local: "pubsub"}}), iq)
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	toks := &tokens{}
	for {
		tok, err := resp.Token()
		if tok != nil {
			if len(toks.toks) >= maxTokens {
				return nil, fmt.Errorf("response larger than %d tokens", maxTokens)
			}
			toks.toks = append(toks.toks, xml.CopyToken(tok))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	tok, ok := toks.next()
	start, isStart := tok.(xml.StartElement)
	if !ok || !isStart || start.Name.Local != "iq" {
		return nil, fmt.Errorf("unexpected response %v", tok)
	}
	typ, _ := attr(start, "type")
	if stanza.IQType(typ) == stanza.ErrorIQ {
		for {
			tok, ok := toks.next()
			if !ok {
				return nil, &Error{Op: req.op, Service: req.service, Node: req.node, Condition: stanza.UndefinedCondition}
			}
			if se, ok := tok.(xml.StartElement); ok {
				if se.Name.Local == "error" {
					return nil, decodeError(se, toks, req.op, req.service, req.node)
				}
				toks.text() // skip the echoed request
			}
		}
	}
	if len(toks.toks) > 0 {
		// Drop the IQ's end element.
		if _, ok := toks.toks[len(toks.toks)-1].(xml.EndElement); ok {
			toks.toks = toks.toks[:len(toks.toks)-1]
		}
	}
	return toks, nil
}

// findChild advances toks to the first start element named local in
// namespace ns at any depth and returns it.
func (t *tokens) find(ns, local string) (xml.StartElement, bool) {
	for {
		tok, ok := t.next()
		if !ok {
			return xml.StartElement{}, false
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Space == ns && se.Name.Local == local {
			return se, true
		}
	}
}

func elem(local string, attrs ...string) xml.StartElement {
	se := xml.StartElement{Name: xml.Name{Local: local}}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		se.Attr = append(se.Attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
	}
	return se
}

// serviceName returns service as an Item's Service: the account's own
// bare JID for the own PEP service.
func serviceName(s *xmpp.Session, service jid.JID) string {
	if service.Equal(jid.JID{}) {
		return s.LocalAddr().Bare().String()
	}
	return service.String()
}

// subscriberOr returns subscriber, or the account's bare JID when it is
// empty.
func subscriberOr(s *xmpp.Session, subscriber jid.JID) jid.JID {
	if subscriber.Equal(jid.JID{}) {
		return s.LocalAddr().Bare()
	}
	return subscriber
}

// Subscribe subscribes subscriber (empty: the account's bare JID, which is
// what the bot should use) to node on service and returns the state the
// service reports. A service that answers with an empty result means
// StateSubscribed.
//
// Observed with Prosody 0.12: subscribing again while subscribed succeeds;
// a PEP service then sends the node's last item again (as on the first
// subscription), the pubsub.localhost component sends nothing.
func Subscribe(ctx context.Context, s *xmpp.Session, service jid.JID, node string, subscriber jid.JID) (State, error) {
	subscriber = subscriberOr(s, subscriber)
	toks, err := do(ctx, s, request{
		op: "subscribe to", service: service, node: node, typ: stanza.SetIQ,
		payload: xmlstream.Wrap(nil, elem("subscribe", "node", node, "jid", subscriber.String())),
	})
	if err != nil {
		return "", fmt.Errorf("subscribe to %s: %w", node, err)
	}
	sub, ok := toks.find(NS, "subscription")
	if !ok {
		return StateSubscribed, nil
	}
	state, _ := attr(sub, "subscription")
	switch State(state) {
	case StateSubscribed, StatePending, StateNone:
		return State(state), nil
	case StateUnconfigured:
		if _, ok := toks.find(NS, "required"); ok {
			return StateConfigRequired, nil
		}
		return StateUnconfigured, nil
	case "":
		return StateSubscribed, nil
	}
	return State(state), nil
}

// Unsubscribe removes subscriber's (empty: the account's bare JID)
// subscription to node on service. Unsubscribing when not subscribed is an
// error with condition not-subscribed.
func Unsubscribe(ctx context.Context, s *xmpp.Session, service jid.JID, node string, subscriber jid.JID) error {
	subscriber = subscriberOr(s, subscriber)
	_, err := do(ctx, s, request{
		op: "unsubscribe from", service: service, node: node, typ: stanza.SetIQ,
		payload: xmlstream.Wrap(nil, elem("unsubscribe", "node", node, "jid", subscriber.String())),
	})
	if err != nil {
		return fmt.Errorf("unsubscribe from %s: %w", node, err)
	}
	return nil
}

// Subscriptions returns the account's subscriptions on service
// (XEP-0060 §5.6), for PEP services too.
//
// Prosody 0.12.3 bug: once a node the account was subscribed to has been
// deleted, the component fails internally on this request and never
// answers, so the call ends with the context's or Timeout's deadline.
// Treat an error here as "unknown" and resubscribe (Subscribe is
// idempotent).
func Subscriptions(ctx context.Context, s *xmpp.Session, service jid.JID) ([]Subscription, error) {
	toks, err := do(ctx, s, request{
		op: "list subscriptions of", service: service, typ: stanza.GetIQ,
		payload: xmlstream.Wrap(nil, elem("subscriptions")),
	})
	if err != nil {
		return nil, fmt.Errorf("subscriptions on %s: %w", service, err)
	}
	var subs []Subscription
	for {
		se, ok := toks.find(NS, "subscription")
		if !ok {
			return subs, nil
		}
		sub := Subscription{}
		sub.Node, _ = attr(se, "node")
		st, _ := attr(se, "subscription")
		sub.State = State(st)
		sub.SubID, _ = attr(se, "subid")
		if j, ok := attr(se, "jid"); ok {
			sub.JID, err = jid.Parse(j)
			if err != nil {
				return nil, fmt.Errorf("subscriptions on %s: bad jid %q: %w", service, j, err)
			}
		}
		subs = append(subs, sub)
	}
}

// Items returns the newest max items of node on service (all of them when
// max ≤ 0), in the order the service returns them, with Kind "items" and
// Time now. Prosody returns them oldest first; a PEP node keeps only its
// last item by default.
func Items(ctx context.Context, s *xmpp.Session, service jid.JID, node string, max int) ([]hookbot.Item, error) {
	attrs := []string{"node", node}
	if max > 0 {
		attrs = append(attrs, "max_items", strconv.Itoa(max))
	}
	items, err := fetch(ctx, s, service, node, xmlstream.Wrap(nil, elem("items", attrs...)))
	if err != nil {
		return nil, fmt.Errorf("items of %s: %w", node, err)
	}
	return items, nil
}

// ItemsByID returns the items of node on service with the given ids, as
// the service returns them (services omit ids they do not have, or answer
// item-not-found).
func ItemsByID(ctx context.Context, s *xmpp.Session, service jid.JID, node string, ids ...string) ([]hookbot.Item, error) {
	var inner []xml.TokenReader
	for _, id := range ids {
		inner = append(inner, xmlstream.Wrap(nil, elem("item", "id", id)))
	}
	items, err := fetch(ctx, s, service, node,
		xmlstream.Wrap(xmlstream.MultiReader(inner...), elem("items", "node", node)))
	if err != nil {
		return nil, fmt.Errorf("items %s of %s: %w", strings.Join(ids, ","), node, err)
	}
	return items, nil
}

func fetch(ctx context.Context, s *xmpp.Session, service jid.JID, node string, payload xml.TokenReader) ([]hookbot.Item, error) {
	toks, err := do(ctx, s, request{op: "fetch items of", service: service, node: node, typ: stanza.GetIQ, payload: payload})
	if err != nil {
		return nil, err
	}
	if _, ok := toks.find(NS, "items"); !ok {
		return nil, nil
	}
	ev := Event{Node: node}
	if err := parseItems(&ev, toks, NS, time.Now(), false); err != nil {
		return nil, err
	}
	svc := serviceName(s, service)
	items := make([]hookbot.Item, 0, len(ev.Items))
	for _, it := range ev.Items {
		it.Item.Service = svc
		items = append(items, it.Item)
	}
	return items, nil
}

// Publish publishes payloadXML, one XML element, as item id of node on
// service and returns the item ID: the one the service assigned, else id.
// An empty id lets the service choose.
func Publish(ctx context.Context, s *xmpp.Session, service jid.JID, node, id, payloadXML string) (string, error) {
	payload, err := parsePayload(payloadXML)
	if err != nil {
		return "", fmt.Errorf("publish to %s: %w", node, err)
	}
	toks, err := do(ctx, s, request{
		op: "publish to", service: service, node: node, typ: stanza.SetIQ,
		payload: xmlstream.Wrap(
			xmlstream.Wrap(xmlstream.MultiReader(payload...), elem("item", "id", id)),
			elem("publish", "node", node)),
	})
	if err != nil {
		return "", fmt.Errorf("publish to %s: %w", node, err)
	}
	if _, ok := toks.find(NS, "publish"); ok {
		if it, ok := toks.find(NS, "item"); ok {
			if got, _ := attr(it, "id"); got != "" {
				return got, nil
			}
		}
	}
	return id, nil
}

// parsePayload decodes one XML element into tokens ready for mellium's
// encoder: the xmlns attributes are dropped because the encoder declares
// namespaces from the element names itself.
func parsePayload(payloadXML string) ([]xml.TokenReader, error) {
	d := xml.NewDecoder(strings.NewReader(payloadXML))
	var toks []xml.Token
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("payload is not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			attrs := t.Attr[:0:0]
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				attrs = append(attrs, a)
			}
			t.Attr = attrs
			tok = t
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return nil, fmt.Errorf("payload has text outside its element")
				}
				continue
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
			continue
		}
		toks = append(toks, xml.CopyToken(tok))
	}
	if roots != 1 {
		return nil, fmt.Errorf("payload must be exactly one XML element, got %d", roots)
	}
	rs := make([]xml.TokenReader, len(toks))
	for i, t := range toks {
		rs[i] = xmlstream.Token(t)
	}
	return rs, nil
}
