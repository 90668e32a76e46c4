package hooks

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"hookbot/storage"
)

// Batching of run records: at most one transaction every flushEvery, and
// at most maxPending records waiting (beyond, new ones are dropped and
// counted in the log).
const (
	flushEvery = 50 * time.Millisecond
	maxPending = 100_000
)

// recorder stores run records in batches, one transaction each, off the
// path of the runs.
type recorder struct {
	db   *storage.DB
	keep int
	log  *slog.Logger

	flushMu sync.Mutex // one batch at a time, in order

	mu      sync.Mutex
	pending []storage.Run
	dropped int
	stopped bool

	wake chan struct{} // a record is pending
	quit chan struct{} // closed by stop
	done chan struct{} // closed when loop returns
}

func newRecorder(db *storage.DB, keep int, log *slog.Logger) *recorder {
	return &recorder{
		db: db, keep: keep, log: log,
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// add queues a record for storage.
func (r *recorder) add(rec RunRecord) {
	run := storage.Run{
		HookID: rec.HookID, Kind: rec.Item.Kind, Service: rec.Item.Service,
		Node: rec.Item.Node, ItemID: rec.Item.ID, Start: rec.Start,
		Duration: rec.Duration, Outcome: rec.Outcome, Log: rec.Log,
	}
	if rec.Err != nil {
		run.Error = rec.Err.Error()
	}
	r.mu.Lock()
	switch {
	case r.stopped || len(r.pending) >= maxPending:
		r.dropped++
	default:
		r.pending = append(r.pending, run)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// loop stores pending records until stop, then stores the last ones.
func (r *recorder) loop() {
	defer close(r.done)
	for {
		select {
		case <-r.wake:
		case <-r.quit:
			r.flush()
			return
		}
		r.flush()
		select {
		case <-time.After(flushEvery):
		case <-r.quit:
			r.flush()
			return
		}
	}
}

func (r *recorder) flush() {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch, dropped := r.pending, r.dropped
	r.pending, r.dropped = nil, 0
	r.mu.Unlock()
	if dropped > 0 {
		r.log.Warn("run records dropped", "count", dropped)
	}
	if len(batch) == 0 {
		return
	}
	if err := r.db.AddRuns(context.Background(), r.keep, batch...); err != nil {
		r.log.Error("store run records", "count", len(batch), "err", err)
	}
}

// stop stores what is pending and ends the loop; later records are
// dropped.
func (r *recorder) stop() {
	r.mu.Lock()
	stopped := r.stopped
	r.stopped = true
	r.mu.Unlock()
	if !stopped {
		close(r.quit)
	}
	<-r.done
}

// Runs returns the stored records of the runs of hook id, oldest first.
// Records reach the database in batches, a little after their runs.
func (m *Manager) Runs(ctx context.Context, id string) ([]storage.Run, error) {
	return m.opts.DB.Runs(ctx, id)
}

// Flush stores the run records that are waiting.
func (m *Manager) Flush() {
	m.rec.flush()
}
