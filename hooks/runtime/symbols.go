package runtime

import (
	"reflect"
	"strings"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"hookbot/hooks/hookbot"
)

// forbiddenImports are the packages hook code may not import. yaegi's
// stdlib.Symbols does not hold them; they are listed so that the parser
// check refuses them with a position instead of "unable to find source".
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

// symbols returns the packages hook code may import: yaegi's standard
// library minus forbiddenImports and hiddenSymbols, plus package hookbot.
// The maps are fresh: interp.Use may keep them.
func symbols() interp.Exports {
	exports := make(interp.Exports, len(stdlib.Symbols)+1)
	for key, syms := range stdlib.Symbols {
		pkg := key
		if i := strings.LastIndex(key, "/"); i >= 0 {
			pkg = key[:i]
		}
		if forbiddenImports[pkg] || strings.HasPrefix(pkg, "github.com/") {
			continue
		}
		hidden := hiddenSymbols[key]
		if hidden == nil {
			exports[key] = syms
			continue
		}
		m := make(map[string]reflect.Value, len(syms))
		for name, v := range syms {
			m[name] = v
		}
		for _, name := range hidden {
			delete(m, name)
		}
		exports[key] = m
	}
	exports["hookbot/hookbot"] = hookbotSymbols()
	return exports
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
