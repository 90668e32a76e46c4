package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestMemoryStep: the memory is given back once, when allocation goes
// quiet after a busy period, and the collector's pace follows the live
// heap.
func TestMemoryStep(t *testing.T) {
	const mb = 1 << 20
	s := memoryState{last: 10 * mb, released: 10 * mb}
	for i, tc := range []struct {
		allocs, live uint64
		release      bool
		gc           int
	}{
		{10 * mb, 4 * mb, false, smallGC},                         // idle from the start: nothing to give back
		{10*mb + idleAlloc/2, 4 * mb, false, smallGC},             // a little allocation: still nothing
		{20 * mb, 5 * mb, false, smallGC},                         // busy
		{40 * mb, 6 * mb, false, smallGC},                         // busy
		{40*mb + idleAlloc/2, 6 * mb, true, smallGC},              // quiet after a busy period: release
		{40*mb + idleAlloc, 6 * mb, false, smallGC},               // still quiet: released already
		{40*mb + idleAlloc + busyAlloc/2, 6 * mb, false, smallGC}, // some allocation, not a busy period
		{200 * mb, 40 * mb, false, defaultGC},                     // a large live heap: Go's default
		{200*mb + 1, 40 * mb, true, defaultGC},                    // quiet again: release
	} {
		release, gc := s.step(tc.allocs, tc.live)
		if release != tc.release || gc != tc.gc {
			t.Errorf("step %d (allocs %d, live %d) = %v, %d; want %v, %d", i, tc.allocs, tc.live, release, gc, tc.release, tc.gc)
		}
	}
}

// TestMemoryPolicyPace: the running policy sets GOGC from the live heap,
// and leaves it alone when tuneGC is false.
func TestMemoryPolicyPace(t *testing.T) {
	orig := debug.SetGCPercent(defaultGC)
	defer debug.SetGCPercent(orig)
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	paced := defaultGC
	if live[0].Value.Uint64() < smallHeap {
		paced = smallGC
	}
	for _, tc := range []struct {
		tune bool
		want int
	}{{true, paced}, {false, defaultGC}} {
		debug.SetGCPercent(defaultGC)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { memoryPolicy(ctx, tc.tune); close(done) }()
		time.Sleep(memoryCheck / 2) // the policy paces at once, then every memoryCheck
		cancel()
		<-done
		if got := debug.SetGCPercent(defaultGC); got != tc.want {
			t.Errorf("tuneGC %v: GOGC = %d, want %d", tc.tune, got, tc.want)
		}
	}
}
