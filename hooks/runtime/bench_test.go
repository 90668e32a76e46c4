package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"

	"hookbot/hooks/hookbot"
)

// nopBot is a Bot that does nothing, for benchmarks.
type nopBot struct{}

func (nopBot) JID() string                                { return "bot@example.org/hookbot" }
func (nopBot) Send(to, body string) error                 { return nil }
func (nopBot) Publish(s, n, id, p string) (string, error) { return id, nil }
func (nopBot) Log(msg string)                             {}

// BenchmarkRun measures the overhead of one call of a trivial hook.
func BenchmarkRun(b *testing.B) {
	p, err := Compile(context.Background(), Source{Type: TypeGoCode, Arg: "return nil"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	item := hookbot.Item{Kind: hookbot.KindItems, Node: "n", ID: "1"}
	if err := p.Run(ctx, nopBot{}, item); err != nil { // load outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Run(ctx, nopBot{}, item); err != nil {
			b.Fatal(err)
		}
	}
}

// hook60 is a 60-line go_code hook.
func hook60() string {
	var b strings.Builder
	b.WriteString("import (\n\t\"encoding/xml\"\n\t\"fmt\"\n\t\"strings\"\n)\n\n")
	b.WriteString("type entry struct {\n\tTitle string `xml:\"title\"`\n\tBody  string `xml:\"content\"`\n}\n\n")
	b.WriteString("var e entry\nif err := xml.Unmarshal([]byte(item.Payload), &e); err != nil {\n\treturn fmt.Errorf(\"payload: %w\", err)\n}\n")
	lines := 17
	for i := 0; lines < 58; i++ {
		fmt.Fprintf(&b, "if strings.Contains(e.Title, %q) {\n\tbot.Log(fmt.Sprintf(\"rule %d: %%s\", e.Title))\n}\n", fmt.Sprint("word", i), i)
		lines += 3
	}
	b.WriteString("bot.Log(strings.ToUpper(e.Body))\nreturn nil\n")
	return b.String()
}

// BenchmarkCompile60Lines measures Compile of a 60-line go_code hook:
// parse checks, a new interpreter with the standard library, and the
// hook compiled in it.
func BenchmarkCompile60Lines(b *testing.B) {
	src := Source{Type: TypeGoCode, Arg: hook60()}
	if n := strings.Count(src.Arg, "\n"); n < 58 || n > 62 {
		b.Fatalf("hook has %d lines", n)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(context.Background(), src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadedMemory measures the memory (heap and stacks) held by
// one loaded hook, over 100 loaded Programs of the 60-line hook; with
// "sync" imported, yaegi's patched standard library and generics are
// loaded too.
func BenchmarkLoadedMemory(b *testing.B) {
	for _, bc := range []struct{ name, code string }{
		{"60lines", hook60()},
		{"60lines+sync", strings.Replace(strings.Replace(hook60(), "import (\n", "import (\n\t\"sync\"\n", 1), "var e entry\n", "var mu sync.Mutex\nmu.Lock()\nmu.Unlock()\nvar e entry\n", 1)},
	} {
		b.Run(bc.name, func(b *testing.B) { loadedMemory(b, bc.code) })
	}
}

func loadedMemory(b *testing.B, code string) {
	const hooks = 100
	src := Source{Type: TypeGoCode, Arg: code}
	item := hookbot.Item{Payload: "<entry><title>word3</title><content>x</content></entry>"}
	var perHook, perUnloaded float64
	for i := 0; i < b.N; i++ {
		progs := make([]*Program, hooks)
		before := heapInUse()
		for j := range progs {
			p, err := Parse(src)
			if err != nil {
				b.Fatal(err)
			}
			progs[j] = p
		}
		unloaded := heapInUse()
		for _, p := range progs {
			if err := p.Run(context.Background(), nopBot{}, item); err != nil {
				b.Fatal(err)
			}
		}
		loaded := heapInUse()
		perUnloaded = float64(unloaded-before) / hooks
		perHook = float64(loaded-before) / hooks
		for _, p := range progs {
			p.Unload()
		}
	}
	b.ReportMetric(perHook, "bytes/hook")
	b.ReportMetric(perUnloaded, "bytes/unloaded-hook")
}

// heapInUse returns the live heap and goroutine stacks after a full
// collection.
func heapInUse() int64 {
	goruntime.GC()
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// BenchmarkParse60Lines measures Parse, the cheap path for hooks that
// were compiled before (restored at start).
func BenchmarkParse60Lines(b *testing.B) {
	src := Source{Type: TypeGoCode, Arg: hook60()}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
