package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"mellium.im/xmpp/jid"

	"hookbot/bot"
	"hookbot/commands"
)

// Exit statuses of hookbot ctl (SPEC §7).
const (
	ctlOK      = 0 // done
	ctlUsage   = 1 // usage error
	ctlConn    = 2 // connection or authentication error, or the bot is unreachable
	ctlRefused = 3 // the bot refused the command
	ctlTimeout = 4 // --timeout expired
)

const ctlUsageText = `usage: hookbot ctl [--jid JID] [--password P | --password-file F] [--server HOST:PORT]
                   [--tls starttls|direct|none] [--ca-file F] [--insecure-skip-verify]
                   [--bot JID] [--timeout 30s]  hook create|delete|list ...

  hook create -n NODE [-s SERVICE] [-t TYPE] [-e EVENT]... [-P] [--from-file F] ARG|-
  hook delete [-n NODE] [-s SERVICE] [-t TYPE] [-a ARG] [ID]...
  hook list [-O simple|json|json-raw]

Every connection flag may also be given as an environment variable
HOOKBOT_CTL_<FLAG> (HOOKBOT_CTL_JID, HOOKBOT_CTL_PASSWORD, HOOKBOT_CTL_CA_FILE, …);
flags win. Exit status: 0 done, 1 usage error, 2 connection or authentication
error, 3 the bot refused, 4 timeout.`

// ctlIO is what hookbot ctl reads and writes, injected by tests.
type ctlIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// ctlOptions are the connection options of hookbot ctl.
type ctlOptions struct {
	JID                jid.JID
	Password           string
	Server             string
	TLS                string
	CAFile             string
	InsecureSkipVerify bool
	Bot                jid.JID // bare or full
	Timeout            time.Duration
}

// ctlRequest is the hook command to run.
type ctlRequest struct {
	Inv commands.Invocation
	Raw bool // list: json-raw (one line)
}

// usageError is a mistake in the command line: exit status 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func cmdCtl(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runCtl(ctx, args, ctlIO{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv})
}

// runCtl runs hookbot ctl with args (after "ctl") and returns its exit
// status.
func runCtl(ctx context.Context, args []string, cio ctlIO) int {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(cio.Stdout, ctlUsageText)
		return ctlOK
	}
	opts, rest, err := parseCtlFlags(args, cio.Getenv)
	if err == nil {
		var req ctlRequest
		req, err = parseCtlCommand(rest, cio.Stdin)
		if err == nil {
			return execCtl(ctx, opts, req, cio)
		}
	}
	fmt.Fprintf(cio.Stderr, "hookbot ctl: %v\n%s\n", err, ctlUsageText)
	return ctlUsage
}

// ctlEnv is the environment variable of a connection flag:
// "ca-file" → HOOKBOT_CTL_CA_FILE.
func ctlEnv(flagName string) string {
	return "HOOKBOT_CTL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseCtlFlags parses the connection flags, with values from the
// environment for those not given, and returns the words after them.
func parseCtlFlags(args []string, getenv func(string) string) (ctlOptions, []string, error) {
	fs := flag.NewFlagSet("hookbot ctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		jidS, password, passwordFile, server, tlsMode, caFile, botS, timeout string
		insecure                                                             bool
	)
	fs.StringVar(&jidS, "jid", "", "")
	fs.StringVar(&password, "password", "", "")
	fs.StringVar(&passwordFile, "password-file", "", "")
	fs.StringVar(&server, "server", "", "")
	fs.StringVar(&tlsMode, "tls", "", "")
	fs.StringVar(&caFile, "ca-file", "", "")
	fs.BoolVar(&insecure, "insecure-skip-verify", false, "")
	fs.StringVar(&botS, "bot", "", "")
	fs.StringVar(&timeout, "timeout", "", "")
	if err := fs.Parse(args); err != nil {
		return ctlOptions{}, nil, usagef("%v", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	// value returns the flag's value, or its environment variable's.
	value := func(name, v string) string {
		if given[name] {
			return v
		}
		return getenv(ctlEnv(name))
	}

	var opts ctlOptions
	var err error
	if s := value("jid", jidS); s == "" {
		return opts, nil, usagef("--jid (or %s) is required", ctlEnv("jid"))
	} else if opts.JID, err = jid.Parse(s); err != nil {
		return opts, nil, usagef("--jid %q: %v", s, err)
	}
	if s := value("bot", botS); s == "" {
		return opts, nil, usagef("--bot (or %s) is required", ctlEnv("bot"))
	} else if opts.Bot, err = jid.Parse(s); err != nil {
		return opts, nil, usagef("--bot %q: %v", s, err)
	}

	// A password flag overrides both environment variables.
	pw, pwFile := value("password", password), value("password-file", passwordFile)
	switch {
	case given["password"] && given["password-file"]:
		return opts, nil, usagef("give --password or --password-file, not both")
	case given["password"]:
		pwFile = ""
	case given["password-file"]:
		pw = ""
	case pw != "" && pwFile != "":
		return opts, nil, usagef("set %s or %s, not both", ctlEnv("password"), ctlEnv("password-file"))
	}
	switch {
	case pw != "":
		opts.Password = pw
	case pwFile != "":
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return opts, nil, usagef("password file: %v", err)
		}
		opts.Password = strings.TrimRight(string(b), "\r\n")
	}
	if opts.Password == "" {
		return opts, nil, usagef("--password or --password-file (or %s, %s) is required", ctlEnv("password"), ctlEnv("password-file"))
	}

	opts.Server = value("server", server)
	opts.TLS = value("tls", tlsMode)
	if opts.TLS == "" {
		opts.TLS = "starttls"
	}
	switch opts.TLS {
	case "starttls", "direct":
	case "none":
		if !bot.IsLoopback(opts.Server) {
			return opts, nil, usagef("--tls none is refused unless --server is a loopback address (server %q)", opts.Server)
		}
	default:
		return opts, nil, usagef("--tls %q: want starttls, direct or none", opts.TLS)
	}
	opts.CAFile = value("ca-file", caFile)
	if given["insecure-skip-verify"] {
		opts.InsecureSkipVerify = insecure
	} else if s := getenv(ctlEnv("insecure-skip-verify")); s != "" {
		if opts.InsecureSkipVerify, err = strconv.ParseBool(s); err != nil {
			return opts, nil, usagef("%s=%q: want true or false", ctlEnv("insecure-skip-verify"), s)
		}
	}
	opts.Timeout = 30 * time.Second
	if s := value("timeout", timeout); s != "" {
		if opts.Timeout, err = time.ParseDuration(s); err != nil || opts.Timeout <= 0 {
			return opts, nil, usagef("--timeout %q: want a positive duration such as 30s", s)
		}
	}
	return opts, fs.Args(), nil
}

// parseCtlCommand parses the hook command with the chat grammar
// (commands.ParseArgs), plus what only ctl has: -O json-raw for list,
// and for create --from-file F or ARG "-" (read from stdin).
func parseCtlCommand(args []string, stdin io.Reader) (ctlRequest, error) {
	if len(args) == 0 {
		return ctlRequest{}, usagef("no command: want hook create, delete or list")
	}
	if args[0] != "hook" {
		return ctlRequest{}, usagef("unknown command %q: want hook create, delete or list", args[0])
	}
	args = append([]string(nil), args...)
	var req ctlRequest
	var fromFile string
	var hasFromFile bool
	if len(args) > 1 {
		switch args[1] {
		case "list":
			req.Raw = rewriteJSONRaw(args[2:])
		case "create":
			var err error
			args, fromFile, hasFromFile, err = cutFromFile(args)
			if err != nil {
				return ctlRequest{}, err
			}
		}
	}
	inv, err := commands.ParseArgs(args)
	if err != nil {
		var perr *commands.ParseError
		if errors.As(err, &perr) {
			return ctlRequest{}, usagef("%s", perr.Msg)
		}
		return ctlRequest{}, usagef("%v", err)
	}
	switch inv.Command {
	case "help":
		return ctlRequest{}, usagef("help is a chat command; see the usage below")
	case "create":
		arg := strings.Join(inv.Values["arg"], "\n")
		switch {
		case hasFromFile && arg != "":
			return ctlRequest{}, usagef("give ARG or --from-file, not both")
		case hasFromFile:
			b, err := os.ReadFile(fromFile)
			if err != nil {
				return ctlRequest{}, usagef("--from-file: %v", err)
			}
			arg = string(b)
		case arg == "-":
			b, err := io.ReadAll(stdin)
			if err != nil {
				return ctlRequest{}, usagef("read ARG from standard input: %v", err)
			}
			arg = string(b)
		}
		arg = strings.TrimRightFunc(strings.ReplaceAll(arg, "\r\n", "\n"), unicode.IsSpace)
		if arg == "" {
			return ctlRequest{}, usagef("hook create needs ARG (or - to read it from standard input, or --from-file F)")
		}
		inv.Values["arg"] = []string{arg}
		if len(inv.Values["node"]) == 0 {
			return ctlRequest{}, usagef("hook create needs -n NODE")
		}
	case "delete":
		if len(inv.Values["hooks"]) == 0 && len(inv.Values["node"]) == 0 {
			return ctlRequest{}, usagef("hook delete needs hook ids or -n NODE")
		}
	}
	req.Inv = inv
	return req, nil
}

// rewriteJSONRaw turns the value json-raw of -O in the options of args
// into json, which commands.ParseArgs knows, and reports whether it did.
func rewriteJSONRaw(args []string) bool {
	raw := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			return raw
		case (a == "-O" || a == "--output") && i+1 < len(args):
			i++
			raw = args[i] == "json-raw"
			if raw {
				args[i] = "json"
			}
		case a == "-Ojson-raw" || a == "--output=json-raw":
			args[i], raw = strings.TrimSuffix(a, "-raw"), true
		case strings.HasPrefix(a, "-O") || strings.HasPrefix(a, "--output="):
			raw = false
		}
	}
	return raw
}

// cutFromFile removes --from-file F (or --from-file=F) from the options
// of a create command line ("hook create ..."), returning F.
func cutFromFile(args []string) (rest []string, file string, found bool, err error) {
	rest = append([]string(nil), args[:2]...)
	i := 2
	for ; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || a == "--" {
			break
		}
		switch {
		case a == "--from-file":
			if i+1 >= len(args) {
				return nil, "", false, usagef("--from-file needs a file")
			}
			if found {
				return nil, "", false, usagef("--from-file given twice")
			}
			file, found = args[i+1], true
			i++
			continue
		case strings.HasPrefix(a, "--from-file="):
			if found {
				return nil, "", false, usagef("--from-file given twice")
			}
			file, found = strings.TrimPrefix(a, "--from-file="), true
			continue
		}
		rest = append(rest, a)
		// Every option but -P/--persistent takes a value, as the next
		// word unless it is attached (-nNODE, --node=NODE).
		attached := (len(a) > 2 && a[1] != '-') || strings.Contains(a, "=")
		if a != "-P" && a != "--persistent" && !attached && i+1 < len(args) {
			i++
			rest = append(rest, args[i])
		}
	}
	return append(rest, args[i:]...), file, found, nil
}
