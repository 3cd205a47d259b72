-- Work for the server of another host: an operation accepted by one server
-- on an instance of a host another server runs, done by that server's
-- worker (the row stays until the work is done, so a restart does it).
CREATE TABLE compute_work (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    -- 'delete', or the task_state of a server action (powering-off, ...).
    kind TEXT NOT NULL,
    action_id INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX compute_work_host ON compute_work (host, created_at);
