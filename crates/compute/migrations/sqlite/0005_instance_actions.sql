-- What was done to each instance, by whom, and how it ended (os-instance-actions).
CREATE TABLE instance_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    start_time TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    message TEXT
);
CREATE INDEX instance_actions_instance ON instance_actions (instance_id);
CREATE TABLE instance_action_events (
    action_id INTEGER NOT NULL REFERENCES instance_actions(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    start_time TEXT NOT NULL,
    finish_time TEXT,
    result TEXT,
    traceback TEXT,
    host TEXT
);
