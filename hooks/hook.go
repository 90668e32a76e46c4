// Package hooks holds the hook model and registry, the executor that runs
// hooks (queues, timeouts, panic capture) and the delivery rules (dedupe,
// ordering) that turn PubSub notifications into hook runs.
//
// It knows nothing of XMPP sockets: the bot implements PubSub and Host.
package hooks

import (
	"context"
	"time"

	"hookbot/hooks/hookbot"
)

// Type is a hook type: how Arg is turned into code.
type Type string

// The hook types.
const (
	TypeGo     Type = "go"      // Arg: import path of a package under hooks_path/src
	TypeGoFile Type = "go_file" // Arg: path of a .go file, stored absolute
	TypeGoCode Type = "go_code" // Arg: statements, the body of Hook
)

// Types lists every hook type, default first.
var Types = []Type{TypeGo, TypeGoFile, TypeGoCode}

// Hook is one user hook: code attached to a PubSub node.
type Hook struct {
	ID         string    // at most 16 of [a-z0-9], never reused
	Owner      string    // bare JID of the creator
	Service    string    // JID of the PubSub service
	Node       string    // node name
	Type       Type      // how Arg is read
	Arg        string    // import path, file path or code
	Persistent bool      // stored in SQLite and restored at start
	Events     []string  // subset of hookbot.Kind*; default {"items"}
	Created    time.Time // creation time
	State      string    // "subscribed", "pending" or "error: <reason>"
}

// Filter selects hooks for deletion. An empty Service, Type or Arg matches
// any; Node must match exactly. A non-empty Owner restricts the match to
// that owner's hooks.
type Filter struct {
	Owner, Service, Node string
	Type                 Type
	Arg                  string
}

// PubSub is the part of an XMPP session that hooks need. The bot
// implements it.
type PubSub interface {
	// Subscribe subscribes the bot's bare JID to node on service and
	// returns the subscription state: "subscribed" or "pending". A refusal
	// is an error whose message a user can act on.
	Subscribe(ctx context.Context, service, node string) (state string, err error)
	// Unsubscribe removes the bot's subscription to node on service.
	Unsubscribe(ctx context.Context, service, node string) error
	// Items returns up to max of the newest items of node on service,
	// in the order the service returns them.
	Items(ctx context.Context, service, node string, max int) ([]hookbot.Item, error)
}

// Host runs the side effects of hook code (hookbot.Bot without Log, which
// the executor provides per run). The bot implements it.
type Host interface {
	JID() string
	Send(to, body string) error
	Publish(service, node, id, payload string) (string, error)
}

// Notification is what the bot received in one PubSub event message.
type Notification struct {
	Items []hookbot.Item
	// Delayed is true when the message carried a delay (urn:xmpp:delay):
	// a stored copy, never a new purge, retract or delete.
	Delayed bool
}
