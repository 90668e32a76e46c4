package storage

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestJournal(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	db := openT(t, path, mustMigrations(t))
	at := time.Unix(0, 1)
	item := func(kind, id string) Item {
		at = at.Add(time.Nanosecond)
		return Item{Kind: kind, Service: "pubsub.example", Node: "news", ID: id, Received: at}
	}
	steps := []struct {
		name string
		rec  Record
		want map[string][]byte // handled digests after the step
	}{
		{"item", Record{Item: item("items", "i1"), Digest: []byte{1}, Pending: 1, Hooks: []string{"a", "b"}},
			map[string][]byte{"i1": {1}}},
		{"new payload", Record{Item: item("items", "i1"), Digest: []byte{2}, Pending: 2, Hooks: []string{"a"}},
			map[string][]byte{"i1": {2}}},
		{"other item", Record{Item: item("items", "i2"), Digest: []byte{3}},
			map[string][]byte{"i1": {2}, "i2": {3}}},
		{"retract", Record{Item: item("retract", "i1"), Pending: 3, Hooks: []string{"a"}},
			map[string][]byte{"i2": {3}}},
		{"purge", Record{Item: item("purge", "")}, map[string][]byte{}},
	}
	for _, s := range steps {
		if err := db.Write(ctx, Batch{Records: []Record{s.rec}}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, err := db.Handled(ctx, "pubsub.example", "news")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("%s: handled = %v, want %v", s.name, got, s.want)
		}
	}

	// Pending entries survive reopening, oldest first, with their item.
	db.Close()
	db = openT(t, path, mustMigrations(t))
	p, err := db.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 3 || p[0].ID != 1 || !reflect.DeepEqual(p[0].Hooks, []string{"a", "b"}) ||
		p[0].Item.ID != "i1" || p[0].Item.Kind != "items" || !p[0].Item.Received.Equal(time.Unix(0, 2)) {
		t.Fatalf("pending = %+v", p)
	}
	if err := db.Write(ctx, Batch{Done: []int64{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := db.Pending(ctx); len(p) != 1 || p[0].Item.Kind != "retract" {
		t.Fatalf("pending after done = %+v", p)
	}
}

func TestTrimHandled(t *testing.T) {
	ctx := context.Background()
	db := openT(t, tempPath(t), mustMigrations(t))
	var batch []Record
	for i, id := range []string{"a", "b", "c", "d"} {
		batch = append(batch, Record{Item: Item{Kind: "items", Service: "s", Node: "n", ID: id,
			Received: time.Unix(0, int64(i+1))}, Digest: []byte{1}})
	}
	if err := db.Write(ctx, Batch{Records: batch}); err != nil {
		t.Fatal(err)
	}
	if err := db.TrimHandled(ctx, "s", "n", 2); err != nil {
		t.Fatal(err)
	}
	got, err := db.Handled(ctx, "s", "n")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]byte{"c": {1}, "d": {1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("handled after trim = %v, want %v", got, want)
	}
}
