package hooks

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"hookbot/hooks/hookbot"
	"hookbot/internal/testutil"
	"hookbot/storage"
)

// Orphan subscriptions: recorded subscriptions that no stored hook uses
// when the bot starts (temporary hooks, a creation cut short) are ended
// by the first Resume.

// flakyPubSub is fakePubSub whose Unsubscribe can fail.
type flakyPubSub struct {
	*fakePubSub
	mu sync.Mutex
	// unsubErr, if set, is called instead of the fake's Unsubscribe
	// while it returns an error.
	unsubErr func(ctx context.Context) error
}

func (p *flakyPubSub) Unsubscribe(ctx context.Context, service, node string) error {
	p.mu.Lock()
	f := p.unsubErr
	p.mu.Unlock()
	if f != nil {
		if err := f(ctx); err != nil {
			p.fakePubSub.mu.Lock()
			p.calls = append(p.calls, "unsub-failed "+service+" "+node)
			p.fakePubSub.mu.Unlock()
			return err
		}
	}
	return p.fakePubSub.Unsubscribe(ctx, service, node)
}

// restart closes the Manager and its database and opens them again on
// the same file, with ps (e.ps if nil) and a logger writing to log (none
// if nil). e.ps keeps its subscriptions: the service outlives the bot.
func (e *env) restart(ps PubSub, log *testutil.SyncBuffer) {
	e.t.Helper()
	e.close()
	db, err := storage.Open(context.Background(), e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.db = db
	if ps == nil {
		ps = e.ps
	}
	opts := Options{DB: db, PubSub: ps, Host: e.host, Logger: slog.New(slog.DiscardHandler)}
	if log != nil {
		opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	m, err := newManager(context.Background(), opts, e.comp.compile)
	if err != nil {
		e.t.Fatal(err)
	}
	e.m = m
	e.closed = false
}

// recorded returns the subscriptions recorded in the database.
func (e *env) recorded() []Subscription {
	e.t.Helper()
	rs, err := e.db.Subscriptions(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var subs []Subscription
	for _, r := range rs {
		subs = append(subs, Subscription{r.Service, r.Node})
	}
	return subs
}

// callsSince returns the PubSub calls made after the first n.
func (e *env) callsSince(n int) []string {
	return e.ps.Calls()[n:]
}

func countCalls(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}

func wantRecorded(t *testing.T, e *env, what string, want ...Subscription) {
	t.Helper()
	if got := e.recorded(); !slices.Equal(got, want) {
		t.Errorf("%s: recorded subscriptions %v, want %v", what, got, want)
	}
}

var (
	subA = Subscription{testService, "a"}
	subB = Subscription{testService, "b"}
	subC = Subscription{testService, "c"}
)

// TestOrphanTemporaryHook: after a restart, the node of a temporary hook
// is unsubscribed from, once; the node of a persistent hook is
// subscribed to again and still runs its hook.
func TestOrphanTemporaryHook(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	seen := recorderProg(e, "rec")
	e.create(Hook{Node: "a", Arg: "ok"})
	e.create(Hook{Node: "b", Arg: "rec", Persistent: true})
	wantRecorded(t, e, "before the restart", subA, subB)

	var log testutil.SyncBuffer
	e.restart(nil, &log)
	n := len(e.ps.Calls())
	wantRecorded(t, e, "after the restart, before Resume", subA, subB)
	e.m.Resume(context.Background())
	calls := e.callsSince(n)
	if countCalls(calls, "unsub "+testService+" a") != 1 || countCalls(calls, "sub "+testService+" b") != 1 ||
		countCalls(calls, "unsub "+testService+" b") != 0 || countCalls(calls, "sub "+testService+" a") != 0 {
		t.Errorf("calls at Resume %v; want a unsubscribed once, b subscribed once", calls)
	}
	if got := e.ps.count(testService, "a"); got != 0 {
		t.Errorf("subscription count of a = %d, want 0", got)
	}
	if got := e.ps.count(testService, "b"); got != 2 {
		t.Errorf("subscription count of b = %d, want 2 (create and resume)", got)
	}
	wantRecorded(t, e, "after Resume", subB)
	if l := log.String(); !strings.Contains(l, `level=INFO msg="unsubscribed from a node no hook uses any more" service=`+testService+" node=a") {
		t.Errorf("log lacks the removed orphan:\n%s", l)
	}

	// A second Resume (a reconnect) has no orphan left.
	n = len(e.ps.Calls())
	e.m.Resume(context.Background())
	if calls := e.callsSince(n); !slices.Equal(calls, []string{"sub " + testService + " b"}) {
		t.Errorf("calls at the second Resume %v, want b subscribed only", calls)
	}
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "a", "x", "1"), notif("items", "b", "y", "2")}})
	waitSeen(t, seen, []string{"items y 2"})
}

// TestOrphanCrashedCreation: a subscription recorded and made for a
// persistent hook that was never stored (the bot died in between) is
// ended like a temporary hook's.
func TestOrphanCrashedCreation(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	e.create(Hook{Node: "b", Arg: "ok", Persistent: true})
	ctx := context.Background()
	// What Create did before the crash: record, then subscribe.
	if err := e.db.AddSubscription(ctx, subC.Service, subC.Node); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ps.Subscribe(ctx, subC.Service, subC.Node); err != nil {
		t.Fatal(err)
	}
	e.restart(nil, nil)
	n := len(e.ps.Calls())
	e.m.Resume(ctx)
	calls := e.callsSince(n)
	if countCalls(calls, "unsub "+testService+" c") != 1 || countCalls(calls, "unsub "+testService+" b") != 0 {
		t.Errorf("calls at Resume %v; want c unsubscribed once, b not", calls)
	}
	if got := e.ps.count(testService, "c"); got != 0 {
		t.Errorf("subscription count of c = %d, want 0", got)
	}
	wantRecorded(t, e, "after Resume", subB)
}

// TestOrphanHookedBeforeResume: an orphan whose node gets a hook before
// Resume is that hook's subscription now: not unsubscribed, still
// recorded, and ended when that hook is deleted.
func TestOrphanHookedBeforeResume(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	e.create(Hook{Node: "a", Arg: "ok"})
	e.restart(nil, nil)
	h := e.create(Hook{Node: "a", Arg: "ok"})
	n := len(e.ps.Calls())
	e.m.Resume(context.Background())
	if calls := e.callsSince(n); countCalls(calls, "unsub "+testService+" a") != 0 {
		t.Errorf("calls at Resume %v; want a not unsubscribed", calls)
	}
	wantRecorded(t, e, "after Resume", subA)
	if _, err := e.m.Delete(context.Background(), []string{h.ID}); err != nil {
		t.Fatal(err)
	}
	wantRecorded(t, e, "after the hook was deleted")
	// Nothing left for the next Resume.
	n = len(e.ps.Calls())
	e.m.Resume(context.Background())
	if calls := e.callsSince(n); len(calls) != 0 {
		t.Errorf("calls at the next Resume %v, want none", calls)
	}
}

// TestOrphanUnsubscribeFails: an unsubscription that gets no answer (the
// connection went away: ctx canceled) keeps the record and is tried
// again at the next Resume; one the service refuses (not subscribed, no
// such node) drops the record: there is nothing to undo.
func TestOrphanUnsubscribeFails(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(ctx context.Context, cancel context.CancelFunc) error
		wantKept  bool
		wantRetry bool
	}{
		{"connection lost", func(ctx context.Context, cancel context.CancelFunc) error {
			cancel()
			return ctx.Err()
		}, true, true},
		{"service error", func(context.Context, context.CancelFunc) error {
			return errors.New("not subscribed (unexpected-request)")
		}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.comp.set("ok", okHook)
			e.create(Hook{Node: "a", Arg: "ok"})
			e.create(Hook{Node: "b", Arg: "ok", Persistent: true})

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ps := &flakyPubSub{fakePubSub: e.ps}
			ps.unsubErr = func(c context.Context) error { return tc.fail(c, cancel) }
			var log testutil.SyncBuffer
			e.restart(ps, &log)
			e.m.Resume(ctx)
			if tc.wantKept {
				wantRecorded(t, e, "after the failed Resume", subA, subB)
			} else {
				wantRecorded(t, e, "after the failed Resume", subB)
				if l := log.String(); !strings.Contains(l, "level=INFO") || !strings.Contains(l, "not subscribed") {
					t.Errorf("log lacks the failure at Info:\n%s", l)
				}
			}

			ps.mu.Lock()
			ps.unsubErr = nil
			ps.mu.Unlock()
			n := len(e.ps.Calls())
			e.m.Resume(context.Background())
			retried := countCalls(e.callsSince(n), "unsub "+testService+" a") == 1
			if retried != tc.wantRetry {
				t.Errorf("unsubscribed from a at the next Resume: %v, want %v (calls %v)", retried, tc.wantRetry, e.callsSince(n))
			}
			wantRecorded(t, e, "after the next Resume", subB)
		})
	}
}

// TestSubscriptionRecords: Create records the subscription of a node's
// first hook, and removes the record when the creation fails and the
// bot is not subscribed.
func TestSubscriptionRecords(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	ctx := context.Background()
	e.ps.refuse["closed"] = errors.New("the node is closed (closed-node)")
	if _, err := e.m.Create(ctx, Hook{Owner: "a@x", Service: testService, Node: "closed", Type: TypeGoCode, Arg: "ok"}); err == nil {
		t.Fatal("creation on a refused node succeeded")
	}
	wantRecorded(t, e, "after a refused subscription")

	_, err := e.db.SQL().Exec(`CREATE TRIGGER full BEFORE INSERT ON hooks BEGIN SELECT RAISE(ABORT, 'disk full'); END`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Create(ctx, Hook{Owner: "a@x", Service: testService, Node: "c", Type: TypeGoCode, Arg: "ok", Persistent: true}); err == nil {
		t.Fatal("creation with a failing store succeeded")
	}
	wantRecorded(t, e, "after a failed store")
	if _, err := e.db.SQL().Exec(`DROP TRIGGER full`); err != nil {
		t.Fatal(err)
	}

	a1 := e.create(Hook{Node: "a", Arg: "ok"})
	a2 := e.create(Hook{Node: "a", Arg: "ok", Persistent: true})
	wantRecorded(t, e, "with hooks on a", subA)
	if _, err := e.m.Delete(ctx, []string{a1.ID}); err != nil {
		t.Fatal(err)
	}
	wantRecorded(t, e, "with one hook left on a", subA)
	if _, err := e.m.Delete(ctx, []string{a2.ID}); err != nil {
		t.Fatal(err)
	}
	wantRecorded(t, e, "after the last hook on a")
}
