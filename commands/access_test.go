package commands

import (
	"slices"
	"testing"

	"hookbot/hooks"
)

func TestAccessRole(t *testing.T) {
	a := Access{
		Admins: []string{"admin@example.org"},
		Users:  []string{"user@example.org", "trusted.example"},
	}
	for _, tc := range []struct {
		bare string
		want Role
	}{
		{"admin@example.org", Admin},
		{"Admin@Example.org", Admin},
		{"user@example.org", User},
		{"anyone@trusted.example", User},
		{"trusted.example", User},
		{"other@example.org", Stranger},
		{"example.org", Stranger},
		{"", Stranger},
	} {
		if got := a.Role(tc.bare); got != tc.want {
			t.Errorf("Role(%q) = %v, want %v", tc.bare, got, tc.want)
		}
	}
}

func TestAccessTypes(t *testing.T) {
	a := Access{UserTypes: []hooks.Type{hooks.TypeGoCode}}
	if got := a.Types(Admin); !slices.Equal(got, hooks.Types) {
		t.Errorf("admin types = %v", got)
	}
	if got := a.Types(User); !slices.Equal(got, []hooks.Type{hooks.TypeGoCode}) {
		t.Errorf("user types = %v", got)
	}
	if got := a.Types(Stranger); got != nil {
		t.Errorf("stranger types = %v", got)
	}
	if got := (Access{}).Types(User); got != nil {
		t.Errorf("user types with none allowed = %v", got)
	}
}
