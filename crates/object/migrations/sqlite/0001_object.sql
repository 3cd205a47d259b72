-- Object Storage's index: accounts (one per project, `AUTH_<project id>`),
-- their containers with the count and bytes of what they hold (kept in the
-- same transaction as each object's row, so they always match), and the
-- objects, each naming the data file that holds it. Names sort bytewise,
-- as Swift lists them.
CREATE TABLE swift_accounts (
    account TEXT PRIMARY KEY,
    metadata TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE swift_containers (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    metadata TEXT NOT NULL,
    object_count INTEGER NOT NULL,
    bytes_used INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    modified_us INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE swift_objects (
    account TEXT NOT NULL,
    container TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    modified_us INTEGER NOT NULL,
    data_key TEXT NOT NULL,
    PRIMARY KEY (account, container, name)
);
