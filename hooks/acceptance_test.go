package hooks

// Acceptance tests of issue 3 that belong to the registry and the
// executor, with real go_code hooks compiled by package runtime.

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"hookbot/storage"
)

// TestAcceptanceFailures: a hook that panics, returns an error, spins
// forever or blocks on a channel is recorded failed or timed out within
// Timeout+1s, while a fast hook on the same node keeps running.
func TestAcceptanceFailures(t *testing.T) {
	const timeout = time.Second
	e := newRealEnv(t, Options{Timeout: timeout, Workers: 4})
	tests := []struct {
		name, code, outcome, errText string
	}{
		{"panic", `panic("aie")`, storage.OutcomePanic, "aie"},
		{"error", `return errors.New("bad item " + item.ID)`, storage.OutcomeError, "bad item first"},
		{"spin", `for {
		}`, storage.OutcomeTimeout, "deadline exceeded"},
		{"block", `ch := make(chan int)
		<-ch
		return nil`, storage.OutcomeTimeout, "deadline exceeded"},
	}
	ids := map[string]string{}
	for _, tc := range tests {
		code := tc.code
		if strings.Contains(code, "errors.") {
			code = "import \"errors\"\n" + code
		}
		ids[tc.name] = e.create(Hook{Node: "bad", Arg: code}).ID
	}
	fast := e.create(Hook{Node: "good", Arg: `bot.Log("saw " + item.ID)
		return bot.Send("fast", item.ID)`})

	start := time.Now()
	e.m.Dispatch(item("bad", "first"))
	e.m.Dispatch(item("good", "first"))
	// While the slow hooks hold three workers, the fast hook keeps
	// running on the fourth.
	var lat []time.Duration
	for i := range 10 {
		id := strconv.Itoa(i)
		sent := time.Now()
		e.m.Dispatch(item("good", id))
		e.waitRuns(timeout, "fast run of "+id, func(rs []RunRecord) bool {
			for _, r := range rs {
				if r.HookID == fast.ID && r.Item.ID == id {
					return true
				}
			}
			return false
		})
		lat = append(lat, time.Since(sent))
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(start); d > timeout {
		t.Errorf("10 fast runs took %v, more than the slow hooks' timeout: they waited for them", d)
	}
	t.Logf("fast hook latencies while slow hooks run: %v", lat)

	rs := e.waitRuns(timeout+time.Second, "a record of every failing hook", func(rs []RunRecord) bool {
		for _, tc := range tests {
			if countOutcome(rs, ids[tc.name], "") == 0 {
				return false
			}
		}
		return true
	})
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("failures recorded after %v", d)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range rs {
				if r.HookID != ids[tc.name] {
					continue
				}
				if r.Outcome != tc.outcome || r.Err == nil || !strings.Contains(r.Err.Error(), tc.errText) {
					t.Errorf("outcome %s, err %v; want %s with %q", r.Outcome, r.Err, tc.outcome, tc.errText)
				}
				if r.Duration > timeout+time.Second {
					t.Errorf("recorded after %v", r.Duration)
				}
			}
		})
	}
	if got := e.host.Sent("fast"); len(got) < 11 {
		t.Errorf("fast hook sent %d messages, want 11", len(got))
	}
	// The failing hooks run again (their interpreters rebuilt).
	e.m.Dispatch(item("bad", "second"))
	e.waitRuns(timeout+2*time.Second, "second round", func(rs []RunRecord) bool {
		for _, tc := range tests {
			if countOutcome(rs, ids[tc.name], tc.outcome) != 2 {
				return false
			}
		}
		return true
	})
	e.m.Flush()
	runs, err := e.m.Runs(context.Background(), fast.ID)
	if err != nil || len(runs) != 11 || !reflect.DeepEqual(runs[0].Log, []string{"saw first"}) {
		t.Errorf("stored runs of the fast hook: %d, %v, first log %q", len(runs), err, runs[0].Log)
	}
}

// TestAcceptanceOrder: 1000 events on one node reach a hook in order while
// 4 workers serve other hooks.
func TestAcceptanceOrder(t *testing.T) {
	e := newRealEnv(t, Options{Workers: 4, Timeout: 10 * time.Second})
	e.create(Hook{Node: "ordered", Arg: `return bot.Send("ordered", item.ID)`})
	for i := range 8 {
		e.create(Hook{Node: fmt.Sprintf("other%d", i), Arg: `import "fmt"
			s := 0
			for i := 0; i < 1000; i++ {
				s += i
			}
			bot.Log(fmt.Sprint(s))
			return nil`})
	}
	const n = 1000
	for i := range n {
		for j := range 8 {
			if i%4 == 0 {
				e.m.Dispatch(item(fmt.Sprintf("other%d", j), strconv.Itoa(i)))
			}
		}
		e.m.Dispatch(item("ordered", strconv.Itoa(i)))
	}
	e.waitRuns(60*time.Second, "all runs", func(rs []RunRecord) bool { return len(rs) == n+8*n/4 })
	for _, r := range e.records() {
		if r.Outcome != storage.OutcomeOK {
			t.Fatalf("run failed: %+v", r)
		}
	}
	got := e.host.Sent("ordered")
	if len(got) != n {
		t.Fatalf("hook ran %d times, want %d", len(got), n)
	}
	for i, id := range got {
		if id != strconv.Itoa(i) {
			t.Fatalf("run %d got item %s: out of order", i, id)
		}
	}
}

// TestAcceptanceRegistry: persistent hooks survive closing and reopening
// the database, temporary ones do not; deleting by filter with 3 matches
// deletes 3; subscriptions follow the first and last hook of a node; a
// failure to store refuses the creation.
func TestAcceptanceRegistry(t *testing.T) {
	e := newRealEnv(t, Options{})
	ctx := context.Background()
	code := `bot.Log(item.ID)
	return nil`
	var persistent []Hook
	for i := range 3 {
		persistent = append(persistent, e.create(Hook{Node: "news", Arg: code, Persistent: true, Events: []string{"items", strconv.Itoa(i)}[:1]}))
	}
	temp := e.create(Hook{Node: "news", Arg: code})
	other := e.create(Hook{Node: "other", Arg: code, Persistent: true})
	if got := e.ps.count("pubsub.example.org", "news"); got != 1 {
		t.Errorf("subscribed %d times to news for 4 hooks", got)
	}
	e.close()
	e.open(Options{})
	if err := e.m.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range e.m.List("") {
		if h.State != StateSubscribed {
			t.Errorf("hook %s state %q after restart", h.ID, h.State)
		}
		ids = append(ids, h.ID)
	}
	want := []string{persistent[0].ID, persistent[1].ID, persistent[2].ID, other.ID}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("after reopen: %v, want %v (temporary %s gone)", ids, want, temp.ID)
	}
	// Restored hooks run.
	e.m.Dispatch(item("news", "x"))
	e.waitRuns(10*time.Second, "3 runs", func(rs []RunRecord) bool { return len(rs) == 3 })

	n, err := e.m.DeleteMatching(ctx, Filter{Node: "news", Type: TypeGoCode, Arg: code})
	if err != nil || n != 3 {
		t.Fatalf("DeleteMatching = %d, %v; want 3", n, err)
	}
	// The fake service does not keep state across e.open: check the calls.
	if calls := e.ps.Calls(); calls[len(calls)-1] != "unsub pubsub.example.org news" {
		t.Errorf("last PubSub calls %v, want an unsubscribe from news", calls)
	}
	e.close()
	e.open(Options{})
	if hs := e.m.List(""); len(hs) != 1 || hs[0].ID != other.ID {
		t.Errorf("after delete and reopen: %+v, want only %s", hs, other.ID)
	}

	if _, err := e.db.SQL().Exec(`CREATE TRIGGER full BEFORE INSERT ON hooks BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Create(ctx, Hook{Owner: "a@x", Service: "s", Node: "fresh", Type: TypeGoCode, Arg: code, Persistent: true}); err == nil {
		t.Error("creation reported although the hook could not be stored")
	}
	if hs := e.m.ByNode("s", "fresh"); len(hs) != 0 || e.ps.count("s", "fresh") != 0 {
		t.Errorf("failed creation left %d hooks and %d subscriptions", len(hs), e.ps.count("s", "fresh"))
	}
}
