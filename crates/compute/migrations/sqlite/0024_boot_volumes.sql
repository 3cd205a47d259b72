-- A server booted from a volume: its root volume's mapping has boot index
-- 0 (Nova's `boot_index`); other volumes have none.
ALTER TABLE block_device_mappings ADD COLUMN boot_index INTEGER;
