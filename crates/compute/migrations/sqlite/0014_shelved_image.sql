-- The snapshot a shelve took of the server's disk (Nova's system metadata
-- shelved_image_id): what unshelve boots from, deleted once it has.
ALTER TABLE instances ADD COLUMN shelved_image_id TEXT;
