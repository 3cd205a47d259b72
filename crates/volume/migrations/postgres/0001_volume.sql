-- Volume types, their access lists, volumes and the projects' volume quotas.
CREATE TABLE volume_types (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    is_public BOOLEAN NOT NULL DEFAULT TRUE,
    -- Keys to string values, as a JSON object.
    extra_specs TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE TABLE volume_type_access (
    type_id TEXT NOT NULL REFERENCES volume_types(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (type_id, project_id)
);
CREATE TABLE volumes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size BIGINT NOT NULL,
    status TEXT NOT NULL,
    volume_type_id TEXT NOT NULL REFERENCES volume_types(id),
    availability_zone TEXT NOT NULL,
    bootable BOOLEAN NOT NULL DEFAULT FALSE,
    multiattach BOOLEAN NOT NULL DEFAULT FALSE,
    metadata TEXT NOT NULL DEFAULT '{}',
    snapshot_id TEXT,
    source_volid TEXT,
    image_id TEXT,
    -- The host whose backend holds the volume's data.
    host TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX volumes_listing ON volumes (project_id, created_at, id);
CREATE INDEX volumes_by_status ON volumes (status);
CREATE TABLE volume_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
