// Command bench measures hookbot's end-to-end delivery against a floor.
//
// In one run, on loopback only, it starts a private Prosody whose PubSub
// component keeps nodes and items in memory, builds and starts the real
// hookbot binary as a separate process, creates (as an admin, through the
// ad-hoc create command) a go_code hook that appends "<item id> <run time>
// <receive time>" to its standard output (a file) for every run, and
// subscribes the floor to the same node: a bare mellium session in a
// child process (this binary, re-executed with BENCH_FLOOR_CHILD=1) that
// writes "<item id> <receive time>" to a pipe for every notification. A
// publisher then publishes small items and the bench compares the bot's
// runs with the floor's receipts:
//
//   - latency publish→run at a paced rate (default 300 items/s), p50/p99,
//     next to the floor's publish→receive;
//   - a burst at full speed: does the bot keep up with the floor, and are
//     runs in publish order;
//   - backlog drain: the bot is paused with SIGSTOP while items are
//     published, then resumed; runs per second until the last run;
//   - CPU time per event (paced phase; burst and drain) and RSS of the
//     bot process and of the floor process.
//
// It prints a table. It exits non-zero only when it cannot set up or
// measure, never because a target was missed.
//
//	go run ./bench [-quick] [-hookbot bin/hookbot] [-keep] [-cpuprofile FILE]
//
// `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if isFloorChild() {
		// The floor, started by the bench itself (see startFloor).
		os.Exit(floorChild())
	}
	var o Options
	flag.BoolVar(&o.Quick, "quick", false, "short smoke run (a few seconds of publishing)")
	flag.StringVar(&o.Hookbot, "hookbot", "", "hookbot binary to run (default: go build ./cmd/hookbot into the work directory)")
	flag.IntVar(&o.Rate, "rate", 300, "items per second in the paced phase")
	flag.BoolVar(&o.Keep, "keep", false, "keep the work directory (logs, database, run file)")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of hookbot during one phase to `file`")
	flag.StringVar(&o.ProfilePhase, "profile-phase", "paced", "phase to profile: paced, burst or drain")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	res.Print(os.Stdout)
}
