package hooks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hookbot/hooks/hookbot"
	"hookbot/storage"
)

// benchManager returns a Manager on a new database, with fake PubSub and
// Host, that counts runs. Both are closed when the benchmark ends.
func benchManager(b *testing.B, runs *atomic.Int64) *Manager {
	b.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	m, err := New(context.Background(), Options{
		DB: db, PubSub: newFakePubSub(), Host: newFakeHost(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnRun:  func(RunRecord) { runs.Add(1) },
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkExecutorThroughput: 100 trivial go_code hooks on 10 nodes; each
// dispatched item runs the 10 hooks of its node. Reports runs/s.
func BenchmarkExecutorThroughput(b *testing.B) {
	var runs atomic.Int64
	m := benchManager(b, &runs)
	for i := range 100 {
		_, err := m.Create(context.Background(), Hook{Owner: "a@x", Service: "pubsub.example.org", Node: "n" + strconv.Itoa(i%10),
			Type: TypeGoCode, Arg: `bot.Log(item.ID)
			return nil`})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		m.Dispatch(item("n"+strconv.Itoa(i%10), strconv.Itoa(i)))
	}
	want := int64(b.N) * 10
	for runs.Load() < want {
		if time.Since(start) > time.Minute {
			b.Fatalf("%d of %d runs after a minute", runs.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(want)/time.Since(start).Seconds(), "runs/s")
}

// BenchmarkLoad10000: a database with 10 000 persistent hooks; reports the
// time until New returns (hooks listed and dispatchable), the time until
// every hook's code has been compiled once, and the process RSS then.
func BenchmarkLoad10000(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	dir := b.TempDir()
	path := filepath.Join(dir, "b.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	hs := make([]storage.Hook, n)
	for i := range hs {
		seq, err := db.NextSeq(ctx)
		if err != nil {
			b.Fatal(err)
		}
		hs[i] = storage.Hook{
			ID: strconv.FormatInt(seq, 36), Seq: seq, Owner: "a@x", Service: "pubsub.example.org",
			Node: "n" + strconv.Itoa(i%500), Type: string(TypeGoCode), Events: []string{"items"},
			Arg: fmt.Sprintf(`import "strings"
			if strings.Contains(item.Payload, "hook %d") {
				bot.Log("seen by hook %d")
			}
			return nil`, i, i),
			Created: time.Now(),
		}
	}
	if err := db.InsertHooks(ctx, hs...); err != nil {
		b.Fatal(err)
	}
	db.Close()
	b.ResetTimer()
	for range b.N {
		db, err := storage.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		m, err := New(ctx, Options{
			DB: db, PubSub: newFakePubSub(), Host: newFakeHost(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			b.Fatal(err)
		}
		ready := time.Since(start)
		if got := len(m.List("")); got != n {
			b.Fatalf("%d hooks loaded", got)
		}
		if err := m.WaitLoaded(ctx); err != nil {
			b.Fatal(err)
		}
		validated := time.Since(start)
		for _, h := range m.List("") {
			if h.State != StateSubscribed {
				b.Fatalf("hook %s: %s", h.ID, h.State)
			}
		}
		goruntime.GC()
		b.ReportMetric(float64(ready.Milliseconds()), "ms-ready")
		b.ReportMetric(float64(validated.Milliseconds()), "ms-validated")
		b.ReportMetric(rssMB(), "MB-RSS")
		m.Close()
		db.Close()
	}
}

// rssMB returns the resident set size of the process in MB.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkDeliveryDrain: a backlog of received notifications for one
// persistent trivial hook goes through the whole delivery path (dedupe,
// journal, dispatch, run, acknowledgement, run record). Reports runs/s.
func BenchmarkDeliveryDrain(b *testing.B) {
	var runs atomic.Int64
	m := benchManager(b, &runs)
	_, err := m.Create(context.Background(), Hook{Owner: "a@x", Service: "pubsub.example.org", Node: "news",
		Type: TypeGoCode, Arg: `return nil`, Persistent: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		it := item("news", strconv.Itoa(i))
		it.Payload = "<entry xmlns='http://www.w3.org/2005/Atom'><title>" + it.ID + "</title></entry>"
		m.Receive(Notification{Items: []hookbot.Item{it}})
	}
	for runs.Load() < int64(b.N) {
		if time.Since(start) > time.Minute {
			b.Fatalf("%d of %d runs after a minute", runs.Load(), b.N)
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
}
