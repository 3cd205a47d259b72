-- Addresses come from the Network service's ports now; compute's own
-- leases are gone.
DROP TABLE ip_leases;
