package stdsyms_test

import (
	"go/constant"
	"reflect"
	"sort"
	"testing"

	"github.com/traefik/yaegi/stdlib"

	"hookbot/hooks/runtime/internal/stdsyms"
)

// yaegiKeys returns the keys of the standard packages in yaegi's stdlib.
func yaegiKeys() []string {
	var keys []string
	for k := range stdlib.Symbols {
		if k != "." && k != "github.com/traefik/yaegi/stdlib/stdlib" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func sortedNames(m map[string]reflect.Value) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// restricted are the symbols that yaegi and stdsyms both replace, each
// with a function or type of its own.
var restricted = map[string]bool{
	"os/os.Exit": true, "os/os.FindProcess": true,
	"log/log.Fatal": true, "log/log.Fatalf": true, "log/log.Fatalln": true,
	"log/log.New": true, "log/log.Logger": true,
}

// TestSameAsYaegi checks that the packages, and the names in each, are
// those of yaegi's stdlib, and that every symbol but the wrappers and
// the restricted ones is the same value.
func TestSameAsYaegi(t *testing.T) {
	want := yaegiKeys()
	if got := stdsyms.Keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys:\n got %d %v\nwant %d %v", len(got), got, len(want), want)
	}
	for _, key := range want {
		ours, ok := stdsyms.Symbols(key)
		if !ok || !stdsyms.Has(key) {
			t.Errorf("%s: missing", key)
			continue
		}
		theirs := stdlib.Symbols[key]
		if got, want := sortedNames(ours), sortedNames(theirs); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: names:\n got %v\nwant %v", key, got, want)
			continue
		}
		for name, v := range ours {
			w := theirs[name]
			switch {
			case name[0] == '_':
				// Interface wrappers: types of each package, with
				// the same fields.
				if v.Type().Kind() != reflect.Pointer || v.Type().Elem().Kind() != reflect.Struct {
					t.Errorf("%s.%s: wrapper of type %v", key, name, v.Type())
				}
			case restricted[key+"."+name]:
				if v.Type().Kind() != w.Type().Kind() {
					t.Errorf("%s.%s: %v, yaegi has %v", key, name, v.Type(), w.Type())
				}
			case v.Type() != w.Type():
				t.Errorf("%s.%s: type %v, yaegi has %v", key, name, v.Type(), w.Type())
			case v.Kind() == reflect.Func:
				if v.Pointer() != w.Pointer() {
					t.Errorf("%s.%s: not the same function", key, name)
				}
			case v.CanAddr(): // a variable
				if v.Addr().Pointer() != w.Addr().Pointer() {
					t.Errorf("%s.%s: not the same variable", key, name)
				}
			case v.Type().Kind() == reflect.Pointer && v.IsNil(): // a type
			default: // a constant
				if c, ok := v.Interface().(constant.Value); ok {
					if c.ExactString() != w.Interface().(constant.Value).ExactString() {
						t.Errorf("%s.%s = %s, yaegi has %s", key, name, c.ExactString(), w.Interface().(constant.Value).ExactString())
					}
				} else if v.Interface() != w.Interface() {
					t.Errorf("%s.%s = %v, yaegi has %v", key, name, v.Interface(), w.Interface())
				}
			}
		}
	}
	if _, ok := stdsyms.Symbols("unsafe/unsafe"); ok || stdsyms.Has("syscall/syscall") {
		t.Error("unsafe or syscall is there")
	}
}

// TestWrappers checks that the interface wrappers have the methods of
// yaegi's, and so does the restricted log.Logger.
func TestWrappers(t *testing.T) {
	for _, key := range stdsyms.Keys() {
		ours, _ := stdsyms.Symbols(key)
		for name, v := range ours {
			if name[0] != '_' && key+"."+name != "log/log.Logger" {
				continue
			}
			got, want := methods(v.Type()), methods(stdlib.Symbols[key][name].Type())
			if !subset(want, got) {
				t.Errorf("%s.%s: methods %v, yaegi has %v", key, name, got, want)
			}
		}
	}
}

func methods(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumMethod(); i++ {
		names = append(names, t.Method(i).Name)
	}
	return names
}

// subset reports whether every name of a is in b (sorted lists). The
// wrappers of Go's current interfaces may have more methods than yaegi's
// of Go 1.22's.
func subset(a, b []string) bool {
	in := map[string]bool{}
	for _, n := range b {
		in[n] = true
	}
	for _, n := range a {
		if !in[n] {
			return false
		}
	}
	return true
}

// TestMapTypes checks that MapTypes has the keys of yaegi's, with the
// same interfaces for functions, and composed wrappers with the same
// methods.
func TestMapTypes(t *testing.T) {
	ours := stdsyms.MapTypes()
	if len(ours) != len(stdlib.MapTypes) {
		t.Errorf("%d entries, yaegi has %d", len(ours), len(stdlib.MapTypes))
	}
	// Wrapper keys differ in type (each package has its own wrappers):
	// match them by the wrapped interface's name.
	wrappers := map[string][]reflect.Type{}
	for k, v := range ours {
		if k.Kind() == reflect.Pointer {
			wrappers[k.Type().Elem().Name()] = v
		}
	}
	for k, want := range stdlib.MapTypes {
		if k.Kind() == reflect.Func {
			if got := ours[k]; !reflect.DeepEqual(got, want) {
				t.Errorf("%v: %v, yaegi has %v", k, got, want)
			}
			continue
		}
		got := wrappers[k.Type().Elem().Name()]
		if len(got) != len(want) {
			t.Errorf("%v: %v, yaegi has %v", k.Type(), got, want)
			continue
		}
		for i := range got {
			var g, w []string
			for j := 0; j < got[i].NumField(); j++ {
				g = append(g, got[i].Field(j).Name)
			}
			for j := 0; j < want[i].NumField(); j++ {
				w = append(w, want[i].Field(j).Name)
			}
			if !reflect.DeepEqual(g, w) || !reflect.DeepEqual(methods(got[i]), methods(want[i])) {
				t.Errorf("%v: %v, yaegi has %v", k.Type(), g, w)
			}
		}
	}
}

func TestSymbolsAreFresh(t *testing.T) {
	a, _ := stdsyms.Symbols("strings/strings")
	delete(a, "ToUpper")
	b, _ := stdsyms.Symbols("strings/strings")
	if _, ok := b["ToUpper"]; !ok {
		t.Error("a change to a table shows in the next one")
	}
	m := stdsyms.MapTypes()
	for k := range m {
		delete(m, k)
	}
	if len(stdsyms.MapTypes()) == 0 {
		t.Error("a change to MapTypes shows in the next one")
	}
}

func BenchmarkSymbols(b *testing.B) {
	for i := 0; i < b.N; i++ {
		stdsyms.Symbols("net/http/http")
	}
}
