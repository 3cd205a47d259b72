-- The volumes attached to instances (Nova's block_device_mapping, for
-- volumes): the Block Storage attachment each holds, the device the API
-- reports, and the step the attach or detach is at, so a start after a
-- stop finishes or undoes it.
CREATE TABLE block_device_mappings (
    id TEXT PRIMARY KEY,
    instance_uuid TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    attachment_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    tag TEXT,
    delete_on_termination BOOLEAN NOT NULL DEFAULT FALSE,
    -- attaching, attached or detaching.
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX block_device_mappings_volume ON block_device_mappings (instance_uuid, volume_id);
