package storage

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkWrite: the journal write of the event path, per item: batches
// of decided items of one node, each with the run record of its one hook,
// history trimmed to 100 runs, as the delivery loop writes them: 15 items
// a write at 300 items/s (one write per 50 ms), 6 had it been per 20 ms,
// up to 512 under load. The handled
// items of the node are trimmed to 1000 every 1000 items or so, as
// delivery does.
func BenchmarkWrite(b *testing.B) {
	for _, batch := range []int{6, 15, 64, 512} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkWrite(b, batch) })
	}
}

func benchmarkWrite(b *testing.B, batch int) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		var w Batch
		w.KeepRuns = 100
		for range batch {
			n++
			id := fmt.Sprintf("item-%d", n)
			digest := sha256.Sum256([]byte(id))
			it := Item{Kind: "items", Service: "pubsub.example.org", Node: "bench", ID: id,
				Payload: "<x xmlns='urn:bench'>" + id + "</x>", Received: now}
			w.Records = append(w.Records, Record{Item: it, Digest: digest[:]})
			w.Runs = append(w.Runs, Run{HookID: "1", Kind: "items", Service: it.Service, Node: it.Node,
				ItemID: id, Start: now, Duration: time.Microsecond, Outcome: OutcomeOK})
		}
		if err := db.Write(ctx, w); err != nil {
			b.Fatal(err)
		}
		if n%1024 < batch {
			if err := db.TrimHandled(ctx, "pubsub.example.org", "bench", 1000); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/item")
}
