-- Hooks (SPEC §4). Only persistent hooks are stored here; temporary ones
-- live in memory but take their ids from the same sequence.
CREATE TABLE hooks (
	id      TEXT PRIMARY KEY,
	seq     INTEGER NOT NULL UNIQUE, -- creation order; id is seq in base 36
	owner   TEXT NOT NULL,
	service TEXT NOT NULL,
	node    TEXT NOT NULL,
	type    TEXT NOT NULL,
	arg     TEXT NOT NULL,
	events  TEXT NOT NULL,           -- space-separated kinds
	created INTEGER NOT NULL         -- Unix nanoseconds
) STRICT;
CREATE INDEX hooks_service_node ON hooks(service, node);

-- Sequences whose values are never reused, even by memory-only hooks.
CREATE TABLE sequences (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;
INSERT INTO sequences(name, value) VALUES ('hook', 0);

-- Hook runs, the newest few per hook.
CREATE TABLE runs (
	id       INTEGER PRIMARY KEY,
	hook_id  TEXT NOT NULL,
	kind     TEXT NOT NULL,
	service  TEXT NOT NULL,
	node     TEXT NOT NULL,
	item_id  TEXT NOT NULL,
	started  INTEGER NOT NULL,       -- Unix nanoseconds
	duration INTEGER NOT NULL,       -- nanoseconds
	outcome  TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'panic', 'timeout')),
	error    TEXT NOT NULL,
	log      TEXT NOT NULL           -- JSON array of lines
) STRICT;
CREATE INDEX runs_hook ON runs(hook_id, id);
