package storage

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Hook is a stored (persistent) hook. The hooks package maps it to and
// from hooks.Hook.
type Hook struct {
	ID      string
	Seq     int64 // value of the hook sequence the ID was made from
	Owner   string
	Service string
	Node    string
	Type    string
	Arg     string
	Events  []string
	Created time.Time
}

// NextSeq returns the next value of the hook id sequence. Values are never
// handed out twice, whether or not the hook they were taken for is stored.
func (db *DB) NextSeq(ctx context.Context) (int64, error) {
	var v int64
	err := db.db.QueryRowContext(ctx,
		`UPDATE sequences SET value = value + 1 WHERE name = 'hook' RETURNING value`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("next hook id: %w", err)
	}
	return v, nil
}

// InsertHooks stores hooks in one transaction: all or none.
func (db *DB) InsertHooks(ctx context.Context, hs ...Hook) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store hooks: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO hooks
		(id, seq, owner, service, node, type, arg, events, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store hooks: %w", err)
	}
	defer stmt.Close()
	for _, h := range hs {
		_, err := stmt.ExecContext(ctx, h.ID, h.Seq, h.Owner, h.Service, h.Node,
			h.Type, h.Arg, strings.Join(h.Events, " "), h.Created.UnixNano())
		if err != nil {
			return fmt.Errorf("store hook %s: %w", h.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store hooks: %w", err)
	}
	return nil
}

// DeleteHooks deletes the stored hooks with these ids, and their runs, in
// one transaction. Unknown ids are ignored.
func (db *DB) DeleteHooks(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete hooks: %w", err)
	}
	defer tx.Rollback()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM hooks WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete hook %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE hook_id = ?`, id); err != nil {
			return fmt.Errorf("delete runs of hook %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete hooks: %w", err)
	}
	return nil
}

// LoadHooks returns every stored hook, oldest first.
func (db *DB) LoadHooks(ctx context.Context) ([]Hook, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, seq, owner, service, node,
		type, arg, events, created FROM hooks ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("load hooks: %w", err)
	}
	defer rows.Close()
	var hs []Hook
	for rows.Next() {
		var (
			h       Hook
			events  string
			created int64
		)
		if err := rows.Scan(&h.ID, &h.Seq, &h.Owner, &h.Service, &h.Node,
			&h.Type, &h.Arg, &events, &created); err != nil {
			return nil, fmt.Errorf("load hooks: %w", err)
		}
		h.Events = strings.Fields(events)
		h.Created = time.Unix(0, created)
		hs = append(hs, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load hooks: %w", err)
	}
	return hs, nil
}
