package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The bot's memory policy. While its live heap is small (the usual case:
// a few MB), the garbage collector runs only when the heap has grown to
// five times the live heap, instead of twice: under load that saves
// about a fifth of the CPU for a few MB more, and the memory is given
// back to the system once the load is over. A bot with a large live heap
// (thousands of loaded hooks) keeps Go's default. A GOGC set in the
// environment is left alone.
const (
	memoryCheck = time.Second // how often the policy looks at the heap
	idleAlloc   = 256 << 10   // allocating less than this in memoryCheck is idle
	busyAlloc   = 1 << 20     // allocating more than this since the last release is worth a release
	smallHeap   = 32 << 20    // live heap below which the collector runs less often
	smallGC     = 400         // GOGC for a small live heap
	defaultGC   = 100         // Go's default GOGC
)

// memoryPolicy applies the policy above until ctx ends: it sets the
// collector's pace from the live heap, unless tuneGC is false, and
// returns the memory the collector freed to the system once allocation
// has gone quiet after some activity. It costs a look at two runtime
// counters per memoryCheck, and one collection per busy period.
func memoryPolicy(ctx context.Context, tuneGC bool) {
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	read := func() (allocs, live uint64) {
		metrics.Read(samples)
		for _, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return 0, 0
			}
		}
		return samples[0].Value.Uint64(), samples[1].Value.Uint64()
	}
	gc := 0
	pace := func(live uint64) {
		want := defaultGC
		if live < smallHeap {
			want = smallGC
		}
		if tuneGC && want != gc {
			debug.SetGCPercent(want)
			gc = want
		}
	}
	last, live := read()
	pace(live)
	released := last
	t := time.NewTicker(memoryCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, live := read()
		pace(live)
		if now-last < idleAlloc && now-released > busyAlloc {
			debug.FreeOSMemory()
			released, _ = read()
			now = released
		}
		last = now
	}
}
