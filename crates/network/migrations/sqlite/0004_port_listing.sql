-- Port lists read their pages in order (by creation, then id) from these,
-- for one network's ports and for a project's, instead of sorting every
-- matching row first. They take over the single-column indexes.
DROP INDEX ports_network;
DROP INDEX ports_project;
CREATE INDEX ports_network_listing ON ports (network_id, created_at, id);
CREATE INDEX ports_project_listing ON ports (project_id, created_at, id);
