-- Gateway keys: the secret's SHA-256 only, never the secret.
CREATE TABLE keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	policy     TEXT NOT NULL DEFAULT '{}',
	created_at TEXT NOT NULL,
	expires_at TEXT,
	revoked_at TEXT
);
