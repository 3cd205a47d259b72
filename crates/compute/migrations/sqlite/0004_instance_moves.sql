-- The flavor a resize started from, kept until it is confirmed or reverted.
ALTER TABLE instances ADD COLUMN old_flavor TEXT;
