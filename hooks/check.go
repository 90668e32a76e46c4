package hooks

import (
	"context"
	"fmt"

	"hookbot/hooks/runtime"
)

// prepare checks h, fills in its defaults and compiles its code: the
// first step of Create, and the whole of Check.
func prepare(ctx context.Context, h Hook, hooksPath string, compile compileFunc) (Hook, program, error) {
	h, err := normalize(h)
	if err != nil {
		return Hook{}, nil, err
	}
	h.State = ""
	prog, err := compile(ctx, sourceOf(h, hooksPath))
	if err != nil {
		return Hook{}, nil, fmt.Errorf("hook does not compile:\n%w", err)
	}
	return h, prog, nil
}

// Check tells whether Create would accept the code of h, with packages
// of type go under hooksPath: it runs the same checks and compilation,
// and returns the same error. Nothing is created. An empty Owner stands
// for anyone.
func Check(ctx context.Context, h Hook, hooksPath string) error {
	if h.Owner == "" {
		h.Owner = "anyone@localhost"
	}
	_, prog, err := prepare(ctx, h, hooksPath, compileRuntime)
	if err != nil {
		return err
	}
	prog.Unload()
	return nil
}

// sourceOf says where the code of h is, for package runtime.
func sourceOf(h Hook, hooksPath string) runtime.Source {
	return runtime.Source{Type: string(h.Type), Arg: h.Arg, HooksPath: hooksPath}
}
