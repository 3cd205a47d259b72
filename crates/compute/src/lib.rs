//! Compute: a Nova v2.1-compatible API (microversions 2.1–2.104), the servers'
//! state machine, and the virt-driver boundary with Nova's fake driver.
//!
//! Owns the flavors, keypairs and instances tables. Images are asked of the
//! Image service (its rules decide what the caller may boot) and ports of the
//! Network service, never read from their tables but through them.

pub mod actions;
pub mod aggregates;
pub mod api;
pub mod block_devices;
pub mod boot;
pub mod consoles;
pub mod flavors;
pub mod host;
pub mod keys;
pub mod listing;
pub mod metadata;
pub mod microversion;
pub mod moves;
pub mod network;
pub mod operations;
pub mod quotas;
pub mod scheduler;
pub mod server_details;
pub mod server_groups;
pub mod service;
pub mod states;
// The one module of the crate with SQL (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod store;
pub mod views;
pub mod virt;
pub mod volumes;

use std::sync::Arc;

use oxistack_core::db::{self, Migration, Migrations, Pool};
use oxistack_image::Image;
use oxistack_network::Network;
use oxistack_volume::Volume;

use crate::service::SharedDriver;

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &[
        Migration { version: 1, sql: include_str!("../migrations/sqlite/0001_compute.sql") },
        Migration { version: 2, sql: include_str!("../migrations/sqlite/0002_quotas.sql") },
        Migration { version: 3, sql: include_str!("../migrations/sqlite/0003_flavor_access.sql") },
        Migration { version: 4, sql: include_str!("../migrations/sqlite/0004_instance_moves.sql") },
        Migration { version: 5, sql: include_str!("../migrations/sqlite/0005_instance_actions.sql") },
        Migration { version: 6, sql: include_str!("../migrations/sqlite/0006_server_groups.sql") },
        Migration { version: 7, sql: include_str!("../migrations/sqlite/0007_quota_classes.sql") },
        Migration { version: 8, sql: include_str!("../migrations/sqlite/0008_aggregates.sql") },
        Migration { version: 9, sql: include_str!("../migrations/sqlite/0009_flat_network.sql") },
        Migration { version: 10, sql: include_str!("../migrations/sqlite/0010_ports.sql") },
        Migration { version: 11, sql: include_str!("../migrations/sqlite/0011_console_tokens.sql") },
        Migration { version: 12, sql: include_str!("../migrations/sqlite/0012_locked_by.sql") },
        Migration { version: 13, sql: include_str!("../migrations/sqlite/0013_pinned_zone.sql") },
        Migration { version: 14, sql: include_str!("../migrations/sqlite/0014_shelved_image.sql") },
        Migration { version: 15, sql: include_str!("../migrations/sqlite/0015_instance_sizes.sql") },
        Migration { version: 16, sql: include_str!("../migrations/sqlite/0016_compute_work.sql") },
        Migration { version: 17, sql: include_str!("../migrations/sqlite/0017_instance_listing.sql") },
        Migration { version: 18, sql: include_str!("../migrations/sqlite/0018_listing_by_state_and_name.sql") },
        Migration { version: 19, sql: include_str!("../migrations/sqlite/0019_compute_nodes.sql") },
        Migration { version: 20, sql: include_str!("../migrations/sqlite/0020_serial_proxy_url.sql") },
        Migration { version: 21, sql: include_str!("../migrations/sqlite/0021_listing_indexes_in_order.sql") },
        Migration { version: 22, sql: include_str!("../migrations/sqlite/0022_work_answers.sql") },
        Migration { version: 23, sql: include_str!("../migrations/sqlite/0023_volume_attachments.sql") },
        Migration { version: 24, sql: include_str!("../migrations/sqlite/0024_boot_volumes.sql") },
    ],
    postgres: &[
        Migration { version: 1, sql: include_str!("../migrations/postgres/0001_compute.sql") },
        Migration { version: 2, sql: include_str!("../migrations/postgres/0002_compute_work.sql") },
        Migration { version: 3, sql: include_str!("../migrations/postgres/0003_instance_listing.sql") },
        Migration { version: 4, sql: include_str!("../migrations/postgres/0004_listing_by_state_and_name.sql") },
        Migration { version: 5, sql: include_str!("../migrations/postgres/0005_compute_nodes.sql") },
        Migration { version: 6, sql: include_str!("../migrations/postgres/0006_serial_proxy_url.sql") },
        Migration { version: 7, sql: include_str!("../migrations/postgres/0007_listing_indexes_in_order.sql") },
        Migration { version: 8, sql: include_str!("../migrations/postgres/0008_work_answers.sql") },
        Migration { version: 9, sql: include_str!("../migrations/postgres/0009_volume_attachments.sql") },
        Migration { version: 10, sql: include_str!("../migrations/postgres/0010_boot_volumes.sql") },
    ],
};

#[derive(Clone, Debug)]
pub struct ComputeConfig {
    /// The name of this compute host.
    pub host: String,
    /// The one availability zone this cloud has.
    pub availability_zone: String,
    /// Where Compute is served, e.g. `http://127.0.0.1:5000/compute`.
    pub url: String,
    /// Where instance state lives; its file system is the host's disk.
    pub state_path: std::path::PathBuf,
    /// How far the host's vCPUs, RAM and disk may be overcommitted.
    pub allocation_ratios: host::AllocationRatios,
    /// Every instance gets a config drive, asked for or not (Nova's
    /// `force_config_drive`).
    pub force_config_drive: bool,
}

pub struct Compute {
    pub pool: Pool,
    pub driver: SharedDriver,
    pub image: Arc<Image>,
    pub network: Arc<Network>,
    /// Block Storage, whose volumes instances attach.
    pub volume: Arc<Volume>,
    pub config: ComputeConfig,
}

impl Compute {
    /// Opens the service: schema, default flavors, and the reconciliation of
    /// whatever the last stop left mid-operation.
    pub async fn open(
        pool: Pool,
        driver: SharedDriver,
        image: Arc<Image>,
        network: Arc<Network>,
        volume: Arc<Volume>,
        config: ComputeConfig,
    ) -> anyhow::Result<Arc<Self>> {
        db::migrate(&pool, "compute", &MIGRATIONS).await?;
        let compute = Arc::new(Compute { pool, driver, image, network, volume, config });
        // Neutron's `network-changed` events: a floating IP or a rule changed
        // what reaches an instance.
        let weak = Arc::downgrade(&compute);
        compute.network.observe(Arc::new(move |instance: String| {
            if let Some(c) = weak.upgrade() {
                tokio::spawn(async move { c.network_changed(&instance).await });
            }
        }));
        compute.bootstrap().await?;
        if compute.pool.engine() == db::Engine::Sqlite {
            // A SQLite file has one server: hosts it ran under other names
            // before are gone, and must not be scheduled to.
            store::nodes::forget_others(&compute.pool, &compute.config.host).await?;
        }
        compute.report_node().await?;
        compute.reconcile().await?;
        compute.reconcile_volumes().await?;
        Ok(compute)
    }
}
