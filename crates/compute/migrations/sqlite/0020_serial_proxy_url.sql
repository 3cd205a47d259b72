-- Where the serial console proxy of each host's server answers (Nova's
-- `[serial_console] base_url` per compute host): a console URL names the
-- server whose host has the instance, whichever server was asked for it;
-- empty for a host whose instances have none.
ALTER TABLE compute_nodes ADD COLUMN serial_proxy_url TEXT NOT NULL DEFAULT '';
