-- Items already handled, per node: a notification whose (id, digest) is
-- here is a replay or a duplicate and runs no hook. Bounded per node.
CREATE TABLE handled (
	service TEXT NOT NULL,
	node    TEXT NOT NULL,
	item_id TEXT NOT NULL,
	digest  BLOB NOT NULL,           -- digest of the payload
	seq     INTEGER NOT NULL,        -- order of handling, for trimming
	PRIMARY KEY (service, node, item_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX handled_seq ON handled(service, node, seq);

-- Items received and accepted but not yet run by every persistent hook
-- that wants them: run again after a restart.
CREATE TABLE pending (
	id        INTEGER PRIMARY KEY,
	hooks     TEXT NOT NULL,         -- space-separated hook ids
	kind      TEXT NOT NULL,
	service   TEXT NOT NULL,
	node      TEXT NOT NULL,
	item_id   TEXT NOT NULL,
	publisher TEXT NOT NULL,
	payload   TEXT NOT NULL,
	received  INTEGER NOT NULL       -- Unix nanoseconds
) STRICT;
