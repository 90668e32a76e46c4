package main

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestReleaseMemoryWhenIdle: after a burst of allocation, the memory is
// given back (a forced collection) once allocation goes quiet, and only
// once for one burst.
func TestReleaseMemoryWhenIdle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go releaseMemoryWhenIdle(ctx)
	before := forcedGCs()
	busy := make([][]byte, 0, 64)
	for range 64 {
		busy = append(busy, make([]byte, 64<<10)) // 4 MB: a busy period
	}
	runtime.KeepAlive(busy)
	deadline := time.Now().Add(5 * idleCheck)
	for forcedGCs() == before && time.Now().Before(deadline) {
		time.Sleep(idleCheck / 10)
	}
	after := forcedGCs()
	if after == before {
		t.Fatalf("no release within %v of idleness after a busy period", 5*idleCheck)
	}
	time.Sleep(3 * idleCheck)
	if n := forcedGCs(); n != after {
		t.Errorf("%d more releases while idle, want none", n-after)
	}
}
