-- Keystone's security compliance: the passwords a user had (for history and
-- minimum age) and its failed logins in a row (for lockout); times in
-- microseconds since the epoch.
CREATE TABLE password_history (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, created_at);
CREATE TABLE login_failures (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    failures INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL
);
