package hooks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hookbot/hooks/hookbot"
)

func okHook(context.Context, hookbot.Bot, hookbot.Item) error { return nil }

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	abs, _ := filepath.Abs("x.go")
	e.comp.set(abs, okHook)
	tests := []struct {
		name    string
		h       Hook
		wantErr string
		check   func(Hook) error
	}{
		{"no node", Hook{Owner: "a@x", Type: TypeGoCode, Arg: "ok"}, "node is required", nil},
		{"no owner", Hook{Node: "n", Type: TypeGoCode, Arg: "ok"}, "owner", nil},
		{"unknown type", Hook{Owner: "a@x", Node: "n", Type: "python", Arg: "ok"}, `unknown hook type "python"`, nil},
		{"unknown event", Hook{Owner: "a@x", Node: "n", Type: TypeGoCode, Arg: "ok", Events: []string{"items", "publish"}}, `unknown event "publish"`, nil},
		{"no arg", Hook{Owner: "a@x", Node: "n", Type: TypeGoCode, Arg: " \n"}, "arg is required", nil},
		{"compile error", Hook{Owner: "a@x", Node: "n", Type: TypeGoCode, Arg: "nope"}, "code:1:1: undefined: nope", nil},
		{"defaults", Hook{Owner: "a@x", Node: "n", Type: TypeGoCode, Arg: "ok"}, "", func(h Hook) error {
			if h.Service != "a@x" || !reflect.DeepEqual(h.Events, []string{"items"}) || h.State != StateSubscribed || h.Created.IsZero() {
				return fmt.Errorf("got %+v; want service a@x (PEP), events [items], state subscribed, created set", h)
			}
			if len(h.ID) == 0 || len(h.ID) > 16 || strings.Trim(h.ID, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
				return fmt.Errorf("bad id %q", h.ID)
			}
			return nil
		}},
		{"events sorted and deduplicated", Hook{Owner: "a@x", Node: "n", Type: TypeGoCode, Arg: "ok", Events: []string{"purge", "items", "purge"}}, "", func(h Hook) error {
			if !reflect.DeepEqual(h.Events, []string{"items", "purge"}) {
				return fmt.Errorf("events %v", h.Events)
			}
			return nil
		}},
		{"go_file made absolute", Hook{Owner: "a@x", Node: "n", Type: TypeGoFile, Arg: " x.go "}, "", func(h Hook) error {
			if h.Arg != abs {
				return fmt.Errorf("arg %q, want %q", h.Arg, abs)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := e.m.Create(context.Background(), tc.h)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(h); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSubscriptions: the first hook on a node subscribes, the last one
// deleted unsubscribes; a refusal refuses the creation; pending shows.
func TestSubscriptions(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	ctx := context.Background()
	e.ps.refuse["closed"] = errors.New("the node is closed (closed-node)")
	e.ps.pending["moderated"] = true

	a := e.create(Hook{Node: "n", Arg: "ok"})
	b := e.create(Hook{Node: "n", Arg: "ok"})
	if got := e.ps.count("pubsub.example.org", "n"); got != 1 {
		t.Fatalf("subscribed %d times for two hooks, want 1", got)
	}
	if _, err := e.m.Create(ctx, Hook{Owner: "a@x", Service: "pubsub.example.org", Node: "closed", Type: TypeGoCode, Arg: "ok"}); err == nil || !strings.Contains(err.Error(), "closed-node") {
		t.Errorf("refused subscription: error %v, want the service's reason", err)
	}
	if hs := e.m.ByNode("pubsub.example.org", "closed"); len(hs) != 0 {
		t.Errorf("refused hook registered: %+v", hs)
	}
	p := e.create(Hook{Node: "moderated", Arg: "ok"})
	if p.State != StatePending {
		t.Errorf("state %q, want pending", p.State)
	}
	if n, err := e.m.Delete(ctx, []string{a.ID, "unknown", a.ID}); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1", n, err)
	}
	if got := e.ps.count("pubsub.example.org", "n"); got != 1 {
		t.Errorf("unsubscribed while a hook remains (count %d)", got)
	}
	if n, err := e.m.Delete(ctx, []string{b.ID}); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1", n, err)
	}
	if got := e.ps.count("pubsub.example.org", "n"); got != 0 {
		t.Errorf("still subscribed after the last hook went (count %d)", got)
	}
	want := []Subscription{{"pubsub.example.org", "moderated"}}
	if got := e.m.Subscriptions(); !reflect.DeepEqual(got, want) {
		t.Errorf("Subscriptions = %v, want %v", got, want)
	}
	e.m.SetState("pubsub.example.org", "moderated", StateSubscribed)
	if h, _ := e.m.Get(p.ID); h.State != StateSubscribed {
		t.Errorf("state after SetState = %q", h.State)
	}
}

// TestStoreFailure: a persistent hook that cannot be stored is not
// created, and the subscription made for it is undone.
func TestStoreFailure(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	_, err := e.db.SQL().Exec(`CREATE TRIGGER full BEFORE INSERT ON hooks BEGIN SELECT RAISE(ABORT, 'disk full'); END`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Create(context.Background(), Hook{Owner: "a@x", Service: "s", Node: "n", Type: TypeGoCode, Arg: "ok", Persistent: true})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v, want the storage failure", err)
	}
	if hs := e.m.List(""); len(hs) != 0 {
		t.Errorf("hook listed after a failed store: %+v", hs)
	}
	if got, calls := e.ps.count("s", "n"), e.ps.Calls(); got != 0 || len(calls) != 2 {
		t.Errorf("subscription count %d, calls %v; want subscribe then unsubscribe", got, calls)
	}
	// A temporary hook does not touch the table.
	e.create(Hook{Service: "s", Node: "n", Arg: "ok"})
}

// TestPersistence: persistent hooks survive a restart on the same file,
// temporary ones do not, ids are never reused, and a stored hook whose
// code no longer compiles is listed with an error and does not run.
func TestPersistence(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	e.comp.set("soon broken", okHook)
	ctx := context.Background()
	p1 := e.create(Hook{Node: "n", Arg: "ok", Persistent: true, Events: []string{"items", "retract"}})
	tmp := e.create(Hook{Node: "n", Arg: "ok"})
	p2 := e.create(Hook{Owner: "user@x", Node: "m", Arg: "soon broken", Persistent: true})
	e.m.Dispatch(item("n", "1"))
	e.waitRuns(timeoutShort, "2 runs", func(rs []RunRecord) bool { return len(rs) == 2 })
	e.close()

	e.comp.set("soon broken", nil)
	e.open(Options{})
	if err := e.m.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	got := e.m.List("")
	if len(got) != 2 || got[0].ID != p1.ID || got[1].ID != p2.ID {
		t.Fatalf("after restart: %+v; want %s and %s", got, p1.ID, p2.ID)
	}
	if !got[0].Created.Equal(p1.Created) {
		t.Errorf("created %v, want %v", got[0].Created, p1.Created)
	}
	got[0].Created = p1.Created
	if !reflect.DeepEqual(got[0], p1) {
		t.Errorf("restored %+v\nwant     %+v", got[0], p1)
	}
	if !strings.HasPrefix(got[1].State, "error: ") {
		t.Errorf("broken hook state %q, want error: …", got[1].State)
	}
	if _, ok := e.m.Get(tmp.ID); ok {
		t.Errorf("temporary hook %s survived", tmp.ID)
	}
	if hs := e.m.List("user@x"); len(hs) != 1 || hs[0].ID != p2.ID {
		t.Errorf("List(user@x) = %+v", hs)
	}
	runs, err := e.m.Runs(ctx, p1.ID)
	if err != nil || len(runs) != 1 {
		t.Errorf("runs of %s after restart: %d, %v; want 1", p1.ID, len(runs), err)
	}
	if runs, _ := e.m.Runs(ctx, tmp.ID); len(runs) != 0 {
		t.Errorf("runs of the temporary hook kept: %d", len(runs))
	}
	if n := e.m.Dispatch(item("m", "1")); n != 0 {
		t.Errorf("broken hook queued %d runs", n)
	}
	next := e.create(Hook{Node: "n", Arg: "ok"})
	for _, old := range []Hook{p1, tmp, p2} {
		if next.ID == old.ID {
			t.Errorf("id %s reused", next.ID)
		}
	}
}

func TestDeleteMatching(t *testing.T) {
	e := newEnv(t, Options{})
	e.comp.set("ok", okHook)
	e.comp.set("other", okHook)
	abs, _ := filepath.Abs("f.go")
	e.comp.set(abs, okHook)
	ctx := context.Background()
	setup := func() {
		e.m.DeleteMatching(ctx, Filter{Node: "n"})
		e.m.DeleteMatching(ctx, Filter{Node: "m"})
		e.create(Hook{Service: "s1", Node: "n", Arg: "ok", Persistent: true})
		e.create(Hook{Service: "s2", Node: "n", Arg: "ok"})
		e.create(Hook{Service: "s1", Node: "n", Arg: "other"})
		e.create(Hook{Service: "s1", Node: "n", Type: TypeGoFile, Arg: "f.go"})
		e.create(Hook{Owner: "user@x", Service: "s1", Node: "n", Arg: "ok"})
		e.create(Hook{Service: "s1", Node: "m", Arg: "ok"})
	}
	tests := []struct {
		name string
		f    Filter
		want int
	}{
		{"node only", Filter{Node: "n"}, 5},
		{"service", Filter{Node: "n", Service: "s1"}, 4},
		{"type and arg: 3 matching", Filter{Node: "n", Type: TypeGoCode, Arg: "ok"}, 3},
		{"relative go_file", Filter{Node: "n", Arg: "f.go"}, 1},
		{"owner", Filter{Node: "n", Owner: "user@x"}, 1},
		{"no match", Filter{Node: "zzz"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setup()
			before := len(e.m.List(""))
			n, err := e.m.DeleteMatching(ctx, tc.f)
			if err != nil || n != tc.want {
				t.Fatalf("DeleteMatching(%+v) = %d, %v; want %d", tc.f, n, err, tc.want)
			}
			if after := len(e.m.List("")); after != before-tc.want {
				t.Errorf("%d hooks left, want %d", after, before-tc.want)
			}
			for _, h := range e.m.List("") {
				if tc.f.matches(h) {
					t.Errorf("matching hook %s left", h.ID)
				}
			}
		})
	}
	if _, err := e.m.DeleteMatching(ctx, Filter{}); err == nil {
		t.Error("a filter without node was accepted")
	}
}
