package hooks

import (
	"log/slog"
	goruntime "runtime"
	"time"

	"hookbot/storage"
)

// Options configure a Manager. DB and PubSub are required.
type Options struct {
	DB        *storage.DB   // persistent hooks, id sequence, run records
	PubSub    PubSub        // subscriptions of the bot
	Host      Host          // side effects of hook code; nil refuses them
	HooksPath string        // directory holding src/<import path>/ (type go)
	Timeout   time.Duration // limit of one run; default 10s
	Workers   int           // runs in parallel; default GOMAXPROCS
	// MaxLoaded bounds the interpreters kept loaded; the least recently
	// run hooks beyond it are unloaded and reloaded on their next run.
	// Default 256.
	MaxLoaded int
	// CatchupItems is how many of the newest items of each node are
	// fetched after a (re)connect; default 50.
	CatchupItems int
	// KeepRuns is how many run records are kept per hook; default 100.
	KeepRuns int
	// OnRun, if set, is called after each run is recorded (not yet
	// necessarily stored), from the goroutine that ran the hook. It must
	// not block for long.
	OnRun  func(RunRecord)
	Logger *slog.Logger // default slog.Default()
}

// Defaults of Options.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultMaxLoaded = 256
	DefaultKeepRuns  = 100
	// DefaultKeepHandled is how many handled items are remembered per
	// node (at least twice CatchupItems), to recognize replays.
	DefaultKeepHandled  = 1000
	DefaultCatchupItems = 50
)

// Limits of what a run record keeps of the Log lines of a run.
const (
	MaxLogLines   = 50
	MaxLogLineLen = 500
)

// stopGrace is how long the executor waits past Timeout for a run to
// stop (a native call such as time.Sleep runs on) before it records the
// run as timed out and frees the worker. The hook itself stays busy, and
// gets no new run, until the call really returns.
const stopGrace = 500 * time.Millisecond

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Workers <= 0 {
		o.Workers = goruntime.GOMAXPROCS(0)
	}
	if o.MaxLoaded <= 0 {
		o.MaxLoaded = DefaultMaxLoaded
	}
	if o.CatchupItems <= 0 {
		o.CatchupItems = DefaultCatchupItems
	}
	if o.KeepRuns <= 0 {
		o.KeepRuns = DefaultKeepRuns
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
