-- The zone the create request asked for (Nova's request_spec
-- availability_zone), shown as pinned_availability_zone from 2.96.
ALTER TABLE instances ADD COLUMN pinned_availability_zone TEXT;
