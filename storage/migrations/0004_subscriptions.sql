-- The PubSub subscriptions the bot made for hooks, temporary ones too:
-- recorded before subscribing, removed after unsubscribing. A recorded
-- node without a stored hook when the bot starts is an orphan (its hooks
-- were temporary, or a creation did not finish): the bot unsubscribes.
CREATE TABLE subscriptions (
	service TEXT NOT NULL,
	node    TEXT NOT NULL,
	PRIMARY KEY (service, node)
) STRICT, WITHOUT ROWID;
INSERT INTO subscriptions(service, node) SELECT DISTINCT service, node FROM hooks;
