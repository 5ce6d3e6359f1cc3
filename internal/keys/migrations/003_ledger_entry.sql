-- Each ledger row carries its entry's id (keys.Entry.ID), so that a
-- commit retried after its answer was lost (the store restarted, the
-- connection broke) writes the row once: the insert skips an id it has.
-- Rows written before this migration have none (NULLs never conflict).
ALTER TABLE ledger ADD COLUMN entry_id TEXT;
CREATE UNIQUE INDEX ledger_entry_id ON ledger (entry_id);
