package hookbot

import "time"

// Item is one PubSub notification, as a hook sees it.
type Item struct {
	Kind      string    // "items", "retract", "purge" or "delete"
	Service   string    // JID of the PubSub service
	Node      string    // node name
	ID        string    // item ID ("" for purge and delete)
	Publisher string    // publisher JID when the service tells it, else ""
	Payload   string    // the item's payload as XML, "" when none
	Time      time.Time // when the bot received the notification
}

// Bot is what a hook may ask of the bot that runs it.
type Bot interface {
	// JID returns the bot's full JID.
	JID() string
	// Send sends a chat message with the given body.
	Send(to, body string) error
	// Publish publishes payload (XML) as item id on node of service and
	// returns the ID the service gave the item. An empty id lets the
	// service choose one.
	Publish(service, node, id, payload string) (string, error)
	// Log adds a line to the record of the current run.
	Log(msg string)
}

// Event kinds, the values of Item.Kind.
const (
	KindItems   = "items"
	KindRetract = "retract"
	KindPurge   = "purge"
	KindDelete  = "delete"
)
