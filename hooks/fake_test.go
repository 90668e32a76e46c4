package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hookbot/hooks/hookbot"
	"hookbot/hooks/runtime"
	"hookbot/storage"
)

// fakePubSub records subscriptions; refuse makes Subscribe fail for a node.
type fakePubSub struct {
	mu      sync.Mutex
	subs    map[Subscription]int // subscribe count minus unsubscribe count
	calls   []string
	refuse  map[string]error
	pending map[string]bool
	items   map[Subscription][]hookbot.Item // what Items returns
	gate    chan struct{}                   // if set, Items waits for it
}

func newFakePubSub() *fakePubSub {
	return &fakePubSub{subs: map[Subscription]int{}, refuse: map[string]error{}, pending: map[string]bool{}}
}

func (p *fakePubSub) Subscribe(ctx context.Context, service, node string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "sub "+service+" "+node)
	if err := p.refuse[node]; err != nil {
		return "", err
	}
	p.subs[Subscription{service, node}]++
	if p.pending[node] {
		return StatePending, nil
	}
	return StateSubscribed, nil
}

func (p *fakePubSub) Unsubscribe(ctx context.Context, service, node string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "unsub "+service+" "+node)
	p.subs[Subscription{service, node}]--
	return nil
}

func (p *fakePubSub) Items(ctx context.Context, service, node string, max int) ([]hookbot.Item, error) {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	items := p.items[Subscription{service, node}]
	if len(items) > max {
		items = items[len(items)-max:]
	}
	return append([]hookbot.Item(nil), items...), nil
}

// setItems sets the items on node.
func (p *fakePubSub) setItems(service, node string, items ...hookbot.Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.items == nil {
		p.items = map[Subscription][]hookbot.Item{}
	}
	p.items[Subscription{service, node}] = items
}

func (p *fakePubSub) count(service, node string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.subs[Subscription{service, node}]
}

func (p *fakePubSub) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// fakeHost records the messages hooks send.
type fakeHost struct {
	mu   sync.Mutex
	sent map[string][]string // to → bodies
}

func newFakeHost() *fakeHost { return &fakeHost{sent: map[string][]string{}} }

func (h *fakeHost) JID() string { return "bot@example.org/hookbot" }
func (h *fakeHost) Send(to, body string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent[to] = append(h.sent[to], body)
	return nil
}
func (h *fakeHost) Publish(service, node, id, payload string) (string, error) { return id, nil }
func (h *fakeHost) Sent(to string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.sent[to]...)
}

// fakeProg runs a Go func in place of interpreted code.
type fakeProg struct {
	run     func(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error
	unloads *atomic.Int32
	loaded  *atomic.Int32 // programs currently loaded, shared
	isLoad  atomic.Bool
}

func (p *fakeProg) Run(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error {
	if !p.isLoad.Swap(true) {
		p.loaded.Add(1)
	}
	return p.run(ctx, bot, item)
}

func (p *fakeProg) Unload() {
	p.unloads.Add(1)
	if p.isLoad.Swap(false) {
		p.loaded.Add(-1)
	}
}

// fakeCompiler compiles go_code hooks whose Arg names one of its funcs.
type fakeCompiler struct {
	mu       sync.Mutex
	funcs    map[string]func(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error
	compiles atomic.Int32
	unloads  atomic.Int32
	loaded   atomic.Int32
}

func (c *fakeCompiler) set(name string, f func(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.funcs == nil {
		c.funcs = map[string]func(ctx context.Context, bot hookbot.Bot, item hookbot.Item) error{}
	}
	c.funcs[name] = f
}

func (c *fakeCompiler) compile(ctx context.Context, src runtime.Source) (program, error) {
	c.mu.Lock()
	f := c.funcs[src.Arg]
	c.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("code:1:1: undefined: %s", src.Arg)
	}
	c.compiles.Add(1)
	p := &fakeProg{run: f, unloads: &c.unloads, loaded: &c.loaded}
	p.isLoad.Store(true)
	c.loaded.Add(1)
	return p, nil
}

type env struct {
	t      *testing.T
	path   string
	db     *storage.DB
	ps     *fakePubSub
	host   *fakeHost
	comp   *fakeCompiler
	m      *Manager
	mu     sync.Mutex
	runs   []RunRecord
	onRun  func(RunRecord)
	closed bool
	real   bool // compile with runtime, not comp
}

// newEnv returns a Manager with fake programs; newRealEnv one that
// compiles real hook code with package runtime.
func newEnv(t *testing.T, opts Options) *env { return makeEnv(t, opts, false) }

func newRealEnv(t *testing.T, opts Options) *env { return makeEnv(t, opts, true) }

func makeEnv(t *testing.T, opts Options, real bool) *env {
	t.Helper()
	e := &env{t: t, real: real, path: filepath.Join(t.TempDir(), "hooks.db"), ps: newFakePubSub(), host: newFakeHost(), comp: &fakeCompiler{}}
	e.open(opts)
	t.Cleanup(e.close)
	return e
}

// open opens the database and a Manager on it.
func (e *env) open(opts Options) {
	e.t.Helper()
	db, err := storage.Open(context.Background(), e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.db = db
	opts.DB, opts.PubSub, opts.Host = db, e.ps, e.host
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.OnRun = func(r RunRecord) {
		e.mu.Lock()
		e.runs = append(e.runs, r)
		f := e.onRun
		e.mu.Unlock()
		if f != nil {
			f(r)
		}
	}
	compile := e.comp.compile
	if e.real {
		compile = compileRuntime
	}
	m, err := newManager(context.Background(), opts, compile)
	if err != nil {
		e.t.Fatal(err)
	}
	e.m = m
	e.closed = false
}

func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	e.m.Close()
	e.db.Close()
}

func (e *env) records() []RunRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]RunRecord(nil), e.runs...)
}

// waitRuns waits until pred holds on the records, or fails after d.
func (e *env) waitRuns(d time.Duration, what string, pred func([]RunRecord) bool) []RunRecord {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		rs := e.records()
		if pred(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s; %d runs recorded", d, what, len(rs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) create(h Hook) Hook {
	e.t.Helper()
	if h.Owner == "" {
		h.Owner = "admin@example.org"
	}
	if h.Type == "" {
		h.Type = TypeGoCode
	}
	if h.Service == "" {
		h.Service = "pubsub.example.org"
	}
	got, err := e.m.Create(context.Background(), h)
	if err != nil {
		e.t.Fatalf("create %+v: %v", h, err)
	}
	return got
}

func countOutcome(rs []RunRecord, hook, outcome string) int {
	n := 0
	for _, r := range rs {
		if r.HookID == hook && (outcome == "" || r.Outcome == outcome) {
			n++
		}
	}
	return n
}

var errBoom = errors.New("boom")

const timeoutShort = 5 * time.Second
