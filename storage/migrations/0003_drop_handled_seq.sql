-- The index on handled(service, node, seq) cost a second B-tree insert and
-- delete per item, and a second dirty page per write, to serve only the
-- trim, which runs once per 1000 items of a node and can scan the node's
-- rows (at most twice the kept count) instead.
DROP INDEX handled_seq;
