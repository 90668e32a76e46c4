package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"hookbot/hooks"
)

const checkUsage = "usage: hookbot check [-c FILE] [-t go|go_file|go_code] ARG   (ARG - reads standard input)"

// cmdCheck compiles a hook offline exactly as create would (SPEC §1).
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	typ, file, explicit := string(hooks.TypeGo), "hookbot.toml", false
	var arg []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case a == "-" || !strings.HasPrefix(a, "-"):
			arg = append(arg, a)
			continue
		case name == "t" || name == "type" || name == "c" || name == "config":
			if !hasVal {
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "hookbot check: flag %s needs a value\n%s\n", a, checkUsage)
					return 1
				}
				i++
				val = args[i]
			}
			if name == "t" || name == "type" {
				typ = val
			} else {
				file, explicit = val, true
			}
		default:
			fmt.Fprintf(stderr, "hookbot check: unknown flag %s\n%s\n", a, checkUsage)
			return 1
		}
	}
	if len(arg) != 1 {
		fmt.Fprintf(stderr, "hookbot check: want exactly one ARG\n%s\n", checkUsage)
		return 1
	}
	hooksPath, err := configHooksPath(file, explicit)
	if err != nil {
		fmt.Fprintf(stderr, "hookbot check: %v\n", err)
		return 1
	}
	h := hooks.Hook{Node: "check", Type: hooks.Type(typ), Arg: arg[0]}
	if h.Type == hooks.TypeGoCode && h.Arg == "-" {
		code, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintf(stderr, "hookbot check: read standard input: %v\n", err)
			return 1
		}
		h.Arg = string(code)
	}
	if err := hooks.Check(ctx, h, hooksPath); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// configHooksPath returns hooks_path from the environment or the file
// (without requiring the rest of a valid run configuration).
func configHooksPath(file string, explicit bool) (string, error) {
	if p := os.Getenv("HOOKBOT_HOOKS_PATH"); p != "" {
		return p, nil
	}
	vals := defaults()
	if err := readFile(file, explicit, vals); err != nil {
		return "", err
	}
	p, _ := vals["hooks_path"].(string)
	return p, nil
}
