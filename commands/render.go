package commands

import (
	"encoding/json"
	"fmt"
	"strings"

	"hookbot/hooks"
)

// Entry is one hook as `hook list` shows it, in chat and in hookbot ctl
// (which builds it from the rows of the list command's result table).
type Entry struct {
	ID         string   `json:"id"`
	Owner      string   `json:"owner"`
	Service    string   `json:"service"`
	Node       string   `json:"node"`
	Type       string   `json:"type"`
	Arg        string   `json:"arg"`
	Persistent bool     `json:"persistent"`
	Events     []string `json:"events"`
	State      string   `json:"state"`
}

// EntryOf returns the list entry of h.
func EntryOf(h hooks.Hook) Entry {
	events := h.Events
	if events == nil {
		events = []string{}
	}
	return Entry{
		ID: h.ID, Owner: h.Owner, Service: h.Service, Node: h.Node,
		Type: string(h.Type), Arg: h.Arg, Persistent: h.Persistent,
		Events: events, State: h.State,
	}
}

// EntryFromFields returns the entry of one <item/> of the list result
// table, given its fields' values by var (a text-multi field has one value
// per line).
func EntryFromFields(fields map[string][]string) (Entry, error) {
	one := func(v string) string { return strings.Join(fields[v], "\n") }
	e := Entry{
		ID: one("id"), Owner: one("owner"), Service: one("service"), Node: one("node"),
		Type: one("type"), Arg: one("arg"), State: one("state"), Events: []string{},
	}
	switch p := one("persistent"); p {
	case "1", "true":
		e.Persistent = true
	case "0", "false", "":
	default:
		return Entry{}, fmt.Errorf("hook %s: persistent is %q, not a boolean", e.ID, p)
	}
	for _, ev := range fields["events"] {
		if ev != "" {
			e.Events = append(e.Events, ev)
		}
	}
	return e, nil
}

// RenderSimple renders entries as `key: value` lines, a blank line between
// hooks, or "No hooks." when there are none. Continuation lines of a
// multi-line arg are indented by two spaces.
func RenderSimple(entries []Entry) string {
	if len(entries) == 0 {
		return "No hooks."
	}
	var b strings.Builder
	for i, e := range entries {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "id: %s\nowner: %s\nservice: %s\nnode: %s\ntype: %s\n", e.ID, e.Owner, e.Service, e.Node, e.Type)
		fmt.Fprintf(&b, "arg: %s\n", strings.ReplaceAll(e.Arg, "\n", "\n  "))
		fmt.Fprintf(&b, "persistent: %t\nevents: %s\nstate: %s\n", e.Persistent, strings.Join(e.Events, ", "), e.State)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// RenderJSON renders entries as a JSON array (`[]` when empty), indented
// by two spaces when indent is set, else on one line.
func RenderJSON(entries []Entry, indent bool) (string, error) {
	if entries == nil {
		entries = []Entry{}
	}
	var (
		b   []byte
		err error
	)
	if indent {
		b, err = json.MarshalIndent(entries, "", "  ")
	} else {
		b, err = json.Marshal(entries)
	}
	if err != nil {
		return "", fmt.Errorf("render hooks as JSON: %w", err)
	}
	return string(b), nil
}

func entries(hs []hooks.Hook) []Entry {
	es := make([]Entry, len(hs))
	for i, h := range hs {
		es[i] = EntryOf(h)
	}
	return es
}
