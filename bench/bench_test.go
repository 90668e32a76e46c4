package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"hookbot/internal/prosody"
)

// TestMain lets the test binary be the floor child, as the bench binary
// is: startFloor re-executes os.Executable(), which here is this binary.
func TestMain(m *testing.M) {
	if isFloorChild() {
		os.Exit(floorChild())
	}
	os.Exit(m.Run())
}

// TestBenchQuick runs the bench in quick mode so that the program keeps
// working; it checks that every phase delivered everything, not the
// timing targets (the machine running tests is rarely quiet).
func TestBenchQuick(t *testing.T) {
	prosody.Require(t)
	if testing.Short() {
		t.Skip("starts Prosody and hookbot")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log bytes.Buffer
	r, err := Run(ctx, Options{Quick: true, Rate: 300}, &log)
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	var out bytes.Buffer
	r.Print(&out)
	t.Logf("\n%s", out.String())

	checks := []struct {
		name      string
		got, want int
	}{
		{"paced runs", r.Paced.Runs, r.Sizes.paced},
		{"paced at floor", r.Paced.AtFloor, r.Sizes.paced},
		{"burst runs", r.Burst.Runs, r.Sizes.burst},
		{"burst at floor", r.Burst.AtFloor, r.Sizes.burst},
		{"burst reordered", r.Burst.Reordered, 0},
		{"drain runs", r.Drain.Runs, r.Sizes.backlog},
		{"drain runs while stopped", r.Drain.Early, 0},
		{"drain reordered", r.Drain.Reordered, 0},
		{"duplicate runs", r.Dups, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if r.Paced.Bot.P50 <= 0 || r.Paced.Floor.P50 <= 0 || r.Drain.RunsPerSec <= 0 || r.RSSIdle.rss <= 0 {
		t.Errorf("measurements missing: %+v", r)
	}
	// The floor is its own process: its CPU time and RSS are measured.
	if r.Paced.FloorCPUPerEvent <= 0 || r.FloorCPUBurstDrain <= 0 || r.FloorRSSIdle.rss <= 0 ||
		r.FloorRSSIdle.anon <= 0 || r.FloorRSSIdle.file <= 0 || r.FloorRSSOnline.rss <= 0 || r.FloorRSSAfter.rss <= 0 {
		t.Errorf("floor measurements missing: paced CPU/event %v, burst+drain CPU/event %v, RSS online %+v, idle %+v, after %+v",
			r.Paced.FloorCPUPerEvent, r.FloorCPUBurstDrain, r.FloorRSSOnline, r.FloorRSSIdle, r.FloorRSSAfter)
	}
	if !strings.Contains(out.String(), "latency p50") {
		t.Errorf("table has no latency row:\n%s", out.String())
	}
}

func TestReordered(t *testing.T) {
	tests := []struct {
		name string
		pos  []int
		want int
	}{
		{"in order", []int{0, 1, 2, 3}, 0},
		{"empty", nil, 0},
		{"one late", []int{1, 2, 0, 3}, 1},
		{"swapped pairs", []int{1, 0, 3, 2}, 2},
		{"missing ignored", []int{0, -1, 1, 2}, 0},
		{"reversed", []int{3, 2, 1, 0}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reordered(tt.pos); got != tt.want {
				t.Errorf("reordered(%v) = %d, want %d", tt.pos, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name string
		in   []time.Duration
		want summary
	}{
		{"empty", nil, summary{}},
		{"one", []time.Duration{time.Second}, summary{N: 1, P50: time.Second, P99: time.Second, Max: time.Second}},
		{"1..100 ms", d, summary{N: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRunLog(t *testing.T) {
	file := t.TempDir() + "/runs.txt"
	l := newRunLog(file)
	if err := l.poll(); err != nil || len(l.runs) != 0 {
		t.Fatalf("missing file: %v, %d runs", err, len(l.runs))
	}
	write := func(s string) {
		t.Helper()
		f, err := openAppend(file)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
		if err := l.poll(); err != nil {
			t.Fatal(err)
		}
	}
	write("a 10 5\nb 20")
	if len(l.runs) != 1 || l.runs[0].id != "a" || l.runs[0].ran.UnixNano() != 10 || l.runs[0].received.UnixNano() != 5 {
		t.Fatalf("after first write: %+v", l.runs)
	}
	write(" 15\na 30 25\n")
	if len(l.runs) != 2 || l.runs[1].id != "b" || l.dups != 1 {
		t.Fatalf("after second write: %+v, %d dups", l.runs, l.dups)
	}
	runs, pos := l.get([]string{"b", "x", "a"})
	if pos[0] != 1 || pos[1] != -1 || pos[2] != 0 || runs[0].ran.UnixNano() != 20 {
		t.Errorf("get: %+v %v", runs, pos)
	}
}

func openAppend(file string) (*os.File, error) {
	return os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}
