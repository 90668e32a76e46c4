package commands

import (
	"context"
	"fmt"

	"hookbot/hooks"
	"hookbot/hooks/hookbot"
)

func eventOptions(Env) []Choice {
	opts := make([]Choice, len(hooks.Kinds))
	for i, k := range hooks.Kinds {
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
func visibleHooks(e Env) []hooks.Hook {
	if e.Req.Role == Admin {
		return e.Hooks.List("")
	}
	return e.Hooks.List(e.Req.Bare)
}

func isUser(e Env) bool { return e.Req.Role >= User }

// definitions returns the commands, in the order they are listed.
func definitions() []*Command {
	return []*Command{createCommand(), deleteCommand(), listCommand()}
}

func createCommand() *Command {
	return &Command{
		Node: "create",
		Name: "Create a hook",
		Allowed: func(e Env) bool {
			return isUser(e) && len(e.Access.Types(e.Req.Role)) > 0
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
					Options: func(e Env) []Choice { return typeOptions(e.Access.Types(e.Req.Role)) },
					Default: func(e Env) []string {
						if ts := e.Access.Types(e.Req.Role); len(ts) > 0 {
							return []string{string(ts[0])}
						}
						return nil
					},
				},
				{Var: "arg", Type: TextMulti, Label: "Import path, file path or Go code", Required: true},
				{Var: "persistent", Type: Boolean, Label: "Keep across restarts", Flag: "P", Long: "persistent",
					Default: func(Env) []string { return []string{"0"} }},
				{Var: "events", Type: ListMulti, Label: "Events", Flag: "e", Long: "event", Multi: true,
					Options: eventOptions,
					Default: func(Env) []string { return []string{hookbot.KindItems} }},
			},
		}},
		Run: func(ctx context.Context, e Env, v Values) (Result, error) {
			h := hooks.Hook{
				Owner:      e.Req.Bare,
				Service:    v.Get("service"),
				Node:       v.Get("node"),
				Type:       hooks.Type(v.Get("type")),
				Arg:        v.Get("arg"),
				Persistent: v.Bool("persistent"),
				Events:     v["events"],
			}
			if h.Service == "" {
				h.Service = e.Req.Bare
			}
			if h.Type == "" {
				return Result{}, userErrorf("type is required: you may create no hook type")
			}
			if len(h.Events) == 0 {
				h.Events = []string{hookbot.KindItems}
			}
			created, err := e.Hooks.Create(ctx, h)
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
					Options: func(e Env) []Choice {
						hs := visibleHooks(e)
						opts := make([]Choice, len(hs))
						for i, h := range hs {
							label := fmt.Sprintf("%s: %s %s (%s)", h.ID, h.Service, h.Node, h.Type)
							if e.Req.Role == Admin {
								label += " by " + h.Owner
							}
							opts[i] = Choice{Label: label, Value: h.ID}
						}
						return opts
					}},
				{Var: "service", Type: JIDSingle, Label: "Filter: service", Flag: "s", Long: "service"},
				{Var: "node", Type: TextSingle, Label: "Filter: node", Flag: "n", Long: "node"},
				{Var: "type", Type: ListSingle, Label: "Filter: type", Flag: "t", Long: "type",
					Options: func(Env) []Choice { return typeOptions(hooks.Types) }},
				{Var: "arg", Type: TextMulti, Label: "Filter: arg", Flag: "a", Long: "arg"},
			},
		}},
		Run: func(ctx context.Context, e Env, v Values) (Result, error) {
			var (
				n   int
				err error
			)
			if ids := v["hooks"]; len(ids) > 0 {
				n, err = e.Hooks.Delete(ctx, ids)
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
				if e.Req.Role != Admin {
					f.Owner = e.Req.Bare
				}
				n, err = e.Hooks.DeleteMatching(ctx, f)
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
		Run: func(_ context.Context, e Env, _ Values) (Result, error) {
			return Result{Table: visibleHooks(e), List: true}, nil
		},
	}
}
