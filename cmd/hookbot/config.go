package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"mellium.im/xmpp/jid"

	"hookbot/bot"
	"hookbot/commands"
	"hookbot/hooks"
)

// Config is hookbot's configuration (SPEC §2).
type Config struct {
	JID                jid.JID
	Password           string // from password or password_file; never logged
	Server             string // host:port, "" for SRV lookup
	Resource           string
	TLS                string // "starttls", "direct" or "none"
	CAFile             string
	InsecureSkipVerify bool
	Database           string
	Admins             []string
	Users              []string
	UserTypes          []hooks.Type
	HooksPath          string
	HookTimeout        time.Duration
	Workers            int
	CatchupItems       int
	LogLevel           slog.Level

	// commandOptions are extra options of the commands server, set by
	// tests only (e.g. a short idle timeout); not a configuration key.
	commandOptions []commands.Option
}

// LogValue keeps the password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("jid", c.JID.String()),
		slog.String("server", c.Server),
		slog.String("resource", c.Resource),
		slog.String("tls", c.TLS),
		slog.String("database", c.Database),
		slog.Int("workers", c.Workers),
	)
}

// A value kind of a configuration key.
type kind int

const (
	kString kind = iota
	kPath        // a string; relative paths in the file are relative to its directory
	kBool
	kInt
	kDuration
	kList
)

// keys lists every configuration key and its kind (SPEC §2).
var keys = map[string]kind{
	"jid":                  kString,
	"password":             kString,
	"password_file":        kPath,
	"server":               kString,
	"resource":             kString,
	"tls":                  kString,
	"ca_file":              kPath,
	"insecure_skip_verify": kBool,
	"database":             kPath,
	"admins":               kList,
	"users":                kList,
	"user_types":           kList,
	"hooks_path":           kPath,
	"hook_timeout":         kDuration,
	"workers":              kInt,
	"catchup_items":        kInt,
	"log_level":            kString,
}

// defaults are the values of keys nobody set.
func defaults() map[string]any {
	return map[string]any{
		"resource":      "hookbot",
		"tls":           "starttls",
		"database":      "hookbot.db",
		"hooks_path":    "hooks",
		"hook_timeout":  10 * time.Second,
		"workers":       runtime.NumCPU(),
		"catchup_items": 50,
		"log_level":     "info",
	}
}

// normKey turns a flag or environment name into a key: "ca-file" → "ca_file".
func normKey(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "-", "_"))
}

// LoadConfig reads the configuration: the TOML file (-c FILE, default
// hookbot.toml, which may be absent), then HOOKBOT_* variables of environ,
// then the --key flags of args; the later wins. It returns the non-flag
// arguments too.
func LoadConfig(args, environ []string) (Config, []string, error) {
	file, explicit := "hookbot.toml", false
	vals := defaults()
	flagVals := map[string]any{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		key := normKey(name)
		if key == "c" || key == "config" {
			if !hasVal {
				if i+1 >= len(args) {
					return Config{}, nil, fmt.Errorf("flag %s needs a file name", a)
				}
				i++
				val = args[i]
			}
			file, explicit = val, true
			continue
		}
		k, ok := keys[key]
		if !ok {
			return Config{}, nil, fmt.Errorf("unknown flag %s (no configuration key %q)", a, key)
		}
		if !hasVal {
			if k == kBool {
				val = "true"
			} else {
				if i+1 >= len(args) {
					return Config{}, nil, fmt.Errorf("flag %s needs a value", a)
				}
				i++
				val = args[i]
			}
		}
		v, err := parseString(k, val)
		if err != nil {
			return Config{}, nil, fmt.Errorf("flag %s: %w", a, err)
		}
		flagVals[key] = v
	}

	if err := readFile(file, explicit, vals); err != nil {
		return Config{}, nil, err
	}
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "HOOKBOT_") || strings.HasPrefix(name, "HOOKBOT_CTL_") || name == "HOOKBOT_INTEGRATION" {
			continue
		}
		key := normKey(strings.TrimPrefix(name, "HOOKBOT_"))
		k, ok := keys[key]
		if !ok {
			return Config{}, nil, fmt.Errorf("environment variable %s: unknown configuration key %q", name, key)
		}
		v, err := parseString(k, val)
		if err != nil {
			return Config{}, nil, fmt.Errorf("environment variable %s: %w", name, err)
		}
		set(vals, key, v)
	}
	for k, v := range flagVals {
		set(vals, k, v)
	}
	c, err := build(vals)
	return c, rest, err
}

// set sets key in vals. password and password_file replace each other,
// so that a flag or variable overrides either one from the file.
func set(vals map[string]any, key string, v any) {
	switch key {
	case "password":
		delete(vals, "password_file")
	case "password_file":
		delete(vals, "password")
	}
	vals[key] = v
}

// readFile merges the TOML file into vals. A missing default file is no
// error.
func readFile(file string, explicit bool, vals map[string]any) error {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return fmt.Errorf("configuration %s: %w", file, err)
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return fmt.Errorf("configuration %s: %w", file, err)
	}
	for key, rv := range raw {
		k, ok := keys[key]
		if !ok {
			return fmt.Errorf("configuration %s: unknown key %q", file, key)
		}
		v, err := parseTOML(k, rv)
		if err != nil {
			return fmt.Errorf("configuration %s: key %q: %w", file, key, err)
		}
		if p, ok := v.(string); ok && k == kPath && p != "" && !filepath.IsAbs(p) {
			v = filepath.Join(dir, p)
		}
		vals[key] = v
	}
	return nil
}

// parseString converts a flag or environment value to the kind's Go value.
func parseString(k kind, s string) (any, error) {
	switch k {
	case kBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean", s)
		}
		return b, nil
	case kInt:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case kDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as \"10s\"", s)
		}
		return d, nil
	case kList:
		var l []string
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				l = append(l, f)
			}
		}
		return l, nil
	}
	return s, nil
}

// parseTOML converts a decoded TOML value to the kind's Go value.
func parseTOML(k kind, v any) (any, error) {
	switch k {
	case kString, kPath:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("want a string, got %v", v)
	case kBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("want true or false, got %v", v)
	case kInt:
		if n, ok := v.(int64); ok {
			return int(n), nil
		}
		return nil, fmt.Errorf("want an integer, got %v", v)
	case kDuration:
		if s, ok := v.(string); ok {
			return parseString(k, s)
		}
		return nil, fmt.Errorf("want a duration string such as \"10s\", got %v", v)
	case kList:
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want an array of strings, got %v", v)
		}
		var out []string
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want an array of strings, got element %v", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown kind %d", k)
}

// build validates vals and makes the Config.
func build(vals map[string]any) (Config, error) {
	str := func(k string) string { s, _ := vals[k].(string); return s }
	list := func(k string) []string { l, _ := vals[k].([]string); return l }
	var c Config

	if str("jid") == "" {
		return c, errors.New("jid is required: the bot's account, e.g. jid = \"bot@example.org\"")
	}
	j, err := jid.Parse(str("jid"))
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return c, fmt.Errorf("jid %q: want a bare JID such as bot@example.org", str("jid"))
	}
	c.JID = j

	switch pw, pf := str("password"), str("password_file"); {
	case pw != "" && pf != "":
		return c, errors.New("password and password_file are both set: keep one")
	case pw != "":
		c.Password = pw
	case pf != "":
		data, err := os.ReadFile(pf)
		if err != nil {
			return c, fmt.Errorf("password_file: %w", err)
		}
		c.Password = strings.TrimRight(string(data), "\r\n")
		if c.Password == "" {
			return c, fmt.Errorf("password_file %s is empty", pf)
		}
	default:
		return c, errors.New("password or password_file is required")
	}

	c.Server = str("server")
	if c.Server != "" {
		if _, _, err := net.SplitHostPort(c.Server); err != nil {
			return c, fmt.Errorf("server %q: want host:port", c.Server)
		}
	}
	c.Resource = str("resource")
	if c.Resource == "" {
		return c, errors.New("resource must not be empty")
	}
	c.TLS = str("tls")
	switch c.TLS {
	case "starttls", "direct":
	case "none":
		if !bot.IsLoopback(c.Server) {
			return c, fmt.Errorf("tls = \"none\" is refused unless server is a loopback address (server = %q)", c.Server)
		}
	default:
		return c, fmt.Errorf("tls %q: want starttls, direct or none", c.TLS)
	}
	c.CAFile = str("ca_file")
	c.InsecureSkipVerify, _ = vals["insecure_skip_verify"].(bool)
	c.Database = str("database")
	if c.Database == "" {
		return c, errors.New("database must not be empty")
	}
	for _, key := range []string{"admins", "users"} {
		for _, s := range list(key) {
			if _, err := jid.Parse(s); err != nil || strings.Contains(s, "/") {
				return c, fmt.Errorf("%s: %q is not a bare JID", key, s)
			}
		}
	}
	c.Admins, c.Users = list("admins"), list("users")
	for _, s := range list("user_types") {
		if !slices.Contains(hooks.Types, hooks.Type(s)) {
			return c, fmt.Errorf("user_types: unknown hook type %q (want go, go_file or go_code)", s)
		}
		c.UserTypes = append(c.UserTypes, hooks.Type(s))
	}
	c.HooksPath = str("hooks_path")
	c.HookTimeout, _ = vals["hook_timeout"].(time.Duration)
	if c.HookTimeout <= 0 {
		return c, fmt.Errorf("hook_timeout %v: must be positive", c.HookTimeout)
	}
	c.Workers, _ = vals["workers"].(int)
	if c.Workers < 1 {
		return c, fmt.Errorf("workers %d: must be at least 1", c.Workers)
	}
	c.CatchupItems, _ = vals["catchup_items"].(int)
	if c.CatchupItems < 0 {
		return c, fmt.Errorf("catchup_items %d: must not be negative", c.CatchupItems)
	}
	if err := c.LogLevel.UnmarshalText([]byte(str("log_level"))); err != nil || !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(str("log_level"))) {
		return c, fmt.Errorf("log_level %q: want debug, info, warn or error", str("log_level"))
	}
	return c, nil
}
