package storage

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestReceiveDedupe(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	db := openT(t, path, mustMigrations(t))
	item := func(kind, id string) Item {
		return Item{Kind: kind, Service: "pubsub.example", Node: "news", ID: id, Received: time.Unix(0, 42)}
	}
	steps := []struct {
		name string
		in   Accept
		dup  bool
		pend bool
	}{
		{"seeded item", Accept{Item: item("items", "old"), Digest: []byte{1}, Seed: true}, false, false},
		{"seeded item replayed", Accept{Item: item("items", "old"), Digest: []byte{1}, Hooks: []string{"a"}}, true, false},
		{"new item", Accept{Item: item("items", "i1"), Digest: []byte{1}, Hooks: []string{"a", "b"}}, false, true},
		{"same item again", Accept{Item: item("items", "i1"), Digest: []byte{1}, Hooks: []string{"a"}}, true, false},
		{"same id new payload", Accept{Item: item("items", "i1"), Digest: []byte{2}, Hooks: []string{"a"}}, false, true},
		{"no persistent hook", Accept{Item: item("items", "i2"), Digest: []byte{1}}, false, false},
		{"retract", Accept{Item: item("retract", "i1"), Hooks: []string{"a"}}, false, true},
		{"republished after retract", Accept{Item: item("items", "i1"), Digest: []byte{2}}, false, false},
		{"purge", Accept{Item: item("purge", "")}, false, false},
		{"republished after purge", Accept{Item: item("items", "i2"), Digest: []byte{1}}, false, false},
	}
	var batch []Accept
	for _, s := range steps {
		batch = append(batch, s.in)
	}
	// One batch must decide as the same steps one by one would.
	got, err := db.Receive(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	var pending []int64
	for i, s := range steps {
		if got[i].Duplicate != s.dup || (got[i].Pending != 0) != s.pend {
			t.Errorf("%s: got %+v, want duplicate=%v pending=%v", s.name, got[i], s.dup, s.pend)
		}
		if got[i].Pending != 0 {
			pending = append(pending, got[i].Pending)
		}
	}

	// Pending entries survive reopening, oldest first, with their item.
	db.Close()
	db = openT(t, path, mustMigrations(t))
	p, err := db.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 3 || p[0].ID != pending[0] || !reflect.DeepEqual(p[0].Hooks, []string{"a", "b"}) ||
		p[0].Item.ID != "i1" || p[0].Item.Kind != "items" || !p[0].Item.Received.Equal(time.Unix(0, 42)) {
		t.Fatalf("pending = %+v", p)
	}
	if err := db.Done(ctx, pending[0], pending[1]); err != nil {
		t.Fatal(err)
	}
	if p, _ := db.Pending(ctx); len(p) != 1 || p[0].Item.Kind != "retract" {
		t.Fatalf("pending after done = %+v", p)
	}
}

func TestTrimHandled(t *testing.T) {
	ctx := context.Background()
	db := openT(t, tempPath(t), mustMigrations(t))
	var batch []Accept
	for _, id := range []string{"a", "b", "c", "d"} {
		batch = append(batch, Accept{Item: Item{Kind: "items", Service: "s", Node: "n", ID: id}, Digest: []byte{1}})
	}
	if _, err := db.Receive(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := db.TrimHandled(ctx, "s", "n", 2); err != nil {
		t.Fatal(err)
	}
	got, err := db.Receive(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	// a and b were forgotten, so they count as new; c and d are kept.
	want := []bool{false, false, true, true}
	for i := range want {
		if got[i].Duplicate != want[i] {
			t.Errorf("%s: duplicate = %v, want %v", batch[i].Item.ID, got[i].Duplicate, want[i])
		}
	}
}
