-- Volume transfers (Cinder's `transfers`): a volume offered by its project
-- to whoever gives the key; only a salted hash of the key is kept. An
-- accepted transfer stays, `accepted`, with the project that took it.
CREATE TABLE volume_transfers (
    id TEXT PRIMARY KEY,
    volume_id TEXT NOT NULL,
    source_project_id TEXT NOT NULL,
    name TEXT,
    salt TEXT NOT NULL,
    crypt_hash TEXT NOT NULL,
    no_snapshots BOOLEAN NOT NULL,
    accepted BOOLEAN NOT NULL,
    destination_project_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX volume_transfers_source ON volume_transfers (source_project_id);
