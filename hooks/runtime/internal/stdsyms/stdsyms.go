// Package stdsyms holds the yaegi symbol tables of the standard library:
// the packages and names that yaegi v0.16.1's stdlib provides (Go 1.22's
// API), without building them all when the program starts.
//
// Each package's table is built by a function, only when Symbols asks
// for it, and nothing runs at init. Importing yaegi's stdlib instead
// builds every table of every package at start, which costs about 7 MB of
// resident memory.
//
// The files other than stdsyms.go, restricted.go and maptypes.go are
// written by go generate in hooks/runtime (see internal/genstd):
// tables.go, and one file per package.
package stdsyms

import (
	"path"
	"reflect"
)

// Symbols returns the symbol table of the standard package key (import
// path, slash, package name: "encoding/json/json", as in yaegi's
// stdlib.Symbols and interp.Exports), or false when yaegi's standard
// library has no such package.
//
// The table is built afresh at each call and nothing keeps it: the
// caller may change it. interp.Use copies the entries it is given, so
// keeping the tables here would only add a copy of every package used.
func Symbols(key string) (map[string]reflect.Value, bool) {
	build := table(key)
	if build == nil {
		return nil, false
	}
	return build(), true
}

// Has reports whether key names a package of the standard library, as
// Symbols would, without building its table.
func Has(key string) bool {
	return table(key) != nil
}

// Key returns the key of the standard package whose import path is p:
// "math/rand/v2/rand" for "math/rand/v2", since the package name is not
// always the last element of the path.
func Key(p string) (string, bool) {
	for _, k := range keys {
		if path.Dir(k) == p && table(k) != nil {
			return k, true
		}
	}
	return "", false
}

// Keys returns the keys of every package, sorted.
func Keys() []string {
	var ks []string
	for _, k := range keys {
		if table(k) != nil {
			ks = append(ks, k)
		}
	}
	return ks
}
