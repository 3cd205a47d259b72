-- Backups of volumes. A backup outlives its volume, so it names the volume
-- without a reference to its row.
CREATE TABLE volume_backups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    -- GiB: the volume's size when it was backed up.
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    container TEXT,
    fail_reason TEXT,
    -- The host whose backend holds the backup's data.
    host TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    data_timestamp TEXT NOT NULL
);
CREATE INDEX volume_backups_listing ON volume_backups (project_id, created_at, id);
