-- The image schema on PostgreSQL, as SQLite's migrations had built it.
-- Integers are BIGINT and flags BOOLEAN, which is what the store binds and reads.

CREATE TABLE images (
    id TEXT PRIMARY KEY,
    name TEXT,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    protected BOOLEAN NOT NULL DEFAULT FALSE,
    os_hidden BOOLEAN NOT NULL DEFAULT FALSE,
    disk_format TEXT,
    container_format TEXT,
    min_disk BIGINT NOT NULL DEFAULT 0,
    min_ram BIGINT NOT NULL DEFAULT 0,
    size BIGINT,
    virtual_size BIGINT,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    -- Additional properties, as a JSON object of strings.
    properties TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX images_owner ON images (owner);

CREATE TABLE image_members (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);

CREATE INDEX image_members_member ON image_members (member_id);
