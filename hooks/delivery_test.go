package hooks

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"hookbot/hooks/hookbot"
	"hookbot/storage"
)

const testService = "pubsub.example.org"

func notif(kind, node, id, payload string) hookbot.Item {
	return hookbot.Item{Kind: kind, Service: testService, Node: node, ID: id, Payload: payload, Time: time.Now()}
}

// recorder returns a fake program that records "<kind> <id> <payload>"
// of every run, and a func returning what it recorded.
func recorderProg(e *env, name string) func() []string {
	var mu sync.Mutex
	var seen []string
	e.comp.set(name, func(ctx context.Context, bot hookbot.Bot, it hookbot.Item) error {
		mu.Lock()
		seen = append(seen, it.Kind+" "+it.ID+" "+it.Payload)
		mu.Unlock()
		return nil
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// waitSeen waits until seen returns want, and checks that nothing more
// comes within a short while.
func waitSeen(t *testing.T, seen func() []string, want []string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(seen()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := seen(); !slices.Equal(got, want) {
		t.Fatalf("runs = %q\nwant   %q", got, want)
	}
}

func TestDeliveryDedupe(t *testing.T) {
	e := newEnv(t, Options{})
	items := recorderProg(e, "items")
	others := recorderProg(e, "others")
	e.create(Hook{Node: "news", Arg: "items"})
	e.create(Hook{Node: "news", Arg: "others", Events: []string{"retract", "purge", "delete"}})
	for _, n := range []Notification{
		{Items: []hookbot.Item{notif("items", "news", "i1", "<a/>")}},
		{Items: []hookbot.Item{notif("items", "news", "i1", "<a/>")}},                // duplicate
		{Items: []hookbot.Item{notif("items", "news", "i1", "<a/>")}, Delayed: true}, // delayed copy
		{Items: []hookbot.Item{notif("items", "news", "i1", "<b/>")}},                // new payload
		{Items: []hookbot.Item{notif("items", "news", "i2", "<c/>"), notif("items", "news", "i3", "<d/>")}},
		{Items: []hookbot.Item{notif("retract", "news", "i2", "")}, Delayed: true}, // stored copy: dropped
		{Items: []hookbot.Item{notif("retract", "news", "i2", "")}},
		{Items: []hookbot.Item{notif("items", "news", "i2", "<c/>")}}, // republished after retract
		{Items: []hookbot.Item{notif("purge", "news", "", "")}},
		{Items: []hookbot.Item{notif("items", "elsewhere", "x", "<x/>")}}, // no hook there
		{Items: []hookbot.Item{notif("delete", "news", "", "")}},
	} {
		e.m.Receive(n)
	}
	waitSeen(t, items, []string{"items i1 <a/>", "items i1 <b/>", "items i2 <c/>", "items i3 <d/>", "items i2 <c/>"})
	waitSeen(t, others, []string{"retract i2 ", "purge  ", "delete  "})
}

func TestDeliverySeedsPresentItems(t *testing.T) {
	e := newEnv(t, Options{})
	seen := recorderProg(e, "rec")
	e.ps.setItems(testService, "news", notif("items", "news", "old1", "<a/>"), notif("items", "news", "old2", "<b/>"))
	e.create(Hook{Node: "news", Arg: "rec"})
	// A replay of the items present at creation runs nothing; a new one runs.
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", "old2", "<b/>")}})
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", "new", "<c/>")}})
	waitSeen(t, seen, []string{"items new <c/>"})
}

func TestDeliveryCatchUpHoldsLiveItems(t *testing.T) {
	e := newEnv(t, Options{})
	seen := recorderProg(e, "rec")
	e.create(Hook{Node: "news", Arg: "rec", Persistent: true})

	// While catching up, the service still has to answer: a live item
	// arrives meanwhile and must wait for the older fetched ones.
	gate := make(chan struct{})
	e.ps.mu.Lock()
	e.ps.gate = gate
	e.ps.mu.Unlock()
	e.ps.setItems(testService, "news", notif("items", "news", "a", "1"), notif("items", "news", "b", "2"))
	done := make(chan struct{})
	go func() { e.m.Resume(context.Background()); close(done) }()
	time.Sleep(50 * time.Millisecond)
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", "live", "3")}})
	time.Sleep(50 * time.Millisecond)
	if got := seen(); len(got) != 0 {
		t.Fatalf("ran %q before the catch-up was fetched", got)
	}
	close(gate)
	<-done
	waitSeen(t, seen, []string{"items a 1", "items b 2", "items live 3"})

	// A second catch-up finds nothing new.
	e.m.Resume(context.Background())
	waitSeen(t, seen, []string{"items a 1", "items b 2", "items live 3"})
	if got := e.ps.count(testService, "news"); got != 3 {
		t.Errorf("subscribe calls = %d, want 3 (create and two resumes)", got)
	}
}

func TestDeliveryJournalRunsInterruptedItemsAfterRestart(t *testing.T) {
	e := newEnv(t, Options{Workers: 2})
	started := make(chan string, 10)
	e.comp.set("slow", func(ctx context.Context, bot hookbot.Bot, it hookbot.Item) error {
		started <- it.ID
		<-ctx.Done() // until the Manager closes
		return ctx.Err()
	})
	h := e.create(Hook{Node: "news", Arg: "slow", Persistent: true})
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", "i1", "1"), notif("items", "news", "i2", "2")}})
	if id := <-started; id != "i1" {
		t.Fatalf("first run on %s", id)
	}
	e.close() // i1 cut short, i2 never started

	// The restarted bot runs both, once, in order; the code is compiled
	// again under the same name.
	seen := recorderProg(e, "slow")
	e.open(Options{})
	if _, ok := e.m.Get(h.ID); !ok {
		t.Fatalf("hook %s not restored", h.ID)
	}
	waitSeen(t, seen, []string{"items i1 1", "items i2 2"})
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", "i2", "2")}}) // a replay
	waitSeen(t, seen, []string{"items i1 1", "items i2 2"})

	// Once run, they are not run again by the next restart.
	e.close()
	seen = recorderProg(e, "slow")
	e.open(Options{})
	waitSeen(t, seen, nil)
}

func TestSettle(t *testing.T) {
	rec := func(pending int64) storage.Record {
		r := storage.Record{Pending: pending}
		if pending != 0 {
			r.Hooks = []string{"a"}
		}
		return r
	}
	for _, tc := range []struct {
		name        string
		in          storage.Batch
		wantPending []int64
		wantDone    []int64
	}{
		{"nothing done", storage.Batch{Records: []storage.Record{rec(1), rec(2)}}, []int64{1, 2}, nil},
		{"done before written", storage.Batch{Records: []storage.Record{rec(1), rec(2)}, Done: []int64{2}}, []int64{1, 0}, []int64{}},
		{"done, written earlier", storage.Batch{Records: []storage.Record{rec(3)}, Done: []int64{1}}, []int64{3}, []int64{1}},
		{"no pending entry", storage.Batch{Records: []storage.Record{rec(0)}, Done: []int64{5, 1}}, []int64{0}, []int64{5, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.in
			settle(&b)
			var pending []int64
			for _, r := range b.Records {
				pending = append(pending, r.Pending)
				if (r.Pending == 0) != (r.Hooks == nil) {
					t.Errorf("record %+v: hooks kept without pending entry, or the reverse", r)
				}
			}
			if !slices.Equal(pending, tc.wantPending) || !slices.Equal(b.Done, tc.wantDone) {
				t.Errorf("pending %v done %v, want %v %v", pending, b.Done, tc.wantPending, tc.wantDone)
			}
		})
	}
}

func TestDeliveryForgetsNodesWithoutHooks(t *testing.T) {
	e := newEnv(t, Options{})
	seen := recorderProg(e, "rec")
	h := e.create(Hook{Node: "news", Arg: "rec"})
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", "i1", "<a/>")}})
	waitSeen(t, seen, []string{"items i1 <a/>"})
	if _, err := e.m.Delete(context.Background(), []string{h.ID}); err != nil {
		t.Fatal(err)
	}
	e.m.Flush()
	if got, err := e.db.Handled(context.Background(), testService, "news"); err != nil || len(got) != 0 {
		t.Fatalf("handled items of a node without hooks = %v, %v; want none", got, err)
	}
	// A new first hook records what is on the node again: i1 is old news.
	e.ps.setItems(testService, "news", notif("items", "news", "i1", "<a/>"))
	e.create(Hook{Node: "news", Arg: "rec"})
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", "i1", "<a/>"), notif("items", "news", "i2", "<b/>")}})
	waitSeen(t, seen, []string{"items i1 <a/>", "items i2 <b/>"})
}

// TestDeliveryWritesWithoutFlush: run records and journal entries reach
// the database by themselves, within a few group-commit delays, for a
// lone item and for items that arrive while a write is due.
func TestDeliveryWritesWithoutFlush(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", func(context.Context, hookbot.Bot, hookbot.Item) error { return nil })
	h := e.create(Hook{Node: "news", Arg: "ok", Persistent: true})
	stored := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * flushDelay)
		for {
			runs, err := e.db.Runs(context.Background(), h.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d run records stored after %v, want %d", len(runs), 20*flushDelay, want)
			}
			time.Sleep(flushDelay / 4)
		}
	}
	e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", "1", "<a/>")}})
	stored(1)
	for i := range 20 {
		e.m.Receive(Notification{Items: []hookbot.Item{notif("items", "news", strconv.Itoa(i+2), "<a/>")}})
		time.Sleep(flushDelay / 7)
	}
	stored(21)
	pending, err := e.db.Pending(context.Background())
	if err != nil || len(pending) != 0 {
		t.Fatalf("journal still holds %d pending entries (%v), want none", len(pending), err)
	}
}
