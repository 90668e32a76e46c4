package runtime

import (
	"context"
	"path"
	"strings"
	"testing"

	"github.com/traefik/yaegi/stdlib"

	"hookbot/hooks/hookbot"
)

// TestStandardPackages checks that every package of yaegi's standard
// library but unsafe and syscall is one hooks may import, and nothing
// else is.
func TestStandardPackages(t *testing.T) {
	n := 0
	for key := range stdlib.Symbols {
		p := path.Dir(key)
		if key == "." || strings.HasPrefix(key, "github.com/") {
			continue // not a standard package
		}
		n++
		if !isStd(p) {
			t.Errorf("%s is not a standard package", p)
		}
	}
	if n < 140 {
		t.Errorf("only %d standard packages", n)
	}
	for _, p := range []string{"unsafe", "syscall", "hookbot", "github.com/traefik/yaegi/stdlib", "iter"} {
		if isStd(p) {
			t.Errorf("%s is a standard package", p)
		}
	}
}

// TestImportsRun runs a hook that uses many standard packages, their
// interface wrappers and MapTypes.
func TestImportsRun(t *testing.T) {
	code := `package h

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"hookbot"
)

type point struct{ X, Y int }

type name string

func (n name) MarshalJSON() ([]byte, error) { return []byte(strconv(string(n))), nil }

func strconv(s string) string { return "\"[" + s + "]\"" }

type stringer struct{}

func (stringer) String() string { return "stringer!" }

// reader implements io.WriterTo, which io.Copy uses.
type reader struct{ bot hookbot.Bot }

func (r reader) Read(p []byte) (int, error) { return 0, io.EOF }

func (r reader) WriteTo(w io.Writer) (int64, error) {
	r.bot.Log("WriteTo")
	n, err := io.WriteString(w, "via WriteTo")
	return int64(n), err
}

func Hook(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {
	b, err := json.Marshal(map[string]interface{}{"p": point{1, 2}})
	if err != nil {
		return err
	}
	bot.Log(string(b))
	// MapTypes: a script type given to json.Marshal is a json.Marshaler.
	if b, err = json.Marshal(name("x")); err != nil {
		return err
	}
	bot.Log(string(b))
	var p point
	if err := json.Unmarshal([]byte(` + "`" + `{"X":3,"Y":4}` + "`" + `), &p); err != nil {
		return err
	}
	bot.Log(fmt.Sprint(p.X+p.Y, " ", stringer{}))

	u, err := url.Parse("https://example.org/a b?q=1")
	if err != nil {
		return err
	}
	bot.Log(u.Host + " " + u.Query().Get("q") + " " + u.EscapedPath())

	f := new(big.Int).Exp(big.NewInt(2), big.NewInt(100), nil)
	bot.Log(f.String())

	d, _ := time.ParseDuration("1h30m")
	bot.Log(d.String() + " " + time.Unix(0, 0).UTC().Format(time.RFC3339))

	var mu sync.Mutex
	var once sync.Once
	n := 0
	for i := 0; i < 3; i++ {
		mu.Lock()
		once.Do(func() { n += 10 })
		n++
		mu.Unlock()
	}
	bot.Log(fmt.Sprint(n))

	var buf bytes.Buffer
	l := log.New(&buf, "p: ", 0)
	l.Printf("%d", 7)
	bot.Log(strings.TrimSpace(buf.String()))

	s := []string{"b", "c", "a"}
	sort.Strings(s)
	bot.Log(strings.Join(s, ","))

	buf.Reset()
	if _, err := io.Copy(&buf, reader{bot}); err != nil {
		return err
	}
	bot.Log(buf.String())

	defer func() { bot.Log(fmt.Sprint("recovered: ", recover())) }()
	l.Fatal("fatal")
	return nil
}
`
	file := writeFile(t, t.TempDir(), "h.go", code)
	p, err := Compile(context.Background(), Source{Type: TypeGoFile, Arg: file})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	bot := &fakeBot{}
	if err := p.Run(context.Background(), bot, hookbot.Item{ID: "x"}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		`{"p":{"X":1,"Y":2}}`,
		`"[x]"`,
		"7 stringer!",
		"example.org 1 /a%20b",
		"1267650600228229401496703205376",
		"1h30m0s 1970-01-01T00:00:00Z",
		"13",
		"p: 7",
		"a,b,c",
		"WriteTo",
		"via WriteTo",
		"recovered: fatal",
	}
	if got := bot.Logs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestHiddenSymbols checks that the functions hiddenSymbols names are
// not there, and the rest of their packages is.
func TestHiddenSymbols(t *testing.T) {
	for _, code := range []string{
		"import \"time\"\ntime.AfterFunc(time.Second, func() {})",
		"import \"context\"\ncontext.AfterFunc(ctx, func() {})",
		"import \"runtime\"\nruntime.SetFinalizer(item, nil)",
	} {
		if _, err := Compile(context.Background(), Source{Type: TypeGoCode, Arg: code}); err == nil {
			t.Errorf("%q compiles", code)
		}
	}
	code := "import (\"context\"; \"runtime\"; \"time\")\n" +
		"c, cancel := context.WithTimeout(ctx, time.Hour)\ncancel()\n" +
		"bot.Log(c.Err().Error() + \" \" + runtime.GOOS)"
	if got := runCode(t, code); !strings.HasPrefix(got, "context canceled ") {
		t.Errorf("logs %q", got)
	}
}

// runCode compiles and runs go_code once and returns its Log lines
// joined by "|".
func runCode(t *testing.T, code string) string {
	t.Helper()
	p, err := Compile(context.Background(), Source{Type: TypeGoCode, Arg: code})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	bot := &fakeBot{}
	if err := p.Run(context.Background(), bot, hookbot.Item{}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return strings.Join(bot.Logs(), "|")
}

// TestPackageNameNotLastElement: a standard package whose name is not the
// last element of its import path (math/rand/v2 is package rand) can be
// imported like any other.
func TestPackageNameNotLastElement(t *testing.T) {
	code := "import (\"fmt\"; \"math/rand/v2\")\nbot.Log(fmt.Sprint(rand.IntN(1), rand.Int64N(1)))"
	if got := runCode(t, code); got != "0 0" {
		t.Errorf("logs %q, want \"0 0\"", got)
	}
}
