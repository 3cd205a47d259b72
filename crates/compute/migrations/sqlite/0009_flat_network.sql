-- Compute's own flat network, as nova-network's FlatDHCPManager had it: each
-- instance gets a fixed address on `private` and, while the public range has
-- room, a floating one there (nova-network's auto_assign_floating_ip). The
-- primary key is what keeps two instances from ever sharing an address.
CREATE TABLE ip_leases (
    network TEXT NOT NULL,
    address INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    PRIMARY KEY (network, address)
);
CREATE INDEX ip_leases_instance ON ip_leases (instance_id);

-- The instance's interfaces as JSON, as Nova's instance_info_caches: what
-- `addresses` shows and what the driver plugs.
ALTER TABLE instances ADD COLUMN network_info TEXT NOT NULL DEFAULT '[]';
