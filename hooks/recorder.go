package hooks

import (
	"context"

	"hookbot/storage"
)

// maxPendingRuns bounds the run records waiting for their write; beyond
// it new ones are dropped and counted in the log.
const maxPendingRuns = 100_000

// record queues the record of a finished run for the next journal write:
// run records share the delivery's transactions.
func (d *delivery) record(rec RunRecord) {
	run := storage.Run{
		HookID: rec.HookID, Kind: rec.Item.Kind, Service: rec.Item.Service,
		Node: rec.Item.Node, ItemID: rec.Item.ID, Start: rec.Start,
		Duration: rec.Duration, Outcome: rec.Outcome, Log: rec.Log,
	}
	if rec.Err != nil {
		run.Error = rec.Err.Error()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || len(d.runs) >= maxPendingRuns {
		d.droppedRuns++
		return
	}
	d.runs = append(d.runs, run)
	d.nudge()
}

// Runs returns the stored records of the runs of hook id, oldest first.
// Records reach the database in batches, a little after their runs.
func (m *Manager) Runs(ctx context.Context, id string) ([]storage.Run, error) {
	return m.opts.DB.Runs(ctx, id)
}

// Flush writes the run records and delivery decisions that are waiting.
func (m *Manager) Flush() {
	if err := m.d.wait(op{}); err != nil {
		m.log.Warn("flush", "err", err)
	}
}
