package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Item is a PubSub notification as the delivery journal keeps it.
type Item struct {
	Kind      string
	Service   string
	Node      string
	ID        string
	Publisher string
	Payload   string
	Received  time.Time
}

// Record is one decision of the delivery layer, stored by Write.
type Record struct {
	Item   Item
	Digest []byte // digest of the payload, for items
	// Pending, when not 0, keeps the item as pending under that id until
	// Done: Hooks still have to run it.
	Pending int64
	Hooks   []string
}

// Handled returns the digests of the handled items of node on service,
// by item id.
func (db *DB) Handled(ctx context.Context, service, node string) (map[string][]byte, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT item_id, digest FROM handled
		WHERE service = ? AND node = ?`, service, node)
	if err != nil {
		return nil, fmt.Errorf("load handled items of %s on %s: %w", node, service, err)
	}
	defer rows.Close()
	out := make(map[string][]byte)
	for rows.Next() {
		var id string
		var digest []byte
		if err := rows.Scan(&id, &digest); err != nil {
			return nil, fmt.Errorf("load handled items of %s on %s: %w", node, service, err)
		}
		out[id] = digest
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load handled items of %s on %s: %w", node, service, err)
	}
	return out, nil
}

// Statements of the event path, prepared once (see DB.prepared).
const (
	handledUpsert = `INSERT INTO handled (service, node, item_id, digest, seq) VALUES %[1]s
		ON CONFLICT DO UPDATE SET digest = excluded.digest, seq = excluded.seq`
	handledTuple       = `(?, ?, ?, ?, ?)`
	qHandledForget     = `DELETE FROM handled WHERE service = ? AND node = ? AND item_id = ?`
	qHandledForgetNode = `DELETE FROM handled WHERE service = ? AND node = ?`
	qPendingInsert     = `INSERT INTO pending (id, hooks, kind, service, node, item_id, publisher, payload, received)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qPendingDelete = `DELETE FROM pending WHERE id = ?`
)

// The upsert of handled items, for 1, 2, 4, … rows.
var qHandledUpserts = insertForms(handledUpsert, handledTuple)

// Batch is what one Write stores, in one transaction.
type Batch struct {
	Records  []Record // delivery decisions, in order
	Done     []int64  // pending entries whose runs are over
	Runs     []Run    // run records
	KeepRuns int      // run records kept per hook; ≤ 0 keeps all
}

// Write stores b in one transaction: the records, then the pending
// entries done, then the run records. An item is recorded as handled with
// its digest; a retract forgets the item, a purge or delete every item of
// the node, so that a later publication of the same item counts as new. A
// record with a Pending id is kept until it is done.
func (db *DB) Write(ctx context.Context, b Batch) error {
	if len(b.Records) == 0 && len(b.Done) == 0 && len(b.Runs) == 0 {
		return nil
	}
	stmts, err := db.prepared(ctx)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer tx.Rollback()
	stmt := func(q string) *sql.Stmt { return tx.StmtContext(ctx, stmts[q]) }
	upsert := newRowWriter(stmt, qHandledUpserts, 5)
	forget, forgetNode := stmt(qHandledForget), stmt(qHandledForgetNode)
	insert, remove := stmt(qPendingInsert), stmt(qPendingDelete)
	for _, r := range b.Records {
		it := r.Item
		switch it.Kind {
		case "items":
			err = upsert.add(ctx, it.Service, it.Node, it.ID, r.Digest, it.Received.UnixNano())
		case "retract":
			if err = upsert.flush(ctx); err == nil {
				_, err = forget.ExecContext(ctx, it.Service, it.Node, it.ID)
			}
		case "purge", "delete":
			if err = upsert.flush(ctx); err == nil {
				_, err = forgetNode.ExecContext(ctx, it.Service, it.Node)
			}
		}
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if r.Pending == 0 {
			continue
		}
		_, err = insert.ExecContext(ctx, r.Pending, strings.Join(r.Hooks, " "),
			it.Kind, it.Service, it.Node, it.ID, it.Publisher, it.Payload, it.Received.UnixNano())
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	if err := upsert.flush(ctx); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, id := range b.Done {
		if _, err := remove.ExecContext(ctx, id); err != nil {
			return fmt.Errorf("journal done: %w", err)
		}
	}
	if err := addRuns(ctx, tx, stmt, b.KeepRuns, b.Runs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// PendingItem is a journal entry that some hooks have not run yet.
type PendingItem struct {
	ID    int64
	Hooks []string
	Item  Item
}

// Pending returns the pending entries, oldest first.
func (db *DB) Pending(ctx context.Context) ([]PendingItem, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, hooks, kind, service, node, item_id,
		publisher, payload, received FROM pending ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("load journal: %w", err)
	}
	defer rows.Close()
	var out []PendingItem
	for rows.Next() {
		var p PendingItem
		var hooks string
		var received int64
		err := rows.Scan(&p.ID, &hooks, &p.Item.Kind, &p.Item.Service, &p.Item.Node,
			&p.Item.ID, &p.Item.Publisher, &p.Item.Payload, &received)
		if err != nil {
			return nil, fmt.Errorf("load journal: %w", err)
		}
		p.Hooks = strings.Fields(hooks)
		p.Item.Received = time.Unix(0, received)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load journal: %w", err)
	}
	return out, nil
}

// TrimHandled keeps the newest keep handled items of node on service.
func (db *DB) TrimHandled(ctx context.Context, service, node string, keep int) error {
	_, err := db.db.ExecContext(ctx, `DELETE FROM handled WHERE service = ?1 AND node = ?2 AND seq <=
		(SELECT seq FROM handled WHERE service = ?1 AND node = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?3)`,
		service, node, keep)
	if err != nil {
		return fmt.Errorf("trim handled items of %s on %s: %w", node, service, err)
	}
	return nil
}
