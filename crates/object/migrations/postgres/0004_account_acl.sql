-- An account's ACL (`X-Account-Access-Control`), as its owner set it: JSON
-- naming who reads the account, who reads and writes it, and who
-- administers it; empty when it grants nothing.
ALTER TABLE swift_accounts ADD COLUMN access_control TEXT NOT NULL DEFAULT '';
-- Which object a data file is, for the sweep of data no row names (what a
-- crash between storing data and indexing it, or between unindexing and
-- removing it, leaves behind).
CREATE INDEX swift_objects_data_key ON swift_objects (data_key);
