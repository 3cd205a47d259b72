-- Each subnet's free addresses as ranges, so that giving one out reads and
-- changes one row instead of reading every address the subnet has given.
-- An address is keyed as 32 hex digits: text order (C collation, whatever
-- the database's) is numeric order, for IPv4 and IPv6 alike. A subnet's
-- ranges are made from its pools and its allocations the first time it
-- gives out an address (free_ranges_built).
CREATE TABLE ip_free_ranges (
    subnet_id TEXT NOT NULL REFERENCES subnets (id) ON DELETE CASCADE,
    first_key TEXT COLLATE "C" NOT NULL,
    last_key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (subnet_id, first_key)
);
CREATE INDEX ip_free_ranges_last ON ip_free_ranges (subnet_id, last_key);
ALTER TABLE subnets ADD COLUMN free_ranges_built BOOLEAN NOT NULL DEFAULT FALSE;
