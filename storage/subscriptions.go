package storage

import (
	"context"
	"fmt"
)

// Subscription is a (service, node) the bot subscribed to for hooks.
type Subscription struct {
	Service, Node string
}

// AddSubscription records the bot's subscription to node on service. It
// is idempotent.
func (db *DB) AddSubscription(ctx context.Context, service, node string) error {
	_, err := db.db.ExecContext(ctx,
		`INSERT INTO subscriptions(service, node) VALUES (?, ?) ON CONFLICT DO NOTHING`, service, node)
	if err != nil {
		return fmt.Errorf("record subscription to %s on %s: %w", node, service, err)
	}
	return nil
}

// DeleteSubscription removes the record of the bot's subscription to
// node on service. An unknown one is ignored.
func (db *DB) DeleteSubscription(ctx context.Context, service, node string) error {
	_, err := db.db.ExecContext(ctx,
		`DELETE FROM subscriptions WHERE service = ? AND node = ?`, service, node)
	if err != nil {
		return fmt.Errorf("forget subscription to %s on %s: %w", node, service, err)
	}
	return nil
}

// Subscriptions returns every recorded subscription, by service and node.
func (db *DB) Subscriptions(ctx context.Context) ([]Subscription, error) {
	rows, err := db.db.QueryContext(ctx,
		`SELECT service, node FROM subscriptions ORDER BY service, node`)
	if err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	defer rows.Close()
	var subs []Subscription
	for rows.Next() {
		var s Subscription
		if err := rows.Scan(&s.Service, &s.Node); err != nil {
			return nil, fmt.Errorf("load subscriptions: %w", err)
		}
		subs = append(subs, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	return subs, nil
}
