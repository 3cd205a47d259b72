-- Who locked a server (Nova's instances.locked_by): 'owner' or 'admin'.
ALTER TABLE instances ADD COLUMN locked_by TEXT;
