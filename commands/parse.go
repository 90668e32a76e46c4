package commands

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Invocation is a parsed chat command line (SPEC §6).
type Invocation struct {
	Command string              // "help", "create", "delete" or "list"
	Values  map[string][]string // raw values by field var
	Output  string              // list: "simple" (default) or "json"
}

// ParseError is a chat command line that does not parse. Its message
// ends with the usage line(s).
type ParseError struct {
	Msg   string
	Usage string
}

func (e *ParseError) Error() string { return e.Msg + "\nusage: " + e.Usage }

// Usage returns the usage lines of every chat command.
func Usage() string {
	lines := []string{"help"}
	for _, c := range definitions() {
		lines = append(lines, c.Usage)
	}
	return strings.Join(lines, "\n")
}

// scanner yields the words of a command line.
type scanner interface {
	// next returns the next word, unquoted; ok is false at the end.
	next() (word string, ok bool, err error)
	// atFlag reports whether the next word is an option ("-x", "--x").
	atFlag() bool
	// rest consumes and returns everything after the current word.
	rest() string
}

// ParseChat parses a chat message body. For create, ARG is the rest of the
// message after the options: after the options' line ends (or the spaces
// after the last option), verbatim, so go_code may span several lines.
// Flag values may be quoted with ' or ".
func ParseChat(body string) (Invocation, error) {
	return parse(&textScanner{s: body})
}

// ParseArgs parses a command line already split into words, as a shell
// does: args[0] is "help" or "hook". For create, ARG is the remaining
// words joined with spaces; "-" is a word, not an option (hookbot ctl
// reads ARG from standard input then).
func ParseArgs(args []string) (Invocation, error) {
	return parse(&argScanner{args: args})
}

func parse(sc scanner) (Invocation, error) {
	bad := func(format string, args ...any) error {
		return &ParseError{Msg: fmt.Sprintf(format, args...), Usage: Usage()}
	}
	w, ok, err := sc.next()
	switch {
	case err != nil:
		return Invocation{}, bad("%v", err)
	case !ok:
		return Invocation{}, bad("empty command")
	case w == "help":
		return Invocation{Command: "help"}, nil
	case w != "hook":
		return Invocation{}, bad("unknown command %q", w)
	}
	w, ok, err = sc.next()
	if err != nil {
		return Invocation{}, bad("%v", err)
	}
	var c *Command
	for _, d := range definitions() {
		if ok && d.Node == w {
			c = d
		}
	}
	if c == nil {
		return Invocation{}, bad("unknown command %q: use hook create, delete or list", "hook "+w)
	}
	inv := Invocation{Command: c.Node, Values: make(map[string][]string)}
	usage := func(format string, args ...any) error {
		return &ParseError{Msg: fmt.Sprintf(format, args...), Usage: c.Usage}
	}
	for sc.atFlag() {
		w, _, err := sc.next()
		if err != nil {
			return Invocation{}, usage("%v", err)
		}
		if w == "--" {
			break
		}
		name, val, hasVal := strings.Cut(w, "=")
		if !strings.HasPrefix(name, "--") {
			hasVal = false
			if len(w) > 2 { // -nNODE
				name, val, hasVal = w[:2], w[2:], true
			}
		}
		f, ok := chatFlag(c, name)
		if !ok {
			return Invocation{}, usage("unknown option %s", name)
		}
		if f.Type == Boolean {
			if hasVal {
				return Invocation{}, usage("option %s takes no value", name)
			}
			inv.Values[f.Var] = []string{"1"}
			continue
		}
		if !hasVal {
			val, ok, err = sc.next()
			if err != nil {
				return Invocation{}, usage("%v", err)
			}
			if !ok {
				return Invocation{}, usage("option %s needs a value", name)
			}
		}
		if _, dup := inv.Values[f.Var]; dup && !f.Multi && f.Var != outputVar {
			return Invocation{}, usage("option %s given twice", name)
		}
		if f.Var == outputVar {
			if val != "simple" && val != "json" {
				return Invocation{}, usage("output must be simple or json, not %q", val)
			}
			inv.Output = val
			continue
		}
		inv.Values[f.Var] = append(inv.Values[f.Var], val)
	}
	switch {
	case c.Positional == "":
		if w, ok, _ := sc.next(); ok {
			return Invocation{}, usage("unexpected argument %q", w)
		}
	case c.Rest:
		if r := sc.rest(); r != "" {
			inv.Values[c.Positional] = []string{r}
		}
	default:
		for {
			w, ok, err := sc.next()
			if err != nil {
				return Invocation{}, usage("%v", err)
			}
			if !ok {
				break
			}
			inv.Values[c.Positional] = append(inv.Values[c.Positional], w)
		}
	}
	if c.Node == "list" && inv.Output == "" {
		inv.Output = "simple"
	}
	return inv, nil
}

// outputVar is the chat-only -O/--output option of list.
const outputVar = "-output"

// chatFlag returns the field that the option name ("-n", "--node") sets.
func chatFlag(c *Command, name string) (Field, bool) {
	if c.Node == "list" && (name == "-O" || name == "--output") {
		return Field{Var: outputVar, Type: ListSingle}, true
	}
	for _, f := range c.fields() {
		if (f.Flag != "" && name == "-"+f.Flag) || (f.Long != "" && name == "--"+f.Long) {
			return f, true
		}
	}
	return Field{}, false
}

// FormatChat writes inv back as a chat command line that ParseChat reads
// as inv. It fails for a value it cannot quote (one holding spaces and
// both quote characters).
func FormatChat(inv Invocation) (string, error) {
	if inv.Command == "help" {
		return "help", nil
	}
	var c *Command
	for _, d := range definitions() {
		if d.Node == inv.Command {
			c = d
		}
	}
	if c == nil {
		return "", fmt.Errorf("format chat: unknown command %q", inv.Command)
	}
	var b strings.Builder
	b.WriteString("hook " + c.Node)
	for _, f := range c.fields() {
		if f.Flag == "" && f.Long == "" {
			continue
		}
		flag := "-" + f.Flag
		if f.Flag == "" {
			flag = "--" + f.Long
		}
		for _, v := range inv.Values[f.Var] {
			if f.Type == Boolean {
				if v == "1" {
					b.WriteString(" " + flag)
				}
				continue
			}
			q, err := quote(v)
			if err != nil {
				return "", fmt.Errorf("format chat: %s: %w", f.Var, err)
			}
			b.WriteString(" " + flag + " " + q)
		}
	}
	if inv.Output != "" && inv.Output != "simple" {
		b.WriteString(" -O " + inv.Output)
	}
	if c.Positional != "" {
		vs := inv.Values[c.Positional]
		if c.Rest {
			if len(vs) > 0 {
				b.WriteString(" --\n" + strings.Join(vs, "\n"))
			}
		} else if len(vs) > 0 {
			b.WriteString(" --")
			for _, v := range vs {
				q, err := quote(v)
				if err != nil {
					return "", fmt.Errorf("format chat: %s: %w", c.Positional, err)
				}
				b.WriteString(" " + q)
			}
		}
	}
	return b.String(), nil
}

// quote quotes v when it holds spaces, is empty or starts with a quote.
func quote(v string) (string, error) {
	if v != "" && !strings.ContainsFunc(v, unicode.IsSpace) && v[0] != '"' && v[0] != '\'' {
		return v, nil
	}
	for _, q := range []string{`"`, `'`} {
		if !strings.Contains(v, q) {
			return q + v + q, nil
		}
	}
	return "", fmt.Errorf("cannot quote %q", v)
}

// textScanner scans a message body.
type textScanner struct {
	s   string
	pos int
}

func (t *textScanner) skipSpace() {
	for t.pos < len(t.s) {
		r, n := decodeRune(t.s[t.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		t.pos += n
	}
}

func (t *textScanner) atFlag() bool {
	save := t.pos
	t.skipSpace()
	at := t.pos+1 < len(t.s) && t.s[t.pos] == '-' && !isSpaceByte(t.s[t.pos+1])
	t.pos = save
	return at
}

func (t *textScanner) next() (string, bool, error) {
	t.skipSpace()
	if t.pos >= len(t.s) {
		return "", false, nil
	}
	if q := t.s[t.pos]; q == '"' || q == '\'' {
		end := strings.IndexByte(t.s[t.pos+1:], q)
		if end < 0 {
			return "", false, fmt.Errorf("unclosed quote %c", q)
		}
		w := t.s[t.pos+1 : t.pos+1+end]
		t.pos += end + 2
		if t.pos < len(t.s) {
			if r, _ := decodeRune(t.s[t.pos:]); !unicode.IsSpace(r) {
				return "", false, fmt.Errorf("text right after closing quote %c", q)
			}
		}
		return w, true, nil
	}
	start := t.pos
	for t.pos < len(t.s) {
		r, n := decodeRune(t.s[t.pos:])
		if unicode.IsSpace(r) {
			break
		}
		t.pos += n
	}
	return t.s[start:t.pos], true, nil
}

// rest skips the blanks after the last word and at most one line end,
// and returns the rest without trailing space: line numbers in ARG count
// from the line after the options.
func (t *textScanner) rest() string {
	for t.pos < len(t.s) && (t.s[t.pos] == ' ' || t.s[t.pos] == '\t') {
		t.pos++
	}
	if strings.HasPrefix(t.s[t.pos:], "\r\n") {
		t.pos += 2
	} else if strings.HasPrefix(t.s[t.pos:], "\n") {
		t.pos++
	}
	r := strings.TrimRightFunc(t.s[t.pos:], unicode.IsSpace)
	t.pos = len(t.s)
	return r
}

// argScanner scans words split by a shell.
type argScanner struct {
	args []string
}

func (a *argScanner) atFlag() bool {
	return len(a.args) > 0 && len(a.args[0]) > 1 && a.args[0][0] == '-'
}

func (a *argScanner) next() (string, bool, error) {
	if len(a.args) == 0 {
		return "", false, nil
	}
	w := a.args[0]
	a.args = a.args[1:]
	return w, true, nil
}

func (a *argScanner) rest() string {
	r := strings.Join(a.args, " ")
	a.args = nil
	return r
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

func isSpaceByte(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}
