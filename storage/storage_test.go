package storage

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func tempPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "hookbot.db")
}

func openT(t *testing.T, path string, migs []Migration) *DB {
	t.Helper()
	db, err := open(context.Background(), path, migs)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func tables(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.SQL().Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

func TestEmbeddedMigrations(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 || migs[0].Name != "0001_init.sql" {
		t.Fatalf("migrations = %v, want 0001_init.sql first", migs)
	}
	ctx := context.Background()
	db, err := Open(ctx, tempPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Version(ctx); err != nil || v != len(migs) {
		t.Fatalf("version = %d, %v; want %d", v, err, len(migs))
	}
	var fk, busy int
	var journal string
	if err := db.SQL().QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if err := db.SQL().QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if err := db.SQL().QueryRow("PRAGMA journal_mode").Scan(&journal); err != nil {
		t.Fatal(err)
	}
	if fk != 1 || busy != 5000 || journal != "wal" {
		t.Errorf("foreign_keys=%d busy_timeout=%d journal_mode=%s; want 1 5000 wal", fk, busy, journal)
	}
}

func TestMigrate(t *testing.T) {
	m1 := Migration{1, "0001_a.sql", "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);"}
	m2 := Migration{2, "0002_b.sql", "CREATE TABLE b (y INTEGER);"}
	bad := Migration{2, "0002_bad.sql", "CREATE TABLE b (y INTEGER); INSERT INTO nowhere VALUES (1);"}
	tests := []struct {
		name        string
		first, then []Migration
		wantErr     string
		wantVersion int
		wantTables  []string
	}{
		{"reopen is a no-op", []Migration{m1}, []Migration{m1}, "", 1, []string{"a"}},
		{"new migration applies once", []Migration{m1}, []Migration{m1, m2}, "", 2, []string{"a", "b"}},
		{"failing migration keeps previous schema", []Migration{m1}, []Migration{m1, bad}, "0002_bad.sql", 1, []string{"a"}},
		{"newer database refused", []Migration{m1, m2}, []Migration{m1}, "newer", 2, []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := tempPath(t)
			db := openT(t, path, tc.first)
			db.Close()

			db2, err := open(ctx, path, tc.then)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("reopen: %v", err)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("reopen error = %v, want one containing %q", err, tc.wantErr)
				}
				if tc.wantErr == "newer" && !errors.Is(err, ErrTooNew) {
					t.Errorf("error %v is not ErrTooNew", err)
				}
			} else {
				db2.Close()
			}
			// Inspect with a migration list that leaves the file as it is.
			inspect := tc.then
			if tc.wantErr != "" {
				inspect = tc.first
			}
			check := openT(t, path, inspect)
			if v, err := check.Version(ctx); err != nil || v != tc.wantVersion {
				t.Errorf("version = %d, %v; want %d", v, err, tc.wantVersion)
			}
			if got := tables(t, check); !reflect.DeepEqual(got, tc.wantTables) {
				t.Errorf("tables = %v, want %v", got, tc.wantTables)
			}
			var n int
			if err := check.SQL().QueryRow("SELECT count(*) FROM a").Scan(&n); err != nil || n != 1 {
				t.Errorf("rows in a = %d, %v; want 1 (migration 1 applied once)", n, err)
			}
		})
	}
}

func TestHooks(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var hs []Hook
	for i := range 3 {
		seq, err := db.NextSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(i + 1); seq != want {
			t.Fatalf("seq = %d, want %d", seq, want)
		}
		hs = append(hs, Hook{
			ID: string(rune('a' + i)), Seq: seq, Owner: "o@x", Service: "pubsub.x",
			Node: "n", Type: "go_code", Arg: "return nil", Events: []string{"items", "purge"},
			Created: time.Unix(100, int64(i)),
		})
	}
	if err := db.InsertHooks(ctx, hs...); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertHooks(ctx, hs[0]); err == nil {
		t.Error("inserting a duplicate id succeeded")
	}
	if err := db.DeleteHooks(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.LoadHooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Hook{hs[0], hs[2]}
	for i := range got {
		if !got[i].Created.Equal(want[i].Created) {
			t.Errorf("hook %d created = %v, want %v", i, got[i].Created, want[i].Created)
		}
		got[i].Created = want[i].Created
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %+v\nwant %+v", got, want)
	}
	if seq, err := db.NextSeq(ctx); err != nil || seq != 4 {
		t.Errorf("seq after reopen = %d, %v; want 4 (never reused)", seq, err)
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	db := openT(t, tempPath(t), mustMigrations(t))
	var batch []Run
	for i := range 7 {
		batch = append(batch, Run{
			HookID: "h1", Kind: "items", Service: "s", Node: "n", ItemID: string(rune('0' + i)),
			Start: time.Unix(1, 0), Duration: time.Millisecond, Outcome: OutcomeOK,
			Log: []string{"line"},
		})
	}
	batch = append(batch, Run{HookID: "h2", Outcome: OutcomeTimeout, Error: "context deadline exceeded"})
	if err := db.AddRuns(ctx, 5, batch...); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hook    string
		wantIDs []string
	}{
		{"h1", []string{"2", "3", "4", "5", "6"}},
		{"h2", []string{""}},
		{"h3", nil},
	}
	for _, tc := range tests {
		runs, err := db.Runs(ctx, tc.hook)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.ItemID)
		}
		if !reflect.DeepEqual(ids, tc.wantIDs) {
			t.Errorf("runs of %s = %q, want %q", tc.hook, ids, tc.wantIDs)
		}
	}
	runs, _ := db.Runs(ctx, "h1")
	if r := runs[0]; r.Duration != time.Millisecond || !reflect.DeepEqual(r.Log, []string{"line"}) || !r.Start.Equal(time.Unix(1, 0)) {
		t.Errorf("run = %+v", r)
	}
	if err := db.AddRuns(ctx, 5, Run{HookID: "h1", Outcome: "weird"}); err == nil {
		t.Error("an unknown outcome was stored")
	}
	if err := db.DeleteOrphanRuns(ctx); err != nil {
		t.Fatal(err)
	}
	if runs, _ := db.Runs(ctx, "h1"); len(runs) != 0 {
		t.Errorf("%d runs of an unstored hook left", len(runs))
	}
}

func mustMigrations(t *testing.T) []Migration {
	t.Helper()
	m, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSecondOpenRefused: while one DB is open, a second Open of the same
// file fails: two bots on one database would run every hook twice.
func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookbot.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	second, err := Open(ctx, path)
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a database in use succeeded")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open: %v; want an error saying the database is in use", err)
	}
	db.Close()
	again, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}
