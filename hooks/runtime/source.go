package runtime

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing/fstest"

	"hookbot/hooks/runtime/internal/stdsyms"
)

// The types of Source.
const (
	TypeGo     = "go"
	TypeGoFile = "go_file"
	TypeGoCode = "go_code"
)

// Import paths of the packages that hold go_file and go_code hooks in the
// in-memory GOPATH. The dot keeps them apart from the standard library.
const (
	fileImportPath = "hookbot.local/file"
	codeImportPath = "hookbot.local/code"
	codeName       = "code"    // the file name go_code positions show
	codeFile       = "code.go" // the in-memory file of go_code
)

// unit is the code of one hook, read once: an in-memory GOPATH holding the
// hook's package and the packages of hooks_path it imports.
type unit struct {
	fsys       fstest.MapFS      // "src/<import path>/<file>.go" → code
	importPath string            // the hook's package
	names      map[string]string // in-memory file name → name users see
	hookPos    string            // where Hook is declared, set by check
	codeEnd    token.Position    // go_code: the position just after the code
	std        map[string]bool   // standard packages imported, set by check
}

// read reads the code src names into a unit. It reads files; nothing else
// in this package does.
func read(src Source) (*unit, error) {
	u := &unit{fsys: fstest.MapFS{}, names: map[string]string{}}
	switch src.Type {
	case TypeGo, "":
		if err := checkImportPath(src.Arg); err != nil {
			return nil, err
		}
		if src.HooksPath == "" {
			return nil, fmt.Errorf("hook package %q: no hooks_path configured", src.Arg)
		}
		u.importPath = src.Arg
		if err := u.readPackage(src.HooksPath, src.Arg); err != nil {
			return nil, err
		}
	case TypeGoFile:
		name, err := filepath.Abs(src.Arg)
		if err != nil {
			return nil, fmt.Errorf("hook file %s: %w", src.Arg, err)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("hook file: %w", err)
		}
		u.importPath = fileImportPath
		u.add(fileImportPath, filepath.Base(name), name, b)
	case TypeGoCode:
		u.importPath = codeImportPath
		u.add(codeImportPath, codeFile, codeName, wrapCode(src.Arg))
		u.codeEnd = endOf(src.Arg)
	default:
		return nil, fmt.Errorf("unknown hook type %q", src.Type)
	}
	if src.HooksPath != "" {
		if err := u.readImports(src.HooksPath); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// checkImportPath refuses import paths that would leave hooks_path/src.
func checkImportPath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../") ||
		strings.Contains(p, "\\") || strings.HasPrefix(p, "./") {
		return fmt.Errorf("hook package %q: not a clean import path", p)
	}
	return nil
}

// add stores one file of package importPath.
func (u *unit) add(importPath, base, shown string, b []byte) {
	name := path.Join("src", importPath, base)
	u.fsys[name] = &fstest.MapFile{Data: b, Mode: 0o444}
	u.names[name] = shown
}

// readPackage reads the .go files (tests excluded) of the package at
// hooksPath/src/importPath.
func (u *unit) readPackage(hooksPath, importPath string) error {
	dir := filepath.Join(hooksPath, "src", filepath.FromSlash(importPath))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("hook package %s: %w", importPath, err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		full := filepath.Join(dir, name)
		b, err := os.ReadFile(full)
		if err != nil {
			return fmt.Errorf("hook package %s: %w", importPath, err)
		}
		u.add(importPath, name, full, b)
		n++
	}
	if n == 0 {
		return fmt.Errorf("hook package %s: no Go files in %s", importPath, dir)
	}
	return nil
}

// readImports reads, transitively, the packages of hooksPath that the
// files of u import. Other imports are left for check to judge.
func (u *unit) readImports(hooksPath string) error {
	done := map[string]bool{u.importPath: true}
	for {
		var todo []string
		for _, f := range u.sortedFiles() {
			file, err := parser.ParseFile(token.NewFileSet(), f, u.fsys[f].Data, parser.ImportsOnly)
			if err != nil {
				continue // check reports it
			}
			for _, spec := range file.Imports {
				p := strings.Trim(spec.Path.Value, "`\"")
				if done[p] || isStd(p) || checkImportPath(p) != nil {
					continue
				}
				done[p] = true
				dir := filepath.Join(hooksPath, "src", filepath.FromSlash(p))
				if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
					todo = append(todo, p)
				}
			}
		}
		if len(todo) == 0 {
			return nil
		}
		for _, p := range todo {
			if err := u.readPackage(hooksPath, p); err != nil {
				return err
			}
		}
	}
}

func (u *unit) sortedFiles() []string {
	files := make([]string, 0, len(u.fsys))
	for f := range u.fsys {
		files = append(files, f)
	}
	sort.Strings(files)
	return files
}

// isStd reports whether p is a package of yaegi's standard library.
func isStd(p string) bool {
	_, ok := stdsyms.Key(p)
	return ok
}

// wrapCode turns go_code statements into a file of package hook whose
// func Hook has the statements as its body. Line directives keep every
// position as the user wrote it. The directives keep the file's own name
// (yaegi records imports per file name); errors show it as "code".
func wrapCode(code string) []byte {
	end := importsEnd(code)
	line := 1 + strings.Count(code[:end], "\n")
	col := end - strings.LastIndex(code[:end], "\n")
	var b strings.Builder
	b.WriteString("package hook\n\n")
	b.WriteString("import __hookbot_context \"context\"\n")
	b.WriteString("import __hookbot_hookbot \"hookbot\"\n\n")
	fmt.Fprintf(&b, "/*line %s:1:1*/%s\n", codeFile, code[:end])
	b.WriteString("func Hook(ctx __hookbot_context.Context, bot __hookbot_hookbot.Bot, item __hookbot_hookbot.Item) error {")
	fmt.Fprintf(&b, "/*line %s:%d:%d*/%s\n", codeFile, line, col, code[end:])
	// What follows the user's code (errors about an unclosed block, say)
	// is shown at the end of it.
	e := endOf(code)
	fmt.Fprintf(&b, "/*line %s:%d:%d*/return nil\n}\n", codeFile, e.Line, e.Column)
	return []byte(b.String())
}

// endOf returns the position just after the end of code.
func endOf(code string) token.Position {
	return token.Position{
		Line:   1 + strings.Count(code, "\n"),
		Column: len(code) - strings.LastIndex(code, "\n"),
	}
}

// fixCodeProblems moves problems that lie at or past the end of go_code (in the
// wrapper around it) to the end of the code, and drops them when an
// earlier problem explains them.
func (u *unit) fixCodeProblems(ps []Problem) []Problem {
	if u.codeEnd.Line == 0 {
		return ps
	}
	out := ps[:0]
	for _, p := range ps {
		var line, col int
		if _, err := fmt.Sscanf(p.Pos, codeName+":%d:%d", &line, &col); err == nil &&
			(line > u.codeEnd.Line || line == u.codeEnd.Line && col >= u.codeEnd.Column) {
			if len(out) > 0 {
				continue
			}
			p.Pos = fmt.Sprintf("%s:%d:%d", codeName, u.codeEnd.Line, u.codeEnd.Column)
		}
		out = append(out, p)
	}
	return out
}

// importsEnd returns the offset in code just after its leading import
// declarations (single or grouped, with their semicolon if explicit).
func importsEnd(code string) int {
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(code))
	var s scanner.Scanner
	s.Init(file, []byte(code), nil, 0)
	offset := func(p token.Pos) int { return file.Offset(p) }
	end := 0
	pos, tok, lit := s.Scan()
	for tok == token.IMPORT {
		pos, tok, lit = s.Scan()
		switch tok {
		case token.LPAREN:
			for tok != token.RPAREN {
				if tok == token.EOF {
					return end
				}
				pos, tok, lit = s.Scan()
			}
		case token.IDENT, token.PERIOD:
			pos, tok, lit = s.Scan()
			if tok != token.STRING {
				return end
			}
		case token.STRING:
		default:
			return end
		}
		end = offset(pos) + len(lit)
		if tok == token.RPAREN {
			end = offset(pos) + 1
		}
		pos, tok, lit = s.Scan()
		if tok == token.SEMICOLON {
			if lit == ";" {
				end = offset(pos) + 1
			}
			pos, tok, lit = s.Scan()
		}
	}
	return end
}

// check parses every file of u and reports, all at once: syntax errors,
// go statements, imports of forbidden or unknown packages, and a missing
// func Hook. It also renames package main of the hook to hook (same
// length, so positions stay), so that yaegi does not run its func main.
func (u *unit) check() error {
	var problems []Problem
	fset := token.NewFileSet()
	hookFound, parseFailed := false, false
	u.std = map[string]bool{}
	var firstFile string // position of the hook package's first package clause
	for _, name := range u.sortedFiles() {
		f, err := parser.ParseFile(fset, name, u.fsys[name].Data, parser.SkipObjectResolution)
		if err != nil {
			parseFailed = true
			problems = append(problems, yaegiProblems(err, u.names)...)
		}
		if f == nil {
			continue
		}
		isHook := path.Dir(name) == path.Join("src", u.importPath)
		pos := func(p token.Pos) string { return rename(fset.Position(p).String(), u.names) }
		if isHook && firstFile == "" {
			firstFile = pos(f.Package)
		}
		for _, spec := range f.Imports {
			p := strings.Trim(spec.Path.Value, "`\"")
			switch {
			case forbiddenImports[p]:
				problems = append(problems, Problem{pos(spec.Path.Pos()), fmt.Sprintf("import of %s is not allowed", p)})
			case p == "hookbot":
			case isStd(p):
				u.std[p] = true
			case u.fsys[path.Join("src", p)] == nil && !u.hasDir(p):
				problems = append(problems, Problem{pos(spec.Path.Pos()), fmt.Sprintf("package %s is not available to hooks", p)})
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				problems = append(problems, Problem{pos(g.Go), "go statements are not allowed in hooks"})
			}
			return true
		})
		if !isHook {
			continue
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "Hook" {
				hookFound = true
				u.hookPos = pos(fd.Name.Pos())
			}
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, s := range gd.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						if id.Name == "Hook" {
							hookFound = true
							u.hookPos = pos(id.Pos())
						}
					}
				}
			}
		}
		if f.Name.Name == "main" {
			off := fset.Position(f.Name.Pos()).Offset
			data := append([]byte(nil), u.fsys[name].Data...)
			copy(data[off:], "hook")
			u.fsys[name] = &fstest.MapFile{Data: data, Mode: 0o444}
		}
	}
	if !hookFound && firstFile != "" && !parseFailed {
		problems = append(problems, Problem{firstFile, "no func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error"})
	}
	if problems = u.fixCodeProblems(problems); len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// hasDir reports whether u holds package p.
func (u *unit) hasDir(p string) bool {
	prefix := path.Join("src", p) + "/"
	for name := range u.fsys {
		if strings.HasPrefix(name, prefix) && !strings.Contains(name[len(prefix):], "/") {
			return true
		}
	}
	return false
}
