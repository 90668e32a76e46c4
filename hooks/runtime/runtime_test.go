package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"hookbot/hooks/hookbot"
)

// fakeBot records what hooks ask of the bot.
type fakeBot struct {
	mu   sync.Mutex
	logs []string
	sent []string
	pubs []string
}

func (b *fakeBot) JID() string { return "bot@example.org/hookbot" }

func (b *fakeBot) Send(to, body string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, to+" "+body)
	return nil
}

func (b *fakeBot) Publish(service, node, id, payload string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pubs = append(b.pubs, strings.Join([]string{service, node, id, payload}, " "))
	return "item-7", nil
}

func (b *fakeBot) Log(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logs = append(b.logs, msg)
}

func (b *fakeBot) Logs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.logs...)
}

// echoBody logs every field of item and uses every method of bot.
const echoBody = `
	bot.Log("kind=" + item.Kind)
	bot.Log("service=" + item.Service)
	bot.Log("node=" + item.Node)
	bot.Log("id=" + item.ID)
	bot.Log("publisher=" + item.Publisher)
	bot.Log("payload=" + item.Payload)
	bot.Log("time=" + item.Time.UTC().Format(time.RFC3339))
	bot.Log("jid=" + bot.JID())
	if err := bot.Send("admin@example.org", "seen "+item.ID); err != nil {
		return err
	}
	id, err := bot.Publish("pubsub.example.org", "out", "", "<x xmlns='urn:x'/>")
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	bot.Log("published=" + id)
	if item.ID == "fail" {
		return errors.New("asked to fail")
	}
	return nil
`

const echoImports = `import (
	"context"
	"errors"
	"fmt"
	"time"

	"hookbot"
)
`

var testItem = hookbot.Item{
	Kind:      hookbot.KindItems,
	Service:   "pubsub.example.org",
	Node:      "news",
	ID:        "i1",
	Publisher: "alice@example.org/phone",
	Payload:   "<entry xmlns='http://www.w3.org/2005/Atom'><title>hi</title></entry>",
	Time:      time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
}

var wantLogs = []string{
	"kind=items",
	"service=pubsub.example.org",
	"node=news",
	"id=i1",
	"publisher=alice@example.org/phone",
	"payload=<entry xmlns='http://www.w3.org/2005/Atom'><title>hi</title></entry>",
	"time=2026-12-04T10:00:00Z",
	"jid=bot@example.org/hookbot",
	"published=item-7",
}

// writeFile writes data to dir/name, making directories, and returns its path.
func writeFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunEachType(t *testing.T) {
	hooksPath := t.TempDir()
	// A package of two files that imports another package of hooks_path.
	writeFile(t, hooksPath, "src/example.org/hooks/echo/echo.go", "package echo\n\n"+
		echoImports+"\nfunc Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {\n"+
		"\tbot.Log(util.Prefix + helper())\n"+echoBody+"}\n")
	writeFile(t, hooksPath, "src/example.org/hooks/echo/helper.go", "package echo\n\nimport \"example.org/hooks/util\"\n\nfunc helper() string { return util.Name() }\n")
	writeFile(t, hooksPath, "src/example.org/hooks/util/util.go", "package util\n\nconst Prefix = \"util:\"\n\nfunc Name() string { return \"echo\" }\n")
	// echo.go uses util too: add the import there.
	echo := filepath.Join(hooksPath, "src/example.org/hooks/echo/echo.go")
	b, _ := os.ReadFile(echo)
	os.WriteFile(echo, []byte(strings.Replace(string(b), "\t\"hookbot\"\n", "\t\"hookbot\"\n\t\"example.org/hooks/util\"\n", 1)), 0o644)

	// A go_file in package main with a func main that must not run.
	file := writeFile(t, t.TempDir(), "echo.go", "package main\n\n"+echoImports+
		"\nfunc main() { panic(\"main must not run\") }\n"+
		"\nfunc Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {\n"+
		"\tbot.Log(\"file:\" + \"echo\")\n"+echoBody+"}\n")

	tests := []struct {
		name  string
		src   Source
		first string // first log line
	}{
		{"go", Source{Type: TypeGo, Arg: "example.org/hooks/echo", HooksPath: hooksPath}, "util:echo"},
		{"go_file", Source{Type: TypeGoFile, Arg: file}, "file:echo"},
		{"go_code", Source{Type: TypeGoCode, Arg: echoImports + "bot.Log(\"code:echo\")\n" + echoBody}, "code:echo"},
		{"go_code without return", Source{Type: TypeGoCode, Arg: "bot.Log(\"code:echo\")\n" + strings.TrimSuffix(strings.TrimSpace(echoBody), "return nil")}, "code:echo"},
	}
	// The last case has no imports of its own: add the ones echoBody needs.
	tests[3].src.Arg = "import (\"errors\"; \"fmt\"; \"time\")\n" + tests[3].src.Arg

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(context.Background(), tt.src)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for _, id := range []string{"i1", "fail"} {
				bot := &fakeBot{}
				item := testItem
				item.ID = id
				err := p.Run(context.Background(), bot, item)
				if id == "fail" {
					if err == nil || err.Error() != "asked to fail" {
						t.Errorf("Run(fail) = %v, want the hook's error", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				want := append([]string{tt.first}, wantLogs...)
				if got := bot.Logs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("logs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if len(bot.sent) != 1 || bot.sent[0] != "admin@example.org seen i1" {
					t.Errorf("sent = %q", bot.sent)
				}
				if len(bot.pubs) != 1 || bot.pubs[0] != "pubsub.example.org out  <x xmlns='urn:x'/>" {
					t.Errorf("published = %q", bot.pubs)
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	dir := t.TempDir()
	hooksPath := t.TempDir()
	const sig = "func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error"
	const head = "package h\n\nimport (\n\t\"context\"\n\n\t\"hookbot\"\n)\n\n" // 8 lines
	file := func(name, data string) Source {
		return Source{Type: TypeGoFile, Arg: writeFile(t, dir, name, data)}
	}
	pkg := func(path, data string) Source {
		writeFile(t, hooksPath, "src/"+path+"/h.go", data)
		return Source{Type: TypeGo, Arg: path, HooksPath: hooksPath}
	}
	code := func(s string) Source { return Source{Type: TypeGoCode, Arg: s} }
	fpath := func(name string) string { return filepath.Join(dir, name) }
	ppath := func(path string) string { return filepath.Join(hooksPath, "src", path, "h.go") }

	tests := []struct {
		name string
		src  Source
		want []string // lines of the error, each "pos: start of message"
	}{
		{"code syntax", code("x := 1\nif x {\n"), []string{"code:3:1: expected '}', found 'EOF'"}},
		{"code syntax after imports", code("import \"fmt\"\nfmt.Println(\"a\"\n"), []string{"code:2:16: missing ',' before newline"}},
		{"code type", code("var n int = \"s\"\n_ = n"), []string{"code:1:13: cannot convert \"s\" to int"}},
		{"code type after grouped imports", code("import (\n\t\"fmt\"\n\t\"strings\"\n)\n\nfmt.Println(strings.ToUpper(nope))"), []string{"code:6:29: undefined: nope"}},
		{"code type after one-line import", code("import \"fmt\"; fmt.Println(nope)"), []string{"code:1:27: undefined: nope"}},
		{"code go statement", code("bot.Log(\"a\")\ngo func() {}()"), []string{"code:2:1: go statements are not allowed"}},
		{"code unsafe", code("import \"unsafe\"\n_ = unsafe.Sizeof(1)"), []string{"code:1:8: import of unsafe is not allowed"}},
		{"code syscall", code("import (\n\t\"fmt\"\n\t\"syscall\"\n)\nfmt.Println(syscall.Getpid())"), []string{"code:3:2: import of syscall is not allowed"}},
		{"code all problems", code("import \"unsafe\"\ngo func() {}()\ngo func() {}()"), []string{
			"code:1:8: import of unsafe is not allowed",
			"code:2:1: go statements are not allowed",
			"code:3:1: go statements are not allowed",
		}},
		{"code unknown package", code("import \"example.org/nope\"\nnope.X()"), []string{"code:1:8: package example.org/nope is not available"}},
		{"code time.AfterFunc", code("import \"time\"\ntime.AfterFunc(time.Second, func() {})"), []string{"code:2:1: package time \"time\" has no symbol AfterFunc"}},
		{"code context.AfterFunc", code("import \"context\"\ncontext.AfterFunc(ctx, func() {})"), []string{"code:2:1: package context \"context\" has no symbol AfterFunc"}},
		{"code runtime.SetFinalizer", code("import \"runtime\"\nx := new(int)\nruntime.SetFinalizer(x, nil)"), []string{"code:3:1: package runtime \"runtime\" has no symbol SetFinalizer"}},
		{"file syntax", file("syntax.go", head+sig+" {\n\treturn nil\n"), []string{fpath("syntax.go") + ":10:13: expected '}', found 'EOF'"}},
		{"file type", file("type.go", head+sig+" {\n\treturn 42\n}\n"), []string{fpath("type.go") + ":10:9: "}},
		{"file missing Hook", file("missing.go", head+"func Hook2() {}\n"), []string{fpath("missing.go") + ":1:1: no func Hook"}},
		{"file wrong signature", file("sig.go", head+"func Hook(item hookbot.Item) error { return nil }\n"), []string{fpath("sig.go") + ":9:6: Hook has type func(hookbot.Item) error"}},
		{"file go statement", file("go.go", head+sig+" {\n\tgo func() {}()\n\treturn nil\n}\n"), []string{fpath("go.go") + ":10:2: go statements are not allowed"}},
		{"file unsafe", file("unsafe.go", "package h\n\nimport \"unsafe\"\n\nvar _ = unsafe.Sizeof(1)\n"), []string{fpath("unsafe.go") + ":3:8: import of unsafe is not allowed", fpath("unsafe.go") + ":1:1: no func Hook"}},
		{"package syntax", pkg("ex.org/syntax", head+sig+" {\n\treturn nil\n"), []string{ppath("ex.org/syntax") + ":10:13: expected '}', found 'EOF'"}},
		{"package type", pkg("ex.org/type", head+sig+" {\n\treturn undefinedThing\n}\n"), []string{ppath("ex.org/type") + ":10:9: undefined: undefinedThing"}},
		{"package missing Hook", pkg("ex.org/missing", "package h\n\nfunc Other() {}\n"), []string{ppath("ex.org/missing") + ":1:1: no func Hook"}},
		{"package wrong signature", pkg("ex.org/sig", head+"func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) {}\n"), []string{ppath("ex.org/sig") + ":9:6: Hook has type"}},
		{"package go statement", pkg("ex.org/go", head+sig+" {\n\tgo bot.Log(\"x\")\n\treturn nil\n}\n"), []string{ppath("ex.org/go") + ":10:2: go statements are not allowed"}},
		{"package unsafe", pkg("ex.org/unsafe", head+"import \"unsafe\"\n\nvar _ = unsafe.Sizeof(1)\n\n"+sig+" { return nil }\n"), []string{ppath("ex.org/unsafe") + ":9:8: import of unsafe is not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(context.Background(), tt.src)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Compile error = %v (%T), want *Error", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("error has %d lines, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], w)
				}
			}
		})
	}
}

func TestCompileReadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  Source
	}{
		{"missing file", Source{Type: TypeGoFile, Arg: filepath.Join(t.TempDir(), "nope.go")}},
		{"missing package", Source{Type: TypeGo, Arg: "example.org/nope", HooksPath: t.TempDir()}},
		{"escaping import path", Source{Type: TypeGo, Arg: "../etc", HooksPath: t.TempDir()}},
		{"no hooks_path", Source{Type: TypeGo, Arg: "example.org/x"}},
		{"unknown type", Source{Type: "python", Arg: "print(1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Compile(context.Background(), tt.src); err == nil {
				t.Fatal("Compile accepted it")
			}
		})
	}
}

// stopCode misbehaves as item.ID asks, and logs "ok" otherwise.
const stopCode = `import (
	"errors"
	"time"
)
switch item.ID {
case "panic":
	var m map[string]int
	m["x"] = 1
case "panic-value":
	panic("the hook gave up")
case "error":
	return errors.New("hook error")
case "spin":
	for {
	}
case "recv":
	ch := make(chan int)
	<-ch
case "send":
	ch := make(chan int)
	ch <- 1
case "select":
	select {}
case "sleep":
	time.Sleep(300 * time.Millisecond)
	bot.Log("late")
	return nil
}
bot.Log("ok")
return nil`

func TestRunStops(t *testing.T) {
	const timeout = 200 * time.Millisecond
	const margin = 500 * time.Millisecond
	p, err := Compile(context.Background(), Source{Type: TypeGoCode, Arg: stopCode})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id      string
		want    string // substring of the error
		timeout bool
	}{
		{"panic", "hook panicked: assignment to entry in nil map", false},
		{"panic-value", "hook panicked: the hook gave up", false},
		{"error", "hook error", false},
		{"spin", "hook stopped: context deadline exceeded", true},
		{"recv", "hook stopped: context deadline exceeded", true},
		{"send", "hook stopped: context deadline exceeded", true},
		{"select", "hook stopped: context deadline exceeded", true},
		{"sleep", "hook stopped: context deadline exceeded", true},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			bot := &fakeBot{}
			err := p.Run(ctx, bot, hookbot.Item{ID: tt.id})
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want %q", err, tt.want)
			}
			if tt.timeout && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run = %v, not a context.DeadlineExceeded", err)
			}
			if took > timeout+margin {
				t.Errorf("Run took %v, want at most %v", took, timeout+margin)
			}
			// The Program still works, right away.
			ok := &fakeBot{}
			if err := p.Run(context.Background(), ok, hookbot.Item{ID: "fine"}); err != nil {
				t.Fatalf("Run after %s: %v", tt.id, err)
			}
			if got := ok.Logs(); len(got) != 1 || got[0] != "ok" {
				t.Errorf("logs after %s = %q, want [ok]", tt.id, got)
			}
			if tt.id == "sleep" {
				// The stopped run's native sleep ends later: its Log must
				// not reach the bot.
				time.Sleep(300 * time.Millisecond)
				if got := bot.Logs(); len(got) != 0 {
					t.Errorf("stopped run logged %q", got)
				}
			}
		})
	}
	t.Run("canceled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := p.Run(ctx, &fakeBot{}, hookbot.Item{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

func TestUnloadKeepsSource(t *testing.T) {
	file := writeFile(t, t.TempDir(), "h.go", "package h\n\n"+
		"import (\n\t\"context\"\n\n\t\"hookbot\"\n)\n\n"+
		"var runs int\n\n"+
		"func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {\n\truns++\n\tbot.Log(item.ID)\n\treturn nil\n}\n")
	p, err := Compile(context.Background(), Source{Type: TypeGoFile, Arg: file})
	if err != nil {
		t.Fatal(err)
	}
	if p.Loaded() {
		t.Error("Compile left the program loaded")
	}
	// The code is kept from Compile: the file is not read again.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	for i, step := range []string{"run", "unload", "run", "run", "unload", "unload", "run"} {
		if step == "unload" {
			p.Unload()
			if p.Loaded() {
				t.Fatalf("step %d: still loaded after Unload", i)
			}
			continue
		}
		bot := &fakeBot{}
		if err := p.Run(context.Background(), bot, hookbot.Item{ID: fmt.Sprint(i)}); err != nil {
			t.Fatalf("step %d: Run: %v", i, err)
		}
		if got := bot.Logs(); len(got) != 1 || got[0] != fmt.Sprint(i) {
			t.Fatalf("step %d: logs %q", i, got)
		}
		if !p.Loaded() {
			t.Fatalf("step %d: not loaded after Run", i)
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	// A package variable updated without locks: runs must be serialized.
	code := "import \"strconv\"\ncount := bot.(interface{ Count() int }).Count()\nbot.Log(strconv.Itoa(count))"
	_ = code
	hooksPath := t.TempDir()
	writeFile(t, hooksPath, "src/counter/c.go", "package counter\n\n"+
		"import (\n\t\"context\"\n\t\"strconv\"\n\n\t\"hookbot\"\n)\n\n"+
		"var n int\n\n"+
		"func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {\n"+
		"\tv := n\n\tfor i := 0; i < 1000; i++ {\n\t}\n\tn = v + 1\n\tbot.Log(strconv.Itoa(n))\n\treturn nil\n}\n")
	p, err := Compile(context.Background(), Source{Type: TypeGo, Arg: "counter", HooksPath: hooksPath})
	if err != nil {
		t.Fatal(err)
	}
	const workers, runs = 8, 25
	bot := &fakeBot{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < runs; i++ {
				if err := p.Run(context.Background(), bot, hookbot.Item{}); err != nil {
					t.Error(err)
					return
				}
				if i == runs/2 && w == 0 {
					p.Unload() // the counter restarts from 0 after a reload
				}
			}
		}()
	}
	wg.Wait()
	logs := bot.Logs()
	if len(logs) != workers*runs {
		t.Fatalf("%d runs logged, want %d", len(logs), workers*runs)
	}
	// Serialized runs count 1, 2, 3, … with one restart at the Unload.
	restarts := 0
	for i := 1; i < len(logs); i++ {
		prev, cur := 0, 0
		fmt.Sscan(logs[i-1], &prev)
		fmt.Sscan(logs[i], &cur)
		switch cur {
		case prev + 1:
		case 1:
			restarts++
		default:
			t.Fatalf("run %d counted %d after %d: runs overlapped", i, cur, prev)
		}
	}
	if restarts != 1 {
		t.Errorf("%d restarts, want 1 (the Unload)", restarts)
	}
}

func TestParseIsLazy(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		parseOK bool
		runOK   bool
	}{
		{"valid", "bot.Log(item.ID)", true, true},
		{"syntax error", "bot.Log(", false, false},
		{"type error found at run", "var n int = \"s\"\n_ = n", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(Source{Type: TypeGoCode, Arg: tt.code})
			if (err == nil) != tt.parseOK {
				t.Fatalf("Parse = %v, want ok %v", err, tt.parseOK)
			}
			if err != nil {
				return
			}
			err = p.Run(context.Background(), &fakeBot{}, hookbot.Item{ID: "x"})
			if (err == nil) != tt.runOK {
				t.Fatalf("Run = %v, want ok %v", err, tt.runOK)
			}
		})
	}
}

func TestRunBotAfterEnd(t *testing.T) {
	inner := &fakeBot{}
	b := &runBot{bot: inner}
	b.Log("during")
	b.end()
	b.Log("after")
	if err := b.Send("a@b", "x"); !errors.Is(err, errRunOver) {
		t.Errorf("Send after end = %v", err)
	}
	if _, err := b.Publish("s", "n", "", ""); !errors.Is(err, errRunOver) {
		t.Errorf("Publish after end = %v", err)
	}
	if got := inner.Logs(); len(got) != 1 || got[0] != "during" {
		t.Errorf("logs = %q, want [during]", got)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := goruntime.NumGoroutine()
	for _, src := range []string{stopCode, "bot.Log(item.ID)"} {
		p, err := Compile(context.Background(), Source{Type: TypeGoCode, Arg: src})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"spin", "recv", "select", "panic", "error", "ok", "ok"} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			p.Run(ctx, &fakeBot{}, hookbot.Item{ID: id})
			cancel()
		}
		p.Unload()
	}
	deadline := time.Now().Add(2 * time.Second)
	for goruntime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the runs, %d before", n, before)
	}
}

func TestStandardLibrary(t *testing.T) {
	stringer := writeFile(t, t.TempDir(), "stringer.go", "package s\n\n"+
		"import (\n\t\"context\"\n\t\"fmt\"\n\n\t\"hookbot\"\n)\n\n"+
		"type T struct{ n int }\n\nfunc (t T) String() string { return fmt.Sprintf(\"T%d!\", t.n) }\n\n"+
		"func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {\n"+
		"\tfmt.Println(T{1})\n\tbot.Log(fmt.Sprint(T{2}))\n\tbot.Log(fmt.Errorf(\"wrapped: %w\", fmt.Errorf(\"%v\", T{3})).Error())\n\treturn nil\n}\n")
	tests := []struct {
		name string
		src  Source
		want string // the log lines, joined by "|"
		err  string // substring of Run's error
	}{
		{"fmt", Source{Type: TypeGoCode, Arg: "import (\"fmt\"; \"hookbot\")\nfmt.Println(\"to nowhere\")\nbot.Log(fmt.Sprint(42, item.Kind == hookbot.KindItems))"}, "42 true", ""},
		{"no fmt", Source{Type: TypeGoCode, Arg: "import \"errors\"\nbot.Log(errors.New(\"e\").Error())"}, "e", ""},
		{"stringer", Source{Type: TypeGoFile, Arg: stringer}, "T2!|wrapped: T3!", ""},
		{"slices", Source{Type: TypeGoCode, Arg: "import (\"fmt\"; \"slices\")\ns := []int{3, 1, 2}\nbot.Log(fmt.Sprint(slices.Index(s, 2), slices.Contains(s, 4)))"}, "2 false", ""},
		{"sync", Source{Type: TypeGoCode, Arg: "import (\"strings\"; \"sync\")\nvar mu sync.Mutex\nmu.Lock()\nbot.Log(strings.Repeat(\"a\", 3))\nmu.Unlock()"}, "aaa", ""},
		{"os environment is empty", Source{Type: TypeGoCode, Arg: "import \"os\"\nbot.Log(\"HOME=\" + os.Getenv(\"HOME\"))"}, "HOME=", ""},
		{"os.Exit panics", Source{Type: TypeGoCode, Arg: "import \"os\"\nos.Exit(3)"}, "", "hook panicked: os.Exit(3)"},
		{"log.Fatal panics", Source{Type: TypeGoCode, Arg: "import \"log\"\nlog.Fatal(\"bye\")"}, "", "hook panicked: bye"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(context.Background(), tt.src)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			bot := &fakeBot{}
			err = p.Run(context.Background(), bot, testItem)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Run = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := strings.Join(bot.Logs(), "|"); got != tt.want {
				t.Errorf("logs %q, want %q", got, tt.want)
			}
		})
	}
}
