package hooks

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"hookbot/hooks/hookbot"
)

// Kinds lists the event kinds a hook may ask for, in SPEC order.
var Kinds = []string{hookbot.KindItems, hookbot.KindRetract, hookbot.KindPurge, hookbot.KindDelete}

// normalize checks a hook given to Create and fills in its defaults: type
// go, events {items}, the owner's bare JID as service, an absolute path
// for go_file. Its errors are meant for the user.
func normalize(h Hook) (Hook, error) {
	h.Owner = strings.TrimSpace(h.Owner)
	h.Service = strings.TrimSpace(h.Service)
	h.Node = strings.TrimSpace(h.Node)
	if h.Owner == "" {
		return h, errors.New("hook has no owner")
	}
	if h.Node == "" {
		return h, errors.New("node is required")
	}
	if h.Service == "" {
		h.Service = h.Owner
	}
	if h.Type == "" {
		h.Type = TypeGo
	}
	if !slices.Contains(Types, h.Type) {
		return h, fmt.Errorf("unknown hook type %q: use one of %s", h.Type, joinTypes(Types))
	}
	if h.Type != TypeGoCode {
		h.Arg = strings.TrimSpace(h.Arg)
	}
	if strings.TrimSpace(h.Arg) == "" {
		return h, errors.New("arg is required: the import path, file or code of the hook")
	}
	if h.Type == TypeGoFile {
		abs, err := filepath.Abs(h.Arg)
		if err != nil {
			return h, fmt.Errorf("go_file %s: %w", h.Arg, err)
		}
		h.Arg = abs
	}
	events, err := normalizeEvents(h.Events)
	if err != nil {
		return h, err
	}
	h.Events = events
	return h, nil
}

// normalizeEvents returns the kinds of events in SPEC order without
// duplicates, {items} when there are none.
func normalizeEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return []string{hookbot.KindItems}, nil
	}
	var out []string
	for _, k := range Kinds {
		if slices.Contains(events, k) {
			out = append(out, k)
		}
	}
	for _, e := range events {
		if !slices.Contains(Kinds, e) {
			return nil, fmt.Errorf("unknown event %q: use any of %s", e, strings.Join(Kinds, ", "))
		}
	}
	return out, nil
}

func joinTypes(ts []Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// matches reports whether f selects h.
func (f Filter) matches(h Hook) bool {
	return h.Node == f.Node &&
		(f.Owner == "" || h.Owner == f.Owner) &&
		(f.Service == "" || h.Service == f.Service) &&
		(f.Type == "" || h.Type == f.Type) &&
		(f.Arg == "" || h.Arg == f.Arg)
}
