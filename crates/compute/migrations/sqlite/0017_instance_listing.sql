-- Server lists are filtered, ordered and paged in SQL: the flavor's id beside
-- its JSON for `?flavor=`, and indexes in the default order (newest first)
-- for a project's list, an admin's list of all and `changes-since`, and
-- one for the instances of a host (what its periodic tasks go over).
ALTER TABLE instances ADD COLUMN flavor_id TEXT NOT NULL DEFAULT '';
UPDATE instances SET flavor_id = COALESCE(json_extract(flavor, '$.id'), '');
DROP INDEX instances_project;
CREATE INDEX instances_listing ON instances (project_id, deleted, created_at, id);
CREATE INDEX instances_listing_all ON instances (deleted, created_at, id);
CREATE INDEX instances_changes ON instances (project_id, updated_at);
CREATE INDEX instances_host ON instances (host, deleted);
