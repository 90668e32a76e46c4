package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestMemoryPolicyReleases: after a burst of allocation, the memory is
// given back (a forced collection) once allocation goes quiet, and only
// once for one burst.
func TestMemoryPolicyReleases(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go memoryPolicy(ctx, false)
	before := forcedGCs()
	busy := make([][]byte, 0, 64)
	for range 64 {
		busy = append(busy, make([]byte, 64<<10)) // 4 MB: a busy period
	}
	runtime.KeepAlive(busy)
	deadline := time.Now().Add(5 * memoryCheck)
	for forcedGCs() == before && time.Now().Before(deadline) {
		time.Sleep(memoryCheck / 10)
	}
	after := forcedGCs()
	if after == before {
		t.Fatalf("no release within %v of idleness after a busy period", 5*memoryCheck)
	}
	time.Sleep(3 * memoryCheck)
	if n := forcedGCs(); n != after {
		t.Errorf("%d more releases while idle, want none", n-after)
	}
}

// TestMemoryPolicyPace: with a small live heap the collector runs at
// smallGC; tuneGC false leaves the setting alone.
func TestMemoryPolicyPace(t *testing.T) {
	orig := debug.SetGCPercent(defaultGC)
	defer debug.SetGCPercent(orig)
	for _, tc := range []struct {
		tune bool
		want int
	}{{true, smallGC}, {false, defaultGC}} {
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
