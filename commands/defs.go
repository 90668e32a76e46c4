package commands

import (
	"context"
	"fmt"

	"hookbot/hooks"
	"hookbot/hooks/hookbot"
)

// eventKinds are the notification kinds a hook may run on.
var eventKinds = []string{hookbot.KindItems, hookbot.KindRetract, hookbot.KindPurge, hookbot.KindDelete}

func eventOptions(env) []Choice {
	opts := make([]Choice, len(eventKinds))
	for i, k := range eventKinds {
		opts[i] = Choice{Label: k, Value: k}
	}
	return opts
}

func typeOptions(types []hooks.Type) []Choice {
	opts := make([]Choice, len(types))
	for i, t := range types {
		opts[i] = Choice{Label: string(t), Value: string(t)}
	}
	return opts
}

// visibleHooks returns the hooks the requester may see and delete:
// its own, or every hook for an admin.
func visibleHooks(e env) []hooks.Hook {
	if e.req.Role == Admin {
		return e.hooks.List("")
	}
	return e.hooks.List(e.req.Bare)
}

func isUser(e env) bool { return e.req.Role >= User }

// definitions returns the commands, in the order they are listed.
func definitions() []*Command {
	return []*Command{createCommand(), deleteCommand(), listCommand()}
}

func createCommand() *Command {
	return &Command{
		Node: "create",
		Name: "Create a hook",
		Allowed: func(e env) bool {
			return isUser(e) && len(e.access.Types(e.req.Role)) > 0
		},
		Usage:      "hook create -n NODE [-s SERVICE] [-t TYPE] [-e EVENT]... [-P|--persistent] ARG",
		Positional: "arg",
		Rest:       true,
		Stages: []Stage{{
			Title:        "Create a hook",
			Instructions: "Run code when a PubSub node publishes. An empty service is your own PEP service.",
			Fields: []Field{
				{Var: "node", Type: TextSingle, Label: "Node", Required: true, Flag: "n", Long: "node"},
				{Var: "service", Type: JIDSingle, Label: "PubSub service (empty: your PEP)", Flag: "s", Long: "service"},
				{Var: "type", Type: ListSingle, Label: "Type", Flag: "t", Long: "type",
					Options: func(e env) []Choice { return typeOptions(e.access.Types(e.req.Role)) },
					Default: func(e env) []string {
						if ts := e.access.Types(e.req.Role); len(ts) > 0 {
							return []string{string(ts[0])}
						}
						return nil
					},
				},
				{Var: "arg", Type: TextMulti, Label: "Import path, file path or Go code", Required: true},
				{Var: "persistent", Type: Boolean, Label: "Keep across restarts", Flag: "P", Long: "persistent",
					Default: func(env) []string { return []string{"0"} }},
				{Var: "events", Type: ListMulti, Label: "Events", Flag: "e", Long: "event", Multi: true,
					Options: eventOptions,
					Default: func(env) []string { return []string{hookbot.KindItems} }},
			},
		}},
		Run: func(ctx context.Context, e env, v Values) (Result, error) {
			h := hooks.Hook{
				Owner:      e.req.Bare,
				Service:    v.Get("service"),
				Node:       v.Get("node"),
				Type:       hooks.Type(v.Get("type")),
				Arg:        v.Get("arg"),
				Persistent: v.Bool("persistent"),
				Events:     v["events"],
			}
			if h.Service == "" {
				h.Service = e.req.Bare
			}
			if h.Type == "" {
				return Result{}, userErrorf("type is required: you may create no hook type")
			}
			if len(h.Events) == 0 {
				h.Events = []string{hookbot.KindItems}
			}
			created, err := e.hooks.Create(ctx, h)
			if err != nil {
				return Result{}, &UserError{Msg: err.Error()}
			}
			return Result{Note: fmt.Sprintf("Hook %s created", created.ID), Hook: &created}, nil
		},
	}
}

func deleteCommand() *Command {
	return &Command{
		Node:       "delete",
		Name:       "Delete hooks",
		Allowed:    isUser,
		Usage:      "hook delete [-n NODE] [-s SERVICE] [-t TYPE] [-a ARG] [ID]...",
		Positional: "hooks",
		Stages: []Stage{{
			Title:        "Delete hooks",
			Instructions: "Choose hooks to delete, or leave them all unchosen and give a node to delete every hook matching the filter (an empty service, type or arg matches any).",
			Fields: []Field{
				{Var: "hooks", Type: ListMulti, Label: "Hooks", Multi: true,
					Options: func(e env) []Choice {
						hs := visibleHooks(e)
						opts := make([]Choice, len(hs))
						for i, h := range hs {
							label := fmt.Sprintf("%s: %s %s (%s)", h.ID, h.Service, h.Node, h.Type)
							if e.req.Role == Admin {
								label += " by " + h.Owner
							}
							opts[i] = Choice{Label: label, Value: h.ID}
						}
						return opts
					}},
				{Var: "service", Type: JIDSingle, Label: "Filter: service", Flag: "s", Long: "service"},
				{Var: "node", Type: TextSingle, Label: "Filter: node", Flag: "n", Long: "node"},
				{Var: "type", Type: ListSingle, Label: "Filter: type", Flag: "t", Long: "type",
					Options: func(env) []Choice { return typeOptions(hooks.Types) }},
				{Var: "arg", Type: TextMulti, Label: "Filter: arg", Flag: "a", Long: "arg"},
			},
		}},
		Run: func(ctx context.Context, e env, v Values) (Result, error) {
			var (
				n   int
				err error
			)
			if ids := v["hooks"]; len(ids) > 0 {
				n, err = e.hooks.Delete(ctx, ids)
			} else {
				if v.Get("node") == "" {
					return Result{}, userErrorf("node is required when no hook is chosen")
				}
				f := hooks.Filter{
					Service: v.Get("service"),
					Node:    v.Get("node"),
					Type:    hooks.Type(v.Get("type")),
					Arg:     v.Get("arg"),
				}
				if e.req.Role != Admin {
					f.Owner = e.req.Bare
				}
				n, err = e.hooks.DeleteMatching(ctx, f)
			}
			if err != nil {
				return Result{}, fmt.Errorf("delete hooks: %w", err)
			}
			return Result{Note: fmt.Sprintf("%d hook(s) deleted", n)}, nil
		},
	}
}

func listCommand() *Command {
	return &Command{
		Node:    "list",
		Name:    "List hooks",
		Allowed: isUser,
		Usage:   "hook list [-O simple|json]",
		Run: func(_ context.Context, e env, _ Values) (Result, error) {
			return Result{Table: visibleHooks(e), List: true}, nil
		},
	}
}
