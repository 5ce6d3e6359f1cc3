-- Gateway keys: the secret's SHA-256 only, never the secret.
-- The migrations are written once for SQLite and Postgres (migrate.go):
-- {{bytes}}, {{float}} and {{seq}} are the types whose names differ.
CREATE TABLE keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	hash       {{bytes}} NOT NULL UNIQUE,
	policy     TEXT NOT NULL DEFAULT '{}',
	created_at TEXT NOT NULL,
	expires_at TEXT,
	revoked_at TEXT
);
