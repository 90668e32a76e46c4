package hooks

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"hookbot/hooks/hookbot"
	"hookbot/storage"
)

func item(node, id string) hookbot.Item {
	return hookbot.Item{Kind: hookbot.KindItems, Service: "pubsub.example.org", Node: node, ID: id}
}

// TestExecutorFailures: each failing hook is recorded with its outcome
// within Timeout+1s, while a fast hook on the same node keeps running.
func TestExecutorFailures(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEnv(t, Options{Timeout: timeout, Workers: 6})
	release := make(chan struct{})
	defer close(release)
	e.comp.set("panic", func(context.Context, hookbot.Bot, hookbot.Item) error { panic("aie") })
	e.comp.set("error", func(context.Context, hookbot.Bot, hookbot.Item) error { return errBoom })
	e.comp.set("spin", func(ctx context.Context, _ hookbot.Bot, _ hookbot.Item) error {
		<-ctx.Done() // as runtime does for `for {}` and channel waits
		return ctx.Err()
	})
	e.comp.set("native", func(context.Context, hookbot.Bot, hookbot.Item) error {
		<-release // a native call that ignores ctx
		return nil
	})
	e.comp.set("fast", func(_ context.Context, bot hookbot.Bot, it hookbot.Item) error {
		bot.Log("saw " + it.ID)
		return nil
	})
	tests := []struct {
		code, outcome string
	}{
		{"panic", storage.OutcomePanic},
		{"error", storage.OutcomeError},
		{"spin", storage.OutcomeTimeout},
		{"native", storage.OutcomeTimeout},
	}
	ids := map[string]string{}
	for _, tc := range append(tests, struct{ code, outcome string }{"fast", ""}) {
		ids[tc.code] = e.create(Hook{Node: "n", Arg: tc.code}).ID
	}
	start := time.Now()
	e.m.Dispatch(item("n", "first"))
	for i := range 20 {
		e.m.Dispatch(item("n", strconv.Itoa(i)))
		time.Sleep(10 * time.Millisecond)
	}
	// The fast hook ran all 21 items while the others were stuck.
	rs := e.records()
	if n := countOutcome(rs, ids["fast"], storage.OutcomeOK); n < 15 {
		t.Errorf("fast hook ran %d times during the slow runs, want most of 21", n)
	}
	rs = e.waitRuns(timeout+time.Second, "a record of every failing hook", func(rs []RunRecord) bool {
		for _, tc := range tests {
			if countOutcome(rs, ids[tc.code], "") == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("failures recorded %v after the first dispatch", time.Since(start))
	for _, tc := range tests {
		for _, r := range rs {
			if r.HookID == ids[tc.code] && r.Item.ID == "first" {
				if r.Outcome != tc.outcome || r.Err == nil {
					t.Errorf("%s: outcome %s, err %v; want %s and an error", tc.code, r.Outcome, r.Err, tc.outcome)
				}
				if r.Duration > timeout+time.Second {
					t.Errorf("%s: recorded after %v", tc.code, r.Duration)
				}
			}
		}
	}
	e.waitRuns(2*time.Second, "21 fast runs", func(rs []RunRecord) bool { return countOutcome(rs, ids["fast"], storage.OutcomeOK) == 21 })
	for _, r := range e.records() {
		if r.HookID == ids["fast"] && (len(r.Log) != 1 || r.Log[0] != "saw "+r.Item.ID) {
			t.Errorf("fast run of %s logged %q", r.Item.ID, r.Log)
		}
	}
	// The stored records agree.
	e.m.Flush()
	for _, tc := range tests {
		runs, err := e.m.Runs(context.Background(), ids[tc.code])
		if err != nil || len(runs) == 0 || runs[0].Outcome != tc.outcome || runs[0].Error == "" {
			t.Errorf("%s: stored runs %+v, %v", tc.code, runs, err)
		}
	}
}

// TestExecutorOrder: 1000 items of one node reach a hook in order, never
// two at once, while 4 workers also serve hooks on other nodes.
func TestExecutorOrder(t *testing.T) {
	e := newEnv(t, Options{Workers: 4, Timeout: 5 * time.Second})
	var inFlight, overlaps atomic.Int32
	var got []string // written by one run at a time
	e.comp.set("order", func(_ context.Context, _ hookbot.Bot, it hookbot.Item) error {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inFlight.Add(-1)
		got = append(got, it.ID)
		return nil
	})
	e.comp.set("other", func(context.Context, hookbot.Bot, hookbot.Item) error {
		time.Sleep(50 * time.Microsecond)
		return nil
	})
	h := e.create(Hook{Node: "ordered", Arg: "order"})
	for i := range 8 {
		e.create(Hook{Node: fmt.Sprintf("other%d", i), Arg: "other"})
	}
	const n = 1000
	var done atomic.Int32
	for i := range n {
		for j := range 8 {
			e.m.Dispatch(item(fmt.Sprintf("other%d", j), strconv.Itoa(i)))
		}
		e.m.DispatchFunc(item("ordered", strconv.Itoa(i)), func() { done.Add(1) })
	}
	e.waitRuns(20*time.Second, "all runs", func(rs []RunRecord) bool { return len(rs) == 9*n })
	if overlaps.Load() != 0 {
		t.Errorf("hook ran concurrently with itself %d times", overlaps.Load())
	}
	if done.Load() != n {
		t.Errorf("done called %d times, want %d", done.Load(), n)
	}
	if len(got) != n {
		t.Fatalf("hook %s ran %d times, want %d", h.ID, len(got), n)
	}
	for i, id := range got {
		if id != strconv.Itoa(i) {
			t.Fatalf("run %d got item %s: out of order", i, id)
		}
	}
}

// TestExecutorEvents: a hook runs only for the kinds in its Events, and
// DispatchFunc calls done at once when no hook wants the item.
func TestExecutorEvents(t *testing.T) {
	e := newEnv(t, Options{Workers: 2})
	e.comp.set("ok", func(context.Context, hookbot.Bot, hookbot.Item) error { return nil })
	items := e.create(Hook{Node: "n", Arg: "ok"})
	all := e.create(Hook{Node: "n", Arg: "ok", Events: []string{"purge", "items", "retract", "delete"}})
	tests := []struct {
		kind string
		want []string
	}{
		{hookbot.KindItems, []string{items.ID, all.ID}},
		{hookbot.KindRetract, []string{all.ID}},
		{hookbot.KindPurge, []string{all.ID}},
		{hookbot.KindDelete, []string{all.ID}},
	}
	for _, tc := range tests {
		it := item("n", "x")
		it.Kind = tc.kind
		if got := e.m.Match(it); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Match(%s) = %v, want %v", tc.kind, got, tc.want)
		}
		done := make(chan struct{})
		if n := e.m.DispatchFunc(it, func() { close(done) }); n != len(tc.want) {
			t.Errorf("DispatchFunc(%s) queued %d, want %d", tc.kind, n, len(tc.want))
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("done of %s not called", tc.kind)
		}
	}
	called := false
	if n := e.m.DispatchFunc(item("elsewhere", "x"), func() { called = true }); n != 0 || !called {
		t.Errorf("DispatchFunc on an unwatched node: %d queued, done called %v", n, called)
	}
}

// TestExecutorLRU: at most MaxLoaded interpreters stay loaded.
func TestExecutorLRU(t *testing.T) {
	const max = 3
	e := newEnv(t, Options{Workers: 2, MaxLoaded: max})
	e.comp.set("ok", func(context.Context, hookbot.Bot, hookbot.Item) error { return nil })
	for i := range 10 {
		e.create(Hook{Node: fmt.Sprintf("n%d", i), Arg: "ok"})
	}
	if got := e.comp.loaded.Load(); got > max {
		t.Errorf("%d loaded after creating 10 hooks, want ≤ %d", got, max)
	}
	for round := range 3 {
		for i := range 10 {
			e.m.Dispatch(item(fmt.Sprintf("n%d", i), strconv.Itoa(round)))
		}
	}
	e.waitRuns(5*time.Second, "30 runs", func(rs []RunRecord) bool { return len(rs) == 30 })
	time.Sleep(10 * time.Millisecond) // let the last release finish
	if got := e.comp.loaded.Load(); got > max {
		t.Errorf("%d loaded after running 10 hooks, want ≤ %d", got, max)
	}
	if e.comp.unloads.Load() == 0 {
		t.Error("no program was unloaded")
	}
}

// TestExecutorDeleteQueued: deleting hooks with queued items, running or
// waiting their turn, drops the items (their done is called) and the
// executor goes on.
func TestExecutorDeleteQueued(t *testing.T) {
	e := newEnv(t, Options{Workers: 1})
	release := make(chan struct{})
	e.comp.set("block", func(context.Context, hookbot.Bot, hookbot.Item) error {
		<-release
		return nil
	})
	e.comp.set("ok", okHook)
	blocker := e.create(Hook{Node: "a", Arg: "block"})
	waiting := e.create(Hook{Node: "b", Arg: "ok"})
	survivor := e.create(Hook{Node: "c", Arg: "ok"})
	var done atomic.Int32
	count := func() { done.Add(1) }
	e.m.DispatchFunc(item("a", "1"), count) // runs and blocks the only worker
	e.m.DispatchFunc(item("a", "2"), count) // queued behind it
	e.m.DispatchFunc(item("b", "1"), count) // waits its turn in the ready queue
	e.m.DispatchFunc(item("b", "2"), count)
	time.Sleep(20 * time.Millisecond)
	if n, err := e.m.Delete(context.Background(), []string{blocker.ID, waiting.ID}); err != nil || n != 2 {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	if got := done.Load(); got != 3 {
		t.Errorf("done called %d times after delete, want 3 (the dropped items)", got)
	}
	close(release)
	e.m.DispatchFunc(item("c", "1"), count)
	e.waitRuns(timeoutShort, "the survivor's run", func(rs []RunRecord) bool { return countOutcome(rs, survivor.ID, "") == 1 })
	if got := done.Load(); got != 5 {
		t.Errorf("done called %d times, want 5", got)
	}
	if n := countOutcome(e.records(), waiting.ID, ""); n != 0 {
		t.Errorf("deleted hook ran %d times", n)
	}
}

// TestExecutorReplacesStuckWorker: with a single worker, a run stuck in
// a native call past its deadline and stopGrace is recorded as timed out
// and another worker takes its place, so other hooks keep running; the
// stuck hook gets its next item once the call returns.
func TestExecutorReplacesStuckWorker(t *testing.T) {
	const timeout = 100 * time.Millisecond
	e := newEnv(t, Options{Timeout: timeout, Workers: 1})
	release := make(chan struct{})
	e.comp.set("native", func(context.Context, hookbot.Bot, hookbot.Item) error {
		<-release // a native call that ignores ctx
		return nil
	})
	e.comp.set("fast", func(context.Context, hookbot.Bot, hookbot.Item) error { return nil })
	stuck := e.create(Hook{Node: "a", Arg: "native"}).ID
	fast := e.create(Hook{Node: "b", Arg: "fast"}).ID

	e.m.Dispatch(item("a", "1"))
	e.m.Dispatch(item("a", "2"))
	e.waitRuns(timeout+stopGrace+2*time.Second, "the stuck run recorded as timed out", func(rs []RunRecord) bool {
		return countOutcome(rs, stuck, storage.OutcomeTimeout) == 1
	})
	for i := range 3 {
		e.m.Dispatch(item("b", strconv.Itoa(i)))
	}
	e.waitRuns(2*time.Second, "3 runs of the other hook on the replacement worker", func(rs []RunRecord) bool {
		return countOutcome(rs, fast, storage.OutcomeOK) == 3
	})
	if n := countOutcome(e.records(), stuck, ""); n != 1 {
		t.Fatalf("the stuck hook has %d records while its first run is still in its native call, want 1", n)
	}
	close(release)
	// Item 2 runs (and blocks no more) once item 1's call returned.
	e.waitRuns(2*time.Second, "item 2 of the stuck hook", func(rs []RunRecord) bool {
		for _, r := range rs {
			if r.HookID == stuck && r.Item.ID == "2" && r.Outcome == storage.OutcomeOK {
				return true
			}
		}
		return false
	})
}
