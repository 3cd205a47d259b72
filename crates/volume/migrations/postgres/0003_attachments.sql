-- Attachments of volumes to servers (Cinder's volume_attachment). A row is
-- removed when its attachment ends.
CREATE TABLE volume_attachments (
    id TEXT PRIMARY KEY,
    volume_id TEXT NOT NULL REFERENCES volumes(id),
    project_id TEXT NOT NULL,
    -- The server, when one is named.
    instance_uuid TEXT,
    attached_host TEXT,
    mountpoint TEXT,
    attach_status TEXT NOT NULL,
    attach_mode TEXT NOT NULL,
    -- The hypervisor host's connector, as a JSON object.
    connector TEXT NOT NULL DEFAULT '{}',
    attach_time TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX volume_attachments_by_volume ON volume_attachments (volume_id);
CREATE INDEX volume_attachments_by_instance ON volume_attachments (instance_uuid);
