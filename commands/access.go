package commands

import (
	"slices"
	"strings"

	"hookbot/hooks"
)

// Role is what a requester may do (SPEC §3).
type Role int

// The roles, from least to most rights.
const (
	Stranger Role = iota // sees and does nothing
	User                 // manages its own hooks, creates hooks of UserTypes
	Admin                // every type, every hook
)

func (r Role) String() string {
	switch r {
	case User:
		return "user"
	case Admin:
		return "admin"
	}
	return "stranger"
}

// Access holds the operator's access lists from the configuration.
type Access struct {
	Admins    []string     // bare JIDs with every right
	Users     []string     // bare JIDs or bare domains allowed to use the bot
	UserTypes []hooks.Type // hook types users may create
}

// Role returns the role of the requester whose bare JID is bare.
// JIDs compare case-insensitively in their local and domain parts.
func (a Access) Role(bare string) Role {
	bare = strings.ToLower(bare)
	for _, admin := range a.Admins {
		if strings.ToLower(admin) == bare {
			return Admin
		}
	}
	domain := bare
	if i := strings.LastIndexByte(bare, '@'); i >= 0 {
		domain = bare[i+1:]
	}
	for _, u := range a.Users {
		u = strings.ToLower(u)
		if u == bare || u == domain {
			return User
		}
	}
	return Stranger
}

// Types returns the hook types role may create, default first.
func (a Access) Types(role Role) []hooks.Type {
	switch role {
	case Admin:
		return hooks.Types
	case User:
		var types []hooks.Type
		for _, t := range hooks.Types {
			if slices.Contains(a.UserTypes, t) {
				types = append(types, t)
			}
		}
		return types
	}
	return nil
}
