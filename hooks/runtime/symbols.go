package runtime

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/traefik/yaegi/interp"

	"hookbot/hooks/hookbot"
	"hookbot/hooks/runtime/internal/stdsyms"
)

// Package internal/stdsyms holds the symbol tables of the standard library,
// built per package when a hook imports it; genstd writes it from the
// packages and names of yaegi's stdlib.
//
//go:generate go run ./internal/genstd

// forbiddenImports are the packages hook code may not import. yaegi's
// standard library (and so stdsyms) does not hold them; they are listed so
// that the parser check refuses them with a position instead of "unable
// to find source".
var forbiddenImports = map[string]bool{
	"unsafe":  true,
	"syscall": true,
}

// hiddenSymbols are standard library functions that would run script code
// on a goroutine of their own, where a panic kills the host process, or
// outside any hook run.
var hiddenSymbols = map[string][]string{
	"time/time":       {"AfterFunc"},
	"context/context": {"AfterFunc"},
	"runtime/runtime": {"SetFinalizer"},
}

// needsFixStdlib lists the packages that yaegi patches (log.Fatal that
// would exit, os environment, …) or completes with generic source code
// (slices, maps, …) when the symbols given to Use include "fmt/fmt". That
// costs about 0.9 MB per interpreter, so it is only done for hooks that
// import one of them.
var needsFixStdlib = map[string]bool{
	"cmp": true, "flag": true, "log": true, "maps": true, "math/bits": true,
	"os": true, "slices": true, "sync": true, "sync/atomic": true,
}

// symbols returns the packages a hook that imports the standard packages
// std may use: those of yaegi's standard library (as stdsyms builds them),
// minus forbiddenImports and hiddenSymbols, plus package hookbot. Hooks cannot import what they
// did not declare, so only the packages of std are given to the
// interpreter: each one costs memory in every interpreter.
func symbols(std map[string]bool) interp.Exports {
	exports := interp.Exports{
		"hookbot/hookbot": hookbotSymbols(),
	}
	full := false
	for p := range std {
		full = full || needsFixStdlib[p]
	}
	for p := range std {
		key, ok := stdsyms.Key(p)
		if !ok || forbiddenImports[p] {
			continue
		}
		syms, _ := stdsyms.Symbols(key) // a new table: ours to change
		for _, name := range hiddenSymbols[key] {
			delete(syms, name)
		}
		exports[key] = syms
	}
	mapTypes := stdsyms.MapTypes() // a new map: ours to change
	if full {
		// Use patches fmt, log, os… and compiles the generics when it
		// sees "fmt/fmt".
		if exports["fmt/fmt"] == nil {
			exports["fmt/fmt"], _ = stdsyms.Symbols("fmt/fmt")
		}
	} else if std["fmt"] {
		// Register fmt under a key that Use resolves to import path
		// "fmt" without taking it for the standard library, and do
		// what it would have done to fmt ourselves: print to nowhere,
		// scan nothing.
		exports["./fmt/fmt"] = quietFmt(exports["fmt/fmt"], mapTypes)
		delete(exports, "fmt/fmt")
	}
	exports["."] = map[string]reflect.Value{"MapTypes": reflect.ValueOf(mapTypes)}
	return exports
}

// quietFmt changes the table m of package fmt so that Print* write to
// nowhere and Scan* read nothing, and adds the MapTypes entries of these
// replacements to mapTypes (so that script values implementing Stringer
// or error print as such). It returns m.
func quietFmt(m map[string]reflect.Value, mapTypes map[reflect.Value][]reflect.Type) map[string]reflect.Value {
	empty := strings.NewReader("")
	repl := map[string]reflect.Value{
		"Print":   reflect.ValueOf(func(a ...interface{}) (int, error) { return fmt.Fprint(io.Discard, a...) }),
		"Printf":  reflect.ValueOf(func(f string, a ...interface{}) (int, error) { return fmt.Fprintf(io.Discard, f, a...) }),
		"Println": reflect.ValueOf(func(a ...interface{}) (int, error) { return fmt.Fprintln(io.Discard, a...) }),
		"Scan":    reflect.ValueOf(func(a ...interface{}) (int, error) { return fmt.Fscan(empty, a...) }),
		"Scanf":   reflect.ValueOf(func(f string, a ...interface{}) (int, error) { return fmt.Fscanf(empty, f, a...) }),
		"Scanln":  reflect.ValueOf(func(a ...interface{}) (int, error) { return fmt.Fscanln(empty, a...) }),
	}
	for name, v := range repl {
		mapTypes[v] = mapTypes[m[name]]
		m[name] = v
	}
	return m
}

// hookbotSymbols is the yaegi symbol table of package hookbot, as
// `yaegi extract` would write it.
func hookbotSymbols() map[string]reflect.Value {
	return map[string]reflect.Value{
		// constants
		"KindItems":   reflect.ValueOf(hookbot.KindItems),
		"KindRetract": reflect.ValueOf(hookbot.KindRetract),
		"KindPurge":   reflect.ValueOf(hookbot.KindPurge),
		"KindDelete":  reflect.ValueOf(hookbot.KindDelete),

		// types
		"Item": reflect.ValueOf((*hookbot.Item)(nil)),
		"Bot":  reflect.ValueOf((*hookbot.Bot)(nil)),

		// interface wrappers, so that script types may implement Bot
		"_Bot": reflect.ValueOf((*botWrapper)(nil)),
	}
}

// botWrapper lets a type defined in hook code implement hookbot.Bot.
type botWrapper struct {
	IValue   interface{}
	WJID     func() string
	WLog     func(msg string)
	WPublish func(service, node, id, payload string) (string, error)
	WSend    func(to, body string) error
}

func (w botWrapper) JID() string    { return w.WJID() }
func (w botWrapper) Log(msg string) { w.WLog(msg) }
func (w botWrapper) Publish(service, node, id, payload string) (string, error) {
	return w.WPublish(service, node, id, payload)
}
func (w botWrapper) Send(to, body string) error { return w.WSend(to, body) }
