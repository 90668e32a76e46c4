package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"hookbot/hooks"
)

// FieldType is the type of a data form field (XEP-0004).
type FieldType string

// The field types the commands use.
const (
	TextSingle FieldType = "text-single"
	TextMulti  FieldType = "text-multi"
	JIDSingle  FieldType = "jid-single"
	Boolean    FieldType = "boolean"
	ListSingle FieldType = "list-single"
	ListMulti  FieldType = "list-multi"
)

// Choice is one option of a list field.
type Choice struct {
	Label, Value string
}

// Requester is who runs a command.
type Requester struct {
	JID  jid.JID // full JID for ad-hoc commands, as sent for chat
	Bare string  // bare JID, the owner of the hooks it creates
	Role Role
}

// Env is what a command definition sees when it computes defaults and
// options or runs: the registry, the access lists and the requester.
type Env struct {
	Hooks  Hooks
	Access Access
	Req    Requester
}

// Field is one input of a command: a data form field for ad-hoc commands
// and, when Flag or Long is set, an option for chat.
type Field struct {
	Var      string
	Type     FieldType
	Label    string
	Required bool
	// Default returns the default values for the requester; nil means none.
	Default func(e Env) []string
	// Options returns the choices of a list field for the requester.
	Options func(e Env) []Choice

	Flag  string // chat short flag without "-", e.g. "n"
	Long  string // chat long flag without "--", e.g. "node"
	Multi bool   // chat flag may repeat (list-multi)
}

// Stage is one form of a multi-stage command.
type Stage struct {
	Title, Instructions string
	Fields              []Field
}

// Result is what a command returns when it completes.
type Result struct {
	Note  string       // info note, e.g. "Hook abc created"
	Hook  *hooks.Hook  // a single hook shown as a result form
	Table []hooks.Hook // rows of a result table (list)
	List  bool         // the result is a table, even when empty
}

// UserError is an error the requester can fix: ad-hoc commands re-send
// the stage with an error note, chat replies with the usage.
type UserError struct {
	Msg string
}

func (e *UserError) Error() string { return e.Msg }

func userErrorf(format string, args ...any) error {
	return &UserError{Msg: fmt.Sprintf(format, args...)}
}

// Command is one command, defined once and served by both surfaces.
type Command struct {
	Node string // ad-hoc node and chat verb: "create"
	Name string // human name: "Create a hook"
	// Allowed reports whether the requester may see and run it.
	Allowed func(e Env) bool
	// Stages are the forms to fill, in order; none runs it at once.
	Stages []Stage
	// Chat is the chat syntax; Positional names the field that takes the
	// words after the options and Rest makes it the rest of the message
	// verbatim.
	Usage      string
	Positional string
	Rest       bool
	// Run executes the command with validated values.
	Run func(ctx context.Context, e Env, v Values) (Result, error)
}

// fields returns every field of every stage.
func (c *Command) fields() []Field {
	var fs []Field
	for _, s := range c.Stages {
		fs = append(fs, s.Fields...)
	}
	return fs
}

// field returns the field named v.
func (c *Command) field(v string) (Field, bool) {
	for _, f := range c.fields() {
		if f.Var == v {
			return f, true
		}
	}
	return Field{}, false
}

// Values are validated field values by var. A text-multi value is one
// string with newlines; a boolean is "1" or "0".
type Values map[string][]string

// Get returns the first value of v, or "".
func (vs Values) Get(v string) string {
	if len(vs[v]) == 0 {
		return ""
	}
	return vs[v][0]
}

// Bool reports whether v is "1".
func (vs Values) Bool(v string) bool { return vs.Get(v) == "1" }

// validate checks raw values (as submitted: several values for text-multi
// lines) against fields per XEP-0004 and returns them normalized, with
// defaults filled in for absent fields. The error is a *UserError.
func validate(e Env, fields []Field, raw map[string][]string) (Values, error) {
	out := make(Values)
	for _, f := range fields {
		vals, given := raw[f.Var]
		if !given && f.Default != nil {
			vals = f.Default(e)
		}
		norm, err := normalize(e, f, vals)
		if err != nil {
			return nil, err
		}
		if f.Required && (len(norm) == 0 || strings.TrimSpace(strings.Join(norm, "")) == "") {
			return nil, userErrorf("%s is required", f.Var)
		}
		if len(norm) > 0 {
			out[f.Var] = norm
		}
	}
	return out, nil
}

// normalize validates the values of one field.
func normalize(e Env, f Field, vals []string) ([]string, error) {
	single := func() (string, error) {
		switch len(vals) {
		case 0:
			return "", nil
		case 1:
			return vals[0], nil
		}
		return "", userErrorf("%s takes one value, got %d", f.Var, len(vals))
	}
	switch f.Type {
	case TextMulti:
		s := strings.Join(vals, "\n")
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	case Boolean:
		s, err := single()
		if err != nil {
			return nil, err
		}
		switch strings.TrimSpace(s) {
		case "":
			return nil, nil
		case "1", "true":
			return []string{"1"}, nil
		case "0", "false":
			return []string{"0"}, nil
		}
		return nil, userErrorf("%s must be 0, 1, true or false, not %q", f.Var, s)
	case JIDSingle:
		s, err := single()
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		j, err := jid.Parse(s)
		if err != nil {
			return nil, userErrorf("%s: %q is not a valid JID", f.Var, s)
		}
		return []string{j.String()}, nil
	case ListSingle, ListMulti:
		if f.Type == ListSingle {
			if _, err := single(); err != nil {
				return nil, err
			}
		}
		var opts []Choice
		if f.Options != nil {
			opts = f.Options(e)
		}
		var out []string
		for _, v := range vals {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if !slices.ContainsFunc(opts, func(o Choice) bool { return o.Value == v }) {
				return nil, userErrorf("%s: %q is not one of %s", f.Var, v, optionValues(opts))
			}
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out, nil
	default: // TextSingle
		s, err := single()
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(s, "\r\n") {
			return nil, userErrorf("%s must be a single line", f.Var)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
}

func optionValues(opts []Choice) string {
	const max = 10
	if len(opts) == 0 {
		return "(no choice allowed)"
	}
	var vs []string
	for i, o := range opts {
		if i == max {
			vs = append(vs, "…")
			break
		}
		vs = append(vs, o.Value)
	}
	return strings.Join(vs, ", ")
}
