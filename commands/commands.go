// Package commands defines the bot's commands (create, delete, list hooks)
// once each and serves them on two surfaces: XEP-0050 ad-hoc commands
// (sessions, data forms, result tables) and chat messages (a parser and
// text or JSON replies).
//
// It knows nothing of XMPP sockets: the bot hands it requests and sends
// its replies.
package commands

import (
	"context"

	"hookbot/hooks"
)

// Hooks is what the commands need from the hook registry.
// *hooks.Manager implements it.
type Hooks interface {
	// Create compiles, subscribes and registers h (ID, Created and State
	// are filled in) and returns the new hook. Its error is meant for the
	// user who asked.
	Create(ctx context.Context, h hooks.Hook) (hooks.Hook, error)
	// Delete deletes the hooks with these ids and returns how many were
	// deleted.
	Delete(ctx context.Context, ids []string) (int, error)
	// DeleteMatching deletes every hook f matches and returns how many.
	DeleteMatching(ctx context.Context, f hooks.Filter) (int, error)
	// List returns the hooks of owner, or every hook when owner is "",
	// oldest first.
	List(owner string) []hooks.Hook
}
