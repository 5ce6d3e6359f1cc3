-- The spend ledger: one row per settled request of a gateway key.
CREATE TABLE ledger (
	seq        {{seq}},
	key_id     TEXT NOT NULL,
	key_name   TEXT NOT NULL,
	model      TEXT NOT NULL,
	provider   TEXT NOT NULL,
	tokens_in  INTEGER NOT NULL DEFAULT 0,
	tokens_out INTEGER NOT NULL DEFAULT 0,
	cost_usd   {{float}} NOT NULL DEFAULT 0,
	status     TEXT NOT NULL,
	at         TEXT NOT NULL
);
CREATE INDEX ledger_key_at ON ledger (key_id, at);
