package storage

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
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

// Accept is one notification offered to the journal by Receive.
type Accept struct {
	Item   Item
	Digest []byte // digest of the payload, for items; nil for other kinds
	// Seed records the item as handled without accepting it: it was on
	// the node before a hook was created.
	Seed bool
	// Hooks are the persistent hooks that must run the item: it is kept
	// as pending until Done.
	Hooks []string
}

// Accepted is what Receive decided for one Accept.
type Accepted struct {
	Duplicate bool  // already handled with the same digest: run nothing
	Pending   int64 // id of the pending entry, 0 when none was made
}

// Receive records a batch of notifications in one transaction, in order.
// An item already handled with the same digest is a duplicate. Any
// other item is recorded as handled and, when it has Hooks, kept as
// pending. A retract forgets the item's digest and a purge or delete the
// node's, so that a later publication of the same item runs again.
func (db *DB) Receive(ctx context.Context, batch []Accept) ([]Accepted, error) {
	out := make([]Accepted, len(batch))
	if len(batch) == 0 {
		return out, nil
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM handled`).Scan(&seq); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	for i, a := range batch {
		it := a.Item
		switch it.Kind {
		case "items":
			var old []byte
			err := tx.QueryRowContext(ctx, `SELECT digest FROM handled
				WHERE service = ? AND node = ? AND item_id = ?`, it.Service, it.Node, it.ID).Scan(&old)
			switch {
			case err == nil && bytes.Equal(old, a.Digest):
				out[i].Duplicate = true
				continue
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return nil, fmt.Errorf("journal: %w", err)
			}
			seq++
			_, err = tx.ExecContext(ctx, `INSERT INTO handled (service, node, item_id, digest, seq)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET digest = excluded.digest, seq = excluded.seq`,
				it.Service, it.Node, it.ID, a.Digest, seq)
			if err != nil {
				return nil, fmt.Errorf("journal: %w", err)
			}
		case "retract":
			_, err = tx.ExecContext(ctx, `DELETE FROM handled WHERE service = ? AND node = ? AND item_id = ?`,
				it.Service, it.Node, it.ID)
		case "purge", "delete":
			_, err = tx.ExecContext(ctx, `DELETE FROM handled WHERE service = ? AND node = ?`, it.Service, it.Node)
		}
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if a.Seed || len(a.Hooks) == 0 {
			continue
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO pending
			(hooks, kind, service, node, item_id, publisher, payload, received)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, strings.Join(a.Hooks, " "),
			it.Kind, it.Service, it.Node, it.ID, it.Publisher, it.Payload, it.Received.UnixNano())
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if out[i].Pending, err = res.LastInsertId(); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

// Done removes pending entries whose runs are over.
func (db *DB) Done(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal done: %w", err)
	}
	defer tx.Rollback()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending WHERE id = ?`, id); err != nil {
			return fmt.Errorf("journal done: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal done: %w", err)
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
