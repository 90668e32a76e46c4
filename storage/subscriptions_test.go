package storage

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestSubscriptions(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	db := openT(t, path, mustMigrations(t))
	a, b, c := Subscription{"pubsub.x", "a"}, Subscription{"pubsub.x", "b"}, Subscription{"alice@x", "a"}
	steps := []struct {
		name string
		add  bool
		sub  Subscription
		want []Subscription
	}{
		{"add", true, b, []Subscription{b}},
		{"add another", true, a, []Subscription{a, b}},
		{"add again is a no-op", true, a, []Subscription{a, b}},
		{"same node on another service", true, c, []Subscription{c, a, b}},
		{"delete", false, a, []Subscription{c, b}},
		{"delete unknown is a no-op", false, a, []Subscription{c, b}},
		{"delete the rest", false, b, []Subscription{c}},
	}
	for _, s := range steps {
		var err error
		if s.add {
			err = db.AddSubscription(ctx, s.sub.Service, s.sub.Node)
		} else {
			err = db.DeleteSubscription(ctx, s.sub.Service, s.sub.Node)
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, err := db.Subscriptions(ctx)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("%s: subscriptions = %v, want %v", s.name, got, s.want)
		}
	}

	// They survive reopening.
	db.Close()
	db = openT(t, path, mustMigrations(t))
	if got, err := db.Subscriptions(ctx); err != nil || !reflect.DeepEqual(got, []Subscription{c}) {
		t.Errorf("after reopen: subscriptions = %v, %v; want %v", got, err, []Subscription{c})
	}
	db.Close()
	if err := db.AddSubscription(ctx, "s", "n"); err == nil {
		t.Error("AddSubscription on a closed database succeeded")
	}
}

// TestSubscriptionsMigration: migration 4 records the nodes of the hooks
// stored before it, once each.
func TestSubscriptionsMigration(t *testing.T) {
	ctx := context.Background()
	migs := mustMigrations(t)
	var v4 int
	for i, m := range migs {
		if m.Name == "0004_subscriptions.sql" {
			v4 = i
		}
	}
	if v4 == 0 {
		t.Fatal("no migration 0004_subscriptions.sql")
	}
	tests := []struct {
		name  string
		hooks []Subscription // (service, node) of each stored hook
		want  []Subscription
	}{
		{"no hooks", nil, nil},
		{"one hook", []Subscription{{"pubsub.x", "n"}}, []Subscription{{"pubsub.x", "n"}}},
		{"hooks sharing nodes",
			[]Subscription{{"pubsub.x", "n"}, {"pubsub.x", "m"}, {"pubsub.x", "n"}, {"a@x", "n"}, {"pubsub.x", "m"}},
			[]Subscription{{"a@x", "n"}, {"pubsub.x", "m"}, {"pubsub.x", "n"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t)
			old := openT(t, path, migs[:v4])
			for i, h := range tc.hooks {
				seq, err := old.NextSeq(ctx)
				if err != nil {
					t.Fatal(err)
				}
				err = old.InsertHooks(ctx, Hook{ID: string(rune('a' + i)), Seq: seq, Owner: "o@x",
					Service: h.Service, Node: h.Node, Type: "go_code", Arg: "return nil",
					Events: []string{"items"}, Created: time.Unix(1, 0)})
				if err != nil {
					t.Fatal(err)
				}
			}
			old.Close()
			db := openT(t, path, migs)
			got, err := db.Subscriptions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("subscriptions = %v, want %v", got, tc.want)
			}
		})
	}
}
