-- Snapshots of volumes, and what a volume made from an image keeps of it.
CREATE TABLE volume_snapshots (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    volume_id TEXT NOT NULL REFERENCES volumes(id),
    name TEXT,
    description TEXT,
    -- GiB: the volume's size when the snapshot was taken.
    size BIGINT NOT NULL,
    status TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    -- The host whose backend holds the snapshot's data.
    host TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX volume_snapshots_listing ON volume_snapshots (project_id, created_at, id);
CREATE INDEX volume_snapshots_by_volume ON volume_snapshots (volume_id);
-- The image's properties (image_id, image_name, disk_format, ...), as a
-- JSON object of strings.
ALTER TABLE volumes ADD COLUMN image_metadata TEXT NOT NULL DEFAULT '{}';
