package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Idle memory release: a bot waits for events most of the time, and after
// a burst the Go runtime keeps the heap it grew mapped (up to twice the
// live heap), giving it back to the system only slowly.
const (
	idleCheck = time.Second // how often allocation is looked at
	idleAlloc = 256 << 10   // less allocated than this in idleCheck is idle
	busyAlloc = 1 << 20     // more allocated than this since the last release is worth a release
)

// releaseMemoryWhenIdle returns the memory the garbage collector freed to
// the system once allocation has gone quiet after some activity. It
// costs one look at a runtime counter per idleCheck, and one collection
// per busy period. It returns when ctx ends.
func releaseMemoryWhenIdle(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	last := read()
	released := last
	t := time.NewTicker(idleCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := read()
		if now-last < idleAlloc && now-released > busyAlloc {
			debug.FreeOSMemory()
			released = read()
			now = released
		}
		last = now
	}
}
