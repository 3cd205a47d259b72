-- Keystone's credentials: blobs a user keeps with Identity, each for a
-- project; EC2 ones (an access and a secret) sign S3 requests to Object
-- Storage. An EC2 credential's id is the SHA-256 of its access key.
CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT,
    type TEXT NOT NULL,
    blob TEXT NOT NULL
);
CREATE INDEX credentials_user ON credentials (user_id);
