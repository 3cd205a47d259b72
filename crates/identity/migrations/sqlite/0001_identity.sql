CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    -- NULL for a top-level project, whose API parent_id is its domain.
    parent_id TEXT REFERENCES projects(id),
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]',
    UNIQUE (domain_id, name)
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    enabled INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT,
    default_project_id TEXT,
    -- Free-form attributes (email, description, ...) that Keystone keeps on users.
    extra TEXT NOT NULL DEFAULT '{}',
    UNIQUE (domain_id, name)
);
CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (domain_id, name)
);
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- '' for a global role: NULLs would not be unique.
    domain_id TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (domain_id, name)
);
CREATE TABLE implied_roles (
    prior_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);
CREATE TABLE assignments (
    actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'group')),
    actor_id TEXT NOT NULL,
    target_type TEXT NOT NULL CHECK (target_type IN ('project', 'domain', 'system')),
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    inherited INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited)
);
CREATE INDEX assignments_target ON assignments (target_type, target_id);
CREATE TABLE regions (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT REFERENCES regions(id)
);
CREATE TABLE services (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    interface TEXT NOT NULL CHECK (interface IN ('public', 'internal', 'admin')),
    region_id TEXT REFERENCES regions(id),
    url TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE application_credentials (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    expires_at TEXT,
    unrestricted INTEGER NOT NULL DEFAULT 0,
    -- The role ids the credential delegates, as a JSON list.
    roles TEXT NOT NULL DEFAULT '[]',
    UNIQUE (user_id, name)
);
-- Tokens are never stored: a token is refused when an event here matches it.
CREATE TABLE revocation_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    audit_id TEXT,
    user_id TEXT,
    project_id TEXT,
    -- Microseconds since the epoch: tokens issued at or before it are revoked.
    issued_before INTEGER NOT NULL,
    -- When the newest token it can match expires; after that the event can go.
    expires_at INTEGER NOT NULL
);
CREATE INDEX revocation_audit ON revocation_events (audit_id);
CREATE INDEX revocation_user ON revocation_events (user_id);
CREATE INDEX revocation_project ON revocation_events (project_id);
