//! Network: a Neutron v2.0-compatible API. Networks, subnets with IPAM,
//! ports, routers, floating IPs and security groups, owned by this crate's
//! tables. The data plane is the compute driver's: it is given the ports.

pub mod api;
pub mod attrs;
pub mod error;
pub mod interface;
pub mod ipam;
pub mod listing;
pub mod networks;
pub mod ports;
pub mod quotas;
pub mod routers;
pub mod security_groups;
// The one module of the crate with SQL (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod store;
pub mod subnetpools;
pub mod topology;

use std::sync::{Arc, OnceLock};

use oxistack_core::context::Context;
use oxistack_core::db::{self, Migration, Migrations, Pool};
use oxistack_core::time;

pub use error::{NeutronError, Result};

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &[
        Migration { version: 1, sql: include_str!("../migrations/sqlite/0001_network.sql") },
        Migration { version: 2, sql: include_str!("../migrations/sqlite/0002_subnetpools.sql") },
        Migration { version: 3, sql: include_str!("../migrations/sqlite/0003_free_ranges.sql") },
        Migration { version: 4, sql: include_str!("../migrations/sqlite/0004_port_listing.sql") },
    ],
    postgres: &[
        Migration { version: 1, sql: include_str!("../migrations/postgres/0001_network.sql") },
        Migration { version: 2, sql: include_str!("../migrations/postgres/0002_free_ranges.sql") },
        Migration { version: 3, sql: include_str!("../migrations/postgres/0003_port_listing.sql") },
    ],
};

/// The query keys of a list that are not filters.
pub(crate) const LIST_CONTROLS: &[&str] = &[
    "fields",
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "page_reverse",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
];

/// What a service's list answers for a list query.
pub enum Listed {
    /// Every item the caller sees (perhaps narrowed by some of the
    /// filters): the query's filters, sort and page are still to be applied.
    All(Vec<serde_json::Value>),
    /// The query answered: filtered, ordered and from past its marker, with
    /// one item past the page when there are more.
    Page(Vec<serde_json::Value>),
}

#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// The subnet of the external network `public`; floating addresses come
    /// from it. In 127.0.0.0/8, they are reachable from this machine only.
    pub public_cidr: String,
    /// The subnet of the admin project's `private` network.
    pub private_cidr: String,
}

/// Called with an instance's id when its ports change (a floating IP
/// associated, a port added), as Neutron sends Nova `network-changed`.
pub type PortObserver = Arc<dyn Fn(String) + Send + Sync>;

pub struct Network {
    pub pool: Pool,
    pub config: NetworkConfig,
    observer: OnceLock<PortObserver>,
}

impl Network {
    pub async fn open(pool: Pool, config: NetworkConfig) -> anyhow::Result<Arc<Self>> {
        db::migrate(&pool, "network", &MIGRATIONS).await?;
        Ok(Arc::new(Network { pool, config, observer: OnceLock::new() }))
    }

    /// Registers who hears of port changes (the compute service).
    pub fn observe(&self, observer: PortObserver) {
        let _ = self.observer.set(observer);
    }

    /// Replaces the tags of resource `id` in `table` (a name from this
    /// crate), each a non-empty text of at most 255 characters without a comma.
    pub async fn set_tags(&self, table: &str, id: &str, tags: &[String]) -> Result<()> {
        for t in tags {
            if t.is_empty() || t.len() > 255 || t.contains(',') {
                return Err(NeutronError::bad_request(format!(
                    "Invalid input for tags. Reason: '{t}' is not a valid tag."
                )));
            }
        }
        store::set_tags(&self.pool, table, id, tags, &now()).await
    }

    pub(crate) fn port_changed(&self, device_id: &str) {
        if let (Some(o), false) = (self.observer.get(), device_id.is_empty()) {
            o(device_id.to_owned());
        }
    }
}

pub fn now() -> String {
    time::iso_seconds(time::now())
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The project a request acts for, or the one an admin names.
pub(crate) fn owner(ctx: &Context, body: &serde_json::Map<String, serde_json::Value>) -> Result<String> {
    let asked = body.get("project_id").or_else(|| body.get("tenant_id")).and_then(|v| v.as_str());
    match (asked, ctx.project_id()) {
        (Some(p), Some(mine)) if p != mine && !ctx.is_admin() => Err(NeutronError::policy("create", "project_id")),
        (Some(p), _) => Ok(p.to_owned()),
        (None, Some(mine)) => Ok(mine.to_owned()),
        (None, None) => Err(NeutronError::bad_request("A project-scoped token is needed to create resources.")),
    }
}

/// Whether `ctx` may see or change what `project` owns.
pub(crate) fn owns(ctx: &Context, project: &str) -> bool {
    ctx.is_admin() || ctx.project_id() == Some(project)
}
