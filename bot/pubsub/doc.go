// Package pubsub is the bot's XEP-0060 client: subscribing, listing
// subscriptions, fetching and publishing items, and parsing the
// notifications (pubsub#event) that services push.
//
// mellium.im/xmpp/pubsub has Publish, Delete and Fetch but no subscriptions
// and no events, and its errors lose the pubsub#errors condition; this
// package fills those gaps on top of a plain *xmpp.Session.
//
// Every function that talks to a service takes a context first and bounds
// its IQ by Timeout (or the context's earlier deadline). An empty service
// JID means the account's own PEP service: the IQ is sent without a to
// attribute. These calls wait for the service's answer, which the
// session's Serve loop reads: never call them from a mux handler (hand the
// work to another goroutine).
//
// Items come back as hookbot.Item values whose Payload is the item's XML,
// re-encoded so that it is well-formed on its own and carries its
// namespaces (see Payload for the rules).
package pubsub

import "time"

// Namespaces used by this package.
const (
	NS       = "http://jabber.org/protocol/pubsub"
	NSEvent  = "http://jabber.org/protocol/pubsub#event"
	NSErrors = "http://jabber.org/protocol/pubsub#errors"
	NSDelay  = "urn:xmpp:delay"
)

// Timeout bounds every IQ that this package sends when the caller's
// context has no earlier deadline.
const Timeout = 30 * time.Second
