package storage

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
)

// rowsPerInsert is how many rows one multi-row INSERT of the event path
// carries at most: executing a statement costs more than the row it
// stores. It is a power of two.
const rowsPerInsert = 32

// insertForms returns the INSERT statement format (its VALUES tuples as
// %[1]s) with 1, 2, 4, … rowsPerInsert copies of tuple: any number of
// rows is written with one statement per bit of the number.
func insertForms(format, tuple string) []string {
	var qs []string
	for n := 1; n <= rowsPerInsert; n *= 2 {
		values := strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ")
		qs = append(qs, strings.ReplaceAll(format, "%[1]s", values))
	}
	return qs
}

// rowWriter executes an INSERT for many rows, with the fewest statements.
type rowWriter struct {
	forms []*sql.Stmt // forms[i] inserts 1<<i rows
	width int         // arguments per row
	args  []any
}

// newRowWriter returns a rowWriter of the statements insertForms made,
// as stmt gives them for the transaction.
func newRowWriter(stmt func(string) *sql.Stmt, forms []string, width int) *rowWriter {
	w := &rowWriter{width: width}
	for _, q := range forms {
		w.forms = append(w.forms, stmt(q))
	}
	return w
}

// add queues a row, and writes the queued rows once there are enough.
func (w *rowWriter) add(ctx context.Context, row ...any) error {
	w.args = append(w.args, row...)
	if len(w.args) < rowsPerInsert*w.width {
		return nil
	}
	return w.flush(ctx)
}

// flush writes the queued rows.
func (w *rowWriter) flush(ctx context.Context) error {
	args := w.args
	for len(args) > 0 {
		rows := len(args) / w.width
		i := bits.Len(uint(rows)) - 1 // the largest form that fits
		n := (1 << i) * w.width
		if _, err := w.forms[i].ExecContext(ctx, args[:n]...); err != nil {
			return err
		}
		args = args[n:]
	}
	w.args = w.args[:0]
	return nil
}
