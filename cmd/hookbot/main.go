// Command hookbot is an XMPP bot that runs Go hooks when PubSub nodes
// publish. See README.md and SPEC §1.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

// version is set with -ldflags "-X main.version=...".
var version = "devel"

// A command is one hookbot subcommand.
type command struct {
	usage string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is the dispatch table; add a subcommand here.
func subcommands() map[string]command {
	return map[string]command{
		"run":     {"hookbot run [-c FILE] [--key value]...", cmdRun},
		"ctl":     {"hookbot ctl [conn flags] hook create|delete|list ...", cmdCtl},
		"check":   {"hookbot check [-c FILE] [-t TYPE] ARG", cmdCheck},
		"version": {"hookbot version", cmdVersion},
	}
}

func main() {
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs hookbot with args and returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := subcommands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	c, ok := cmds[args[0]]
	if !ok {
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			usage(stdout, cmds)
			return 0
		}
		fmt.Fprintf(stderr, "hookbot: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage:")
	for _, name := range []string{"run", "ctl", "check", "version"} {
		if c, ok := cmds[name]; ok {
			fmt.Fprintf(w, "  %s\n", c.usage)
		}
	}
}

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "hookbot %s\n", version)
	return 0
}
