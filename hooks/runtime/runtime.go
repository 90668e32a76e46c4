// Package runtime compiles hook code with yaegi and runs it.
//
// Compile reads and checks the code of a hook once; Program.Run calls its
// Hook function under a context deadline.
package runtime

import (
	"context"
	"errors"

	"hookbot/hooks/hookbot"
)

// Source says where the code of a hook comes from.
type Source struct {
	Type      string // "go", "go_file" or "go_code"
	Arg       string // import path, file path (absolute) or code
	HooksPath string // directory holding src/<import path>/ for type "go"
}

// Program is compiled hook code. It is safe for concurrent use; runs of one
// Program are serialized.
type Program struct{}

// Compile reads and compiles the code src names. A compile error lists
// every problem as file:line:col (code:line:col for go_code).
func Compile(ctx context.Context, src Source) (*Program, error) {
	return nil, errors.New("runtime: not implemented")
}

// Run calls Hook(ctx, bot, item). It returns the hook's error, a panic as
// an error, or ctx's error when the run was stopped.
func (p *Program) Run(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {
	return errors.New("runtime: not implemented")
}

// Unload frees the interpreter; the next Run loads it again.
func (p *Program) Unload() {}
