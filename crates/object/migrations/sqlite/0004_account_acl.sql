-- An account's ACL (`X-Account-Access-Control`), as its owner set it: JSON
-- naming who reads the account, who reads and writes it, and who
-- administers it; empty when it grants nothing.
ALTER TABLE swift_accounts ADD COLUMN access_control TEXT NOT NULL DEFAULT '';
