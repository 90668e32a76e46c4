package storage

import (
	"context"
	"database/sql"
	"strings"
)

// rowsPerInsert is how many rows one multi-row INSERT of the event path
// carries: executing a statement costs more than the row it stores.
const rowsPerInsert = 32

// manyRows returns the INSERT statement format (its VALUES tuples as %[1]s)
// with n copies of tuple.
func manyRows(format, tuple string, n int) string {
	return strings.ReplaceAll(format, "%[1]s", strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", "))
}

// rowWriter executes an INSERT for many rows: rowsPerInsert rows per
// execution of many, the rest one by one with one.
type rowWriter struct {
	one, many *sql.Stmt
	width     int // arguments per row
	args      []any
}

// add queues a row, and writes the queued rows once there are enough.
func (w *rowWriter) add(ctx context.Context, row ...any) error {
	w.args = append(w.args, row...)
	if len(w.args) < rowsPerInsert*w.width {
		return nil
	}
	_, err := w.many.ExecContext(ctx, w.args...)
	w.args = w.args[:0]
	return err
}

// flush writes the queued rows.
func (w *rowWriter) flush(ctx context.Context) error {
	for i := 0; i < len(w.args); i += w.width {
		if _, err := w.one.ExecContext(ctx, w.args[i:i+w.width]...); err != nil {
			return err
		}
	}
	w.args = w.args[:0]
	return nil
}
