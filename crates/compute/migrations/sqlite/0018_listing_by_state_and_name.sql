-- A project's servers by vm_state (`status=`) and by exact name (an
-- anchored literal `name=^...$`), so that such lists read the few matching
-- rows instead of every live server of the project.
CREATE INDEX instances_by_state ON instances (project_id, deleted, vm_state);
CREATE INDEX instances_by_name ON instances (project_id, deleted, name);
