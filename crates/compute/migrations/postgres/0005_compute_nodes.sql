-- The compute hosts of the cloud, as the scheduler and the admin APIs see
-- them: each server on the database keeps its host's row, its size and
-- allocation ratios, and beats `updated_at` while it lives (a host whose
-- beat is older than Nova's `service_down_time` is down).
CREATE TABLE compute_nodes (
    id BIGSERIAL PRIMARY KEY,
    host TEXT NOT NULL UNIQUE,
    hypervisor_type TEXT NOT NULL,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    local_gb BIGINT NOT NULL,
    cpu_allocation_ratio DOUBLE PRECISION NOT NULL,
    ram_allocation_ratio DOUBLE PRECISION NOT NULL,
    disk_allocation_ratio DOUBLE PRECISION NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- A build the scheduler placed on another server's host carries what the
-- create asked of it and keeps nowhere else (networks, security groups,
-- admin password) until that server's worker takes it.
ALTER TABLE compute_work ADD COLUMN payload TEXT;
