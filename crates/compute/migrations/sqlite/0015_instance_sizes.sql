-- What the flavor takes of a host, beside the flavor's JSON, so that quota
-- and host usage are sums over columns.
ALTER TABLE instances ADD COLUMN vcpus INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN memory_mb INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN disk_gb INTEGER NOT NULL DEFAULT 0;
UPDATE instances SET
    vcpus = COALESCE(json_extract(flavor, '$.vcpus'), 0),
    memory_mb = COALESCE(json_extract(flavor, '$.ram'), 0),
    disk_gb = COALESCE(json_extract(flavor, '$.disk'), 0) + COALESCE(json_extract(flavor, '$.ephemeral'), 0)
        + (COALESCE(json_extract(flavor, '$.swap'), 0) + 1023) / 1024;
