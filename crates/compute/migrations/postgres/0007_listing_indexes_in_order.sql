-- The indexes by vm_state and by name also hold the default order, so that
-- a `status=` or an exact `name=` list reads its page from them in order:
-- without it SQLite's planner walked the listing index for the order and
-- checked every live server of the project (PostgreSQL sorted the matches).
DROP INDEX instances_by_state;
DROP INDEX instances_by_name;
CREATE INDEX instances_by_state ON instances (project_id, deleted, vm_state, created_at, id);
CREATE INDEX instances_by_name ON instances (project_id, deleted, name, created_at, id);
