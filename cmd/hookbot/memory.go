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

// memoryState is what the policy remembers between two looks.
type memoryState struct {
	last     uint64 // bytes allocated so far, at the last look
	released uint64 // bytes allocated so far, at the last release
}

// step takes the bytes allocated so far and the live heap, and says
// whether to give the freed memory back now and which GOGC to run at.
func (s *memoryState) step(allocs, live uint64) (release bool, gc int) {
	release = allocs-s.last < idleAlloc && allocs-s.released > busyAlloc
	s.last = allocs
	if release {
		s.released = allocs
	}
	gc = defaultGC
	if live < smallHeap {
		gc = smallGC
	}
	return release, gc
}

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
	allocs, live := read()
	s := memoryState{last: allocs, released: allocs}
	gc := 0
	t := time.NewTicker(memoryCheck)
	defer t.Stop()
	for {
		release, want := s.step(allocs, live)
		if release {
			debug.FreeOSMemory()
		}
		if tuneGC && want != gc {
			debug.SetGCPercent(want)
			gc = want
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		allocs, live = read()
	}
}
