// Package storage keeps hookbot's state in an embedded SQLite database
// (modernc.org/sqlite, pure Go): the persistent hooks, the hook id
// sequence and the records of hook runs.
//
// The schema is a list of numbered SQL files embedded in the binary
// (migrations/NNNN_name.sql), applied in order, one transaction each, and
// tracked by PRAGMA user_version.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is an open hookbot database. It is safe for concurrent use; writes
// are serialized on a single connection.
type DB struct {
	db *sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // by query; see prepared
}

// Migration is one step of the schema: the SQL that moves a database from
// Version-1 to Version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Open opens (creating it if needed) the database file at path and
// migrates it to the schema this binary knows. A database whose schema is
// newer than that is refused.
func Open(ctx context.Context, path string) (*DB, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	return open(ctx, path, migs)
}

// Migrations returns the embedded migrations, in order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	migs := make([]Migration, 0, len(names))
	for i, name := range names { // fs.Glob sorts
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want a name starting with %04d_", base, i+1)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		migs = append(migs, Migration{Version: v, Name: base, SQL: string(b)})
	}
	return migs, nil
}

// DSN returns the data source name hookbot uses for the file at path.
//
// The connection holds the database in exclusive locking mode: no
// file-lock system calls per transaction (the WAL index stays in memory),
// and a second hookbot started on the same database fails at Open
// ("database is locked") instead of running every hook twice.
func DSN(path string) string {
	q := url.Values{}
	q.Set("_busy_timeout", "5000")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "locking_mode(EXCLUSIVE)")
	return "file:" + path + "?" + q.Encode()
}

func open(ctx context.Context, path string, migs []Migration) (*DB, error) {
	sdb, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and this keeps the
	// busy-timeout dance out of the picture. Never hold a transaction
	// across I/O or a hook run.
	sdb.SetMaxOpenConns(1)
	db := &DB{db: sdb}
	if err := db.migrate(ctx, migs); err != nil {
		sdb.Close()
		if isBusy(err) {
			return nil, fmt.Errorf("database %s is in use, by another hookbot? %w", path, err)
		}
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return db, nil
}

// isBusy reports whether err is SQLite's SQLITE_BUSY: another connection
// holds the lock.
func isBusy(err error) bool {
	var se interface{ Code() int }
	return errors.As(err, &se) && se.Code()&0xff == 5 // SQLITE_BUSY and its extended codes
}

// ErrTooNew is returned by Open for a database written by a newer hookbot.
var ErrTooNew = errors.New("database schema is newer than this hookbot knows")

// Version returns the schema version of the database.
func (db *DB) Version(ctx context.Context) (int, error) {
	var v int
	if err := db.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func (db *DB) migrate(ctx context.Context, migs []Migration) error {
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	if v > len(migs) {
		return fmt.Errorf("%w: schema version %d, this hookbot knows up to %d; use a newer hookbot", ErrTooNew, v, len(migs))
	}
	for _, m := range migs[v:] {
		if err := db.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// apply runs one migration and sets user_version in the same transaction,
// so a failure leaves the previous schema and version.
func (db *DB) apply(ctx context.Context, m Migration) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	// PRAGMA takes no parameters; Version is an int.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
		return fmt.Errorf("migration %s: set version: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}

// prepared returns the statements of the event path, prepared on first
// use so that they are not parsed again for every row. Call it before
// beginning a transaction: with one connection, preparing inside one
// would wait for itself.
func (db *DB) prepared(ctx context.Context) (map[string]*sql.Stmt, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.stmts != nil {
		return db.stmts, nil
	}
	stmts := make(map[string]*sql.Stmt)
	queries := []string{qHandledForget, qHandledForgetNode, qPendingInsert, qPendingDelete, qRunTrim}
	queries = append(queries, qHandledUpserts...)
	queries = append(queries, qRunInserts...)
	for _, q := range queries {
		s, err := db.db.PrepareContext(ctx, q)
		if err != nil {
			for _, s := range stmts {
				s.Close()
			}
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		stmts[q] = s
	}
	db.stmts = stmts
	return stmts, nil
}

// Close closes the database.
func (db *DB) Close() error {
	db.mu.Lock()
	for _, s := range db.stmts {
		s.Close()
	}
	db.mu.Unlock()
	return db.db.Close()
}

// SQL returns the underlying handle, for packages that keep their own
// tables (added as migrations here). Keep transactions short.
func (db *DB) SQL() *sql.DB {
	return db.db
}
