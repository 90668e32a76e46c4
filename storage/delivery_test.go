package storage

import (
	"context"
	"fmt"
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

// TestWriteManyRows: a batch far longer than one multi-row insert keeps
// its order: later payloads of an id win, a retract or purge in the
// middle applies to what came before it only, and of a hook's runs the
// newest KeepRuns are kept.
func TestWriteManyRows(t *testing.T) {
	ctx := context.Background()
	db := openT(t, tempPath(t), mustMigrations(t))
	var b Batch
	want := map[string][]byte{}
	add := func(kind, id string, digest byte) {
		b.Records = append(b.Records, Record{
			Item:   Item{Kind: kind, Service: "s", Node: "n", ID: id, Received: time.Unix(0, int64(len(b.Records)+1))},
			Digest: []byte{digest},
		})
		switch kind {
		case "items":
			want[id] = []byte{digest}
		case "retract":
			delete(want, id)
		case "purge":
			clear(want)
		}
	}
	for i := range 3*rowsPerInsert + 5 {
		add("items", fmt.Sprint("i", i%50), byte(i))
		switch i {
		case rowsPerInsert + 3:
			add("retract", "i1", 0)
		case 2 * rowsPerInsert:
			add("purge", "", 0)
		}
	}
	b.KeepRuns = 10
	for i := range 2*rowsPerInsert + 7 {
		b.Runs = append(b.Runs, Run{HookID: fmt.Sprint("h", i%2), ItemID: fmt.Sprint(i), Outcome: OutcomeOK, Start: time.Unix(0, int64(i))})
	}
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := db.Handled(ctx, "s", "n")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("handled = %v\nwant      %v", got, want)
	}
	for h, first := range map[string]int{"h0": 2*rowsPerInsert + 6 - 18, "h1": 2*rowsPerInsert + 5 - 18} {
		runs, err := db.Runs(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.ItemID)
		}
		var wantIDs []string
		for i := first; len(wantIDs) < 10; i += 2 {
			wantIDs = append(wantIDs, fmt.Sprint(i))
		}
		if !reflect.DeepEqual(ids, wantIDs) {
			t.Errorf("runs of %s = %v, want %v", h, ids, wantIDs)
		}
	}
}
