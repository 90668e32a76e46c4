package runtime

import (
	"errors"
	"go/scanner"
	"regexp"
	"strings"
)

// Problem is one compile problem at a position in the hook's code.
type Problem struct {
	Pos string // "file:line:col", or "code:line:col" for go_code; "" when unknown
	Msg string
}

func (p Problem) String() string {
	if p.Pos == "" {
		return p.Msg
	}
	return p.Pos + ": " + p.Msg
}

// Error is a compile error: every problem found, in source order, one per
// line of its message.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// posPrefix matches the "file:line:col: " that yaegi puts before a message.
var posPrefix = regexp.MustCompile(`^(.+?:\d+:\d+): (?s)(.*)$`)

// importPrefix matches what yaegi puts before an error in an imported
// package.
var importPrefix = regexp.MustCompile(`^(?:[^ ]*:)?\d+:\d+: import "[^"]*" error: `)

// yaegiProblems turns an error of yaegi into problems, with the names of
// the in-memory files replaced by the names users know.
func yaegiProblems(err error, names map[string]string) []Problem {
	var list scanner.ErrorList
	if errors.As(err, &list) {
		ps := make([]Problem, 0, len(list))
		for _, e := range list {
			ps = append(ps, Problem{Pos: rename(e.Pos.String(), names), Msg: e.Msg})
		}
		return ps
	}
	var ps []Problem
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		for {
			m := importPrefix.FindStringIndex(line)
			if m == nil {
				break
			}
			line = line[m[1]:]
		}
		line = rename(line, names)
		if m := posPrefix.FindStringSubmatch(line); m != nil {
			ps = append(ps, Problem{Pos: m[1], Msg: m[2]})
		} else if line != "" {
			ps = append(ps, Problem{Msg: line})
		}
	}
	return ps
}

// rename replaces in-memory file names by the names users know.
func rename(s string, names map[string]string) string {
	for from, to := range names {
		s = strings.ReplaceAll(s, from, to)
	}
	return s
}
