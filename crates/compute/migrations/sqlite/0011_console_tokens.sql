-- Console access tokens (Nova's console_auth_tokens): only their SHA-256 is
-- kept, so the table does not hold usable secrets.
CREATE TABLE console_tokens (
    token_hash TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    console_type TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
