-- Objects that expire (`X-Delete-At`, reaped by the expirer through the
-- partial index), large-object manifests (a dynamic one's
-- `<container>/<prefix>`; a static one's total size and ETag, its data
-- being its manifest), the `Content-Disposition` and `Content-Encoding`
-- objects are served with, and containers' read and write ACLs.
ALTER TABLE swift_objects ADD COLUMN delete_at_us BIGINT;
ALTER TABLE swift_objects ADD COLUMN object_manifest TEXT;
ALTER TABLE swift_objects ADD COLUMN slo_size BIGINT;
ALTER TABLE swift_objects ADD COLUMN slo_etag TEXT;
ALTER TABLE swift_objects ADD COLUMN content_disposition TEXT;
ALTER TABLE swift_objects ADD COLUMN content_encoding TEXT;
CREATE INDEX swift_objects_delete_at ON swift_objects (delete_at_us) WHERE delete_at_us IS NOT NULL;
ALTER TABLE swift_containers ADD COLUMN read_acl TEXT NOT NULL DEFAULT '';
ALTER TABLE swift_containers ADD COLUMN write_acl TEXT NOT NULL DEFAULT '';
