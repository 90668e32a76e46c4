package commands

import (
	"context"
	"errors"
	"strings"

	"mellium.im/xmpp/jid"
)

// Refusal is the one reply a stranger gets (then silence for a while).
const Refusal = "error: you are not allowed to use this bot; ask its operator to add you to its users."

// HandleChat runs the chat command in body, sent by from, and returns the
// reply to send back to from (full JID) with the message's type. ok is
// false when nothing must be sent: an empty body, or a stranger already
// refused within the refusal interval.
//
// The bot must call it only for messages of type chat or normal that have
// a body: never for error or headline messages (so that two bots never
// answer each other forever). It may block on the hook registry: call it
// off the mellium Serve loop.
func (s *Server) HandleChat(ctx context.Context, from jid.JID, body string) (reply string, ok bool) {
	if strings.TrimSpace(body) == "" {
		return "", false
	}
	e := s.env(from)
	if e.Req.Role == Stranger {
		if !s.refuse(e.Req.Bare) {
			return "", false
		}
		return Refusal, true
	}
	inv, err := ParseChat(body)
	if err != nil {
		return "error: " + err.Error(), true
	}
	if inv.Command == "help" {
		return Usage(), true
	}
	c := s.command(inv.Command)
	if !c.Allowed(e) {
		if c.Node == "create" {
			return "error: you may not create hooks: no hook type is allowed to you.\nusage: " + c.Usage, true
		}
		return "error: you may not use hook " + c.Node + ".\nusage: " + c.Usage, true
	}
	v, err := validate(e, c.fields(), inv.Values)
	if err != nil {
		return "error: " + err.Error() + "\nusage: " + c.Usage, true
	}
	res, err := c.Run(ctx, e, v)
	if err != nil {
		var uerr *UserError
		if errors.As(err, &uerr) {
			return "error: " + err.Error() + "\nusage: " + c.Usage, true
		}
		s.log.Warn("chat command failed", "command", c.Node, "requester", from.String(), "err", err)
		return "error: " + err.Error(), true
	}
	if res.List {
		if inv.Output == "json" {
			out, err := RenderJSON(entries(res.Table), true)
			if err != nil {
				return "error: " + err.Error(), true
			}
			return out, true
		}
		return RenderSimple(entries(res.Table)), true
	}
	return res.Note, true
}

// maxRefused caps the strangers remembered at once; beyond it, strangers
// get no reply at all.
const maxRefused = 10000

// refuse reports whether the stranger bare may be told it is refused now,
// and records it. Old records are forgotten.
func (s *Server) refuse(bare string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for b, at := range s.refused {
		if now.Sub(at) >= s.refusal {
			delete(s.refused, b)
		}
	}
	if _, ok := s.refused[bare]; ok || len(s.refused) >= maxRefused {
		return false
	}
	s.refused[bare] = now
	return true
}
