package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Outcomes of a hook run.
const (
	OutcomeOK      = "ok"
	OutcomeError   = "error"
	OutcomePanic   = "panic"
	OutcomeTimeout = "timeout"
)

// Run is the record of one hook run.
type Run struct {
	HookID   string
	Kind     string // event kind of the item
	Service  string
	Node     string
	ItemID   string
	Start    time.Time
	Duration time.Duration
	Outcome  string // one of the Outcome constants
	Error    string // "" when Outcome is ok
	Log      []string
}

// Statements that store run records, prepared once (see DB.prepared).
const (
	runInsert = `INSERT INTO runs
		(hook_id, kind, service, node, item_id, started, duration, outcome, error, log)
		VALUES %[1]s`
	runTuple = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qRunTrim = `DELETE FROM runs WHERE hook_id = ?1 AND id <=
		(SELECT id FROM runs WHERE hook_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`
)

// The run insert, for 1, 2, 4, … rows.
var qRunInserts = insertForms(runInsert, runTuple)

// AddRuns stores runs in one transaction, then trims the history of each
// hook they belong to to its newest keep runs (keep ≤ 0: no trimming).
func (db *DB) AddRuns(ctx context.Context, keep int, runs ...Run) error {
	return db.Write(ctx, Batch{Runs: runs, KeepRuns: keep})
}

// addRuns is AddRuns within tx.
func addRuns(ctx context.Context, tx *sql.Tx, stmt func(string) *sql.Stmt, keep int, runs []Run) error {
	insert := newRowWriter(stmt, qRunInserts, 10)
	hooks := make(map[string]int) // runs of each hook in runs
	for _, r := range runs {
		hooks[r.HookID]++
	}
	for _, r := range runs {
		if keep > 0 && hooks[r.HookID] > keep {
			// Trimmed at the end of this transaction anyway: a batch
			// written under load holds hundreds of runs of one hook.
			hooks[r.HookID]--
			continue
		}
		log := r.Log
		if log == nil {
			log = []string{}
		}
		lines, err := json.Marshal(log)
		if err != nil {
			return fmt.Errorf("store run of hook %s: %w", r.HookID, err)
		}
		err = insert.add(ctx, r.HookID, r.Kind, r.Service, r.Node, r.ItemID,
			r.Start.UnixNano(), int64(r.Duration), r.Outcome, r.Error, string(lines))
		if err != nil {
			return fmt.Errorf("store runs: %w", err)
		}
	}
	if err := insert.flush(ctx); err != nil {
		return fmt.Errorf("store runs: %w", err)
	}
	if keep > 0 {
		trim := stmt(qRunTrim)
		for id := range hooks {
			if _, err := trim.ExecContext(ctx, id, keep); err != nil {
				return fmt.Errorf("trim runs of hook %s: %w", id, err)
			}
		}
	}
	return nil
}

// Runs returns the stored runs of a hook, oldest first.
func (db *DB) Runs(ctx context.Context, hookID string) ([]Run, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT hook_id, kind, service, node, item_id,
		started, duration, outcome, error, log FROM runs WHERE hook_id = ? ORDER BY id`, hookID)
	if err != nil {
		return nil, fmt.Errorf("runs of hook %s: %w", hookID, err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		var (
			r            Run
			started, dur int64
			lines        string
		)
		if err := rows.Scan(&r.HookID, &r.Kind, &r.Service, &r.Node, &r.ItemID,
			&started, &dur, &r.Outcome, &r.Error, &lines); err != nil {
			return nil, fmt.Errorf("runs of hook %s: %w", hookID, err)
		}
		r.Start = time.Unix(0, started)
		r.Duration = time.Duration(dur)
		if err := json.Unmarshal([]byte(lines), &r.Log); err != nil {
			return nil, fmt.Errorf("runs of hook %s: log: %w", hookID, err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("runs of hook %s: %w", hookID, err)
	}
	return runs, nil
}

// DeleteOrphanRuns deletes the runs of hooks that are not stored: those of
// memory-only hooks from before a restart, or of deleted ones.
func (db *DB) DeleteOrphanRuns(ctx context.Context) error {
	_, err := db.db.ExecContext(ctx,
		`DELETE FROM runs WHERE hook_id NOT IN (SELECT id FROM hooks)`)
	if err != nil {
		return fmt.Errorf("delete orphan runs: %w", err)
	}
	return nil
}

// DeleteRuns deletes the runs of the hooks with these ids.
func (db *DB) DeleteRuns(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		if _, err := db.db.ExecContext(ctx, `DELETE FROM runs WHERE hook_id = ?`, id); err != nil {
			return fmt.Errorf("delete runs of hook %s: %w", id, err)
		}
	}
	return nil
}
