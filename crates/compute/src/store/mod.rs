//! Compute's tables: flavors, keypairs, instances here, and in the submodules
//! actions, aggregates, quotas and server groups. All SQL of the service is
//! in this module; the rules are in `service` and the modules named as these.

pub mod actions;
pub mod aggregates;
pub mod nodes;
pub mod quotas;
pub mod server_groups;
pub mod volumes;

use oxistack_core::db::{self, JsonText, Param, Pool, Select, TextColumn};
use oxistack_core::error::{Error, OnUnique, Result};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::network::Vif;
use crate::states::{PowerState, TaskState, VmState};

#[derive(Clone, Debug, FromRow, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: i64,
    pub ram: i64,
    pub disk: i64,
    pub ephemeral: i64,
    pub swap: i64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    /// Keys to string values.
    #[serde(deserialize_with = "specs_or_their_text")]
    pub extra_specs: JsonText<Metadata>,
    pub created_at: String,
}

/// Extra specs in an instance's copy of its flavor; copies written before
/// they were typed hold them as JSON text inside the JSON.
fn specs_or_their_text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<JsonText<Metadata>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Specs {
        Map(Metadata),
        Text(String),
    }
    match Specs::deserialize(d)? {
        Specs::Map(m) => Ok(JsonText(m)),
        Specs::Text(t) => JsonText::from_text(&t).map_err(serde::de::Error::custom),
    }
}

/// An instance keeps a copy of its flavor as it was when it got it, as JSON.
impl TextColumn for Flavor {
    fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    fn from_text(text: &str) -> std::result::Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("a stored flavor is unreadable: {e}"))
    }
}

oxistack_core::text_column!(Flavor);

/// A server's metadata: keys to values (both strings, as the API checks).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

impl Flavor {
    /// A public, enabled flavor with no ephemeral disk, swap, description or
    /// extra specs.
    pub fn new(id: &str, name: &str, vcpus: i64, ram: i64, disk: i64) -> Flavor {
        Flavor {
            id: id.into(),
            name: name.into(),
            vcpus,
            ram,
            disk,
            ephemeral: 0,
            swap: 0,
            rxtx_factor: 1.0,
            is_public: true,
            disabled: false,
            description: None,
            extra_specs: JsonText::default(),
            created_at: crate::service::now(),
        }
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct Keypair {
    pub user_id: String,
    pub name: String,
    #[sqlx(rename = "type")]
    pub key_type: String,
    pub public_key: String,
    pub fingerprint: String,
    pub created_at: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub image_ref: String,
    pub flavor: Flavor,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub metadata: JsonText<Metadata>,
    pub availability_zone: String,
    pub vm_state: VmState,
    pub task_state: Option<TaskState>,
    pub power_state: PowerState,
    pub host: Option<String>,
    pub hostname: String,
    pub reservation_id: String,
    pub launch_index: i64,
    pub locked: bool,
    pub locked_reason: Option<String>,
    pub description: Option<String>,
    pub tags: JsonText<Vec<String>>,
    pub config_drive: String,
    pub access_ipv4: String,
    pub access_ipv6: String,
    /// Why it is in ERROR: Nova's fault (`code`, `message`, `created`).
    pub fault: Option<JsonText<serde_json::Value>>,
    pub launched_at: Option<String>,
    pub terminated_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub deleted: bool,
    /// The flavor a resize can return to.
    pub old_flavor: Option<Flavor>,
    /// The interfaces, as the driver plugs them.
    pub network_info: JsonText<Vec<Vif>>,
    /// Who holds the lock: `owner` (the server's project) or `admin`.
    pub locked_by: Option<String>,
    /// The zone the create request asked for, if any.
    pub pinned_availability_zone: Option<String>,
    /// The snapshot of the disk a shelve took, which unshelve boots from.
    pub shelved_image_id: Option<String>,
}

pub async fn flavors(pool: &Pool) -> Result<Vec<Flavor>> {
    let mut all: Vec<Flavor> = db::query_as("SELECT * FROM flavors").fetch_all(pool).await?;
    // Numeric ids in number order (1, 2, 10), then the others by text.
    all.sort_by(|a, b| (a.id.parse::<i64>().ok(), &a.id).cmp(&(b.id.parse::<i64>().ok(), &b.id)));
    Ok(all)
}

pub async fn find_flavor(pool: &Pool, id: &str) -> Result<Option<Flavor>> {
    Ok(db::query_as("SELECT * FROM flavors WHERE id = ?").bind(id).fetch_optional(pool).await?)
}

pub async fn insert_flavor(pool: &Pool, f: &Flavor) -> Result<()> {
    db::query(
        "INSERT INTO flavors (id, name, vcpus, ram, disk, ephemeral, swap, rxtx_factor, is_public, disabled,
            description, extra_specs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&f.id)
    .bind(&f.name)
    .bind(f.vcpus)
    .bind(f.ram)
    .bind(f.disk)
    .bind(f.ephemeral)
    .bind(f.swap)
    .bind(f.rxtx_factor)
    .bind(f.is_public)
    .bind(f.disabled)
    .bind(&f.description)
    .bind(&f.extra_specs)
    .bind(&f.created_at)
    .execute(pool)
    .await
    .on_unique(|| Error::Conflict(format!("Flavor with ID {} or name {} already exists.", f.id, f.name)))?;
    Ok(())
}

pub async fn delete_flavor(pool: &Pool, id: &str) -> Result<bool> {
    Ok(db::query("DELETE FROM flavors WHERE id = ?").bind(id).execute(pool).await?.rows_affected() > 0)
}

pub async fn keypairs(pool: &Pool, user_id: &str) -> Result<Vec<Keypair>> {
    Ok(db::query_as("SELECT * FROM keypairs WHERE user_id = ? ORDER BY name").bind(user_id).fetch_all(pool).await?)
}

pub async fn find_keypair(pool: &Pool, user_id: &str, name: &str) -> Result<Option<Keypair>> {
    Ok(db::query_as("SELECT * FROM keypairs WHERE user_id = ? AND name = ?")
        .bind(user_id)
        .bind(name)
        .fetch_optional(pool)
        .await?)
}

pub async fn insert_keypair(pool: &Pool, k: &Keypair) -> Result<()> {
    db::query(
        "INSERT INTO keypairs (user_id, name, type, public_key, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&k.user_id)
    .bind(&k.name)
    .bind(&k.key_type)
    .bind(&k.public_key)
    .bind(&k.fingerprint)
    .bind(&k.created_at)
    .execute(pool)
    .await
    .on_unique(|| Error::Conflict(format!("Key pair '{}' already exists.", k.name)))?;
    Ok(())
}

pub async fn delete_keypair(pool: &Pool, user_id: &str, name: &str) -> Result<bool> {
    Ok(db::query("DELETE FROM keypairs WHERE user_id = ? AND name = ?")
        .bind(user_id)
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

pub async fn instance(pool: &Pool, id: &str) -> Result<Option<Instance>> {
    Ok(db::query_as("SELECT * FROM instances WHERE id = ? AND deleted = FALSE").bind(id).fetch_optional(pool).await?)
}

/// An instance, deleted or not.
pub async fn instance_any(pool: &Pool, id: &str) -> Result<Option<Instance>> {
    Ok(db::query_as("SELECT * FROM instances WHERE id = ?").bind(id).fetch_optional(pool).await?)
}

/// Instances deleted or not, of one project or of all (for usage).
pub async fn instances_any(pool: &Pool, project: Option<&str>) -> Result<Vec<Instance>> {
    let q = match project {
        Some(p) => {
            db::query_as("SELECT * FROM instances WHERE project_id = ? ORDER BY created_at, id").bind(p.to_owned())
        }
        None => db::query_as("SELECT * FROM instances ORDER BY created_at, id"),
    };
    Ok(q.fetch_all(pool).await?)
}

/// The live instances placed on `host`.
pub async fn instances_on(pool: &Pool, host: &str) -> Result<Vec<Instance>> {
    Ok(db::query_as("SELECT * FROM instances WHERE host = ? AND deleted = FALSE ORDER BY created_at, id")
        .bind(host)
        .fetch_all(pool)
        .await?)
}

/// An instance's states, as the power sync compares them with its driver's.
#[derive(Clone, Debug, FromRow)]
pub struct PowerRecord {
    pub id: String,
    pub vm_state: VmState,
    pub task_state: Option<TaskState>,
    pub power_state: PowerState,
}

/// The states of the live instances on `host`: the power sync's periodic
/// read, which goes over every instance of the host and so reads no more.
pub async fn power_records(pool: &Pool, host: &str) -> Result<Vec<PowerRecord>> {
    Ok(db::query_as("SELECT id, vm_state, task_state, power_state FROM instances WHERE host = ? AND deleted = FALSE")
        .bind(host)
        .fetch_all(pool)
        .await?)
}

/// What a server list narrows to in SQL. Conditions the database cannot
/// answer exactly (a name pattern, tags) are given here as what a match must
/// contain, and checked exactly by the caller.
#[derive(Clone, Debug, Default)]
pub struct InstanceFilter {
    /// One project's, or every project's when `None`.
    pub project: Option<String>,
    /// Deleted ones too, when changed at or after this time.
    pub changed_since: Option<String>,
    pub vm_states: Option<Vec<VmState>>,
    pub image_ref: Option<String>,
    pub flavor_id: Option<String>,
    pub reservation_id: Option<String>,
    pub access_ipv4: Option<String>,
    pub access_ipv6: Option<String>,
    pub name_contains: Option<String>,
    /// The whole name, when the pattern is an anchored plain text.
    pub name_is: Option<String>,
    /// Text the tags' JSON must hold, one per tag.
    pub tags_contain: Vec<String>,
}

/// The sort keys of a server list (Nova's names in the API); newest first
/// by creation is Nova's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InstanceOrder {
    #[default]
    CreatedAt,
    UpdatedAt,
    Name,
    VmState,
    Id,
}

impl InstanceOrder {
    fn column(self) -> &'static str {
        match self {
            InstanceOrder::CreatedAt => "created_at",
            InstanceOrder::UpdatedAt => "updated_at",
            InstanceOrder::Name => "name",
            InstanceOrder::VmState => "vm_state",
            InstanceOrder::Id => "id",
        }
    }

    fn value(self, i: &Instance) -> &str {
        match self {
            InstanceOrder::CreatedAt => &i.created_at,
            InstanceOrder::UpdatedAt => &i.updated_at,
            InstanceOrder::Name => &i.name,
            InstanceOrder::VmState => i.vm_state.as_str(),
            InstanceOrder::Id => &i.id,
        }
    }
}

/// Up to `limit` instances matching `filter` in the order of `order` (then
/// id, the same way), after `after` when given: one page of a list, found
/// with the listing indexes rather than by loading the project.
pub async fn instances_page(
    pool: &Pool,
    filter: &InstanceFilter,
    order: InstanceOrder,
    ascending: bool,
    after: Option<&Instance>,
    limit: i64,
) -> Result<Vec<Instance>> {
    let mut select = Select::new("SELECT * FROM instances");
    if let Some(p) = &filter.project {
        select = select.eq("project_id", p.as_str());
    }
    select = match &filter.changed_since {
        Some(t) => select.filter("updated_at >= ?", [Param::Text(t.clone())]),
        None => select.filter("deleted = FALSE", []),
    };
    if let Some(states) = &filter.vm_states {
        select = select.any_of("vm_state", states);
    }
    for (column, value) in [
        ("image_ref", &filter.image_ref),
        ("flavor_id", &filter.flavor_id),
        ("reservation_id", &filter.reservation_id),
        ("access_ipv4", &filter.access_ipv4),
        ("access_ipv6", &filter.access_ipv6),
        ("name", &filter.name_is),
    ] {
        if let Some(v) = value {
            select = select.eq(column, v.as_str());
        }
    }
    if let Some(text) = &filter.name_contains {
        select = select.contains("name", text);
    }
    for text in &filter.tags_contain {
        select = select.contains("tags", text);
    }
    let keys: Vec<(&'static str, bool)> = if order == InstanceOrder::Id {
        vec![("id", ascending)]
    } else {
        vec![(order.column(), ascending), ("id", ascending)]
    };
    if let Some(a) = after {
        let mut values = vec![Param::Text(order.value(a).to_owned())];
        if order != InstanceOrder::Id {
            values.push(Param::Text(a.id.clone()));
        }
        select = select.after(values);
    }
    let (sql, params) = select.order_by(&keys).limit(limit).build();
    Ok(db::query_as(&sql).bind_all(params).fetch_all(pool).await?)
}

pub async fn insert_instance(pool: &Pool, i: &Instance) -> Result<()> {
    let columns = FlavorColumns::of(&i.flavor);
    db::query(
        "INSERT INTO instances (id, name, project_id, user_id, image_ref, flavor, key_name, key_data, user_data,
            metadata, availability_zone, vm_state, task_state, power_state, host, hostname, reservation_id,
            launch_index, locked, locked_reason, description, tags, config_drive, access_ipv4, access_ipv6, fault,
            launched_at, terminated_at, created_at, updated_at, deleted, pinned_availability_zone, flavor_id, vcpus,
            memory_mb, disk_gb)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?, ?, ?, ?, ?)",
    )
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.project_id)
    .bind(&i.user_id)
    .bind(&i.image_ref)
    .bind(&i.flavor)
    .bind(&i.key_name)
    .bind(&i.key_data)
    .bind(&i.user_data)
    .bind(&i.metadata)
    .bind(&i.availability_zone)
    .bind(i.vm_state)
    .bind(i.task_state)
    .bind(i.power_state)
    .bind(&i.host)
    .bind(&i.hostname)
    .bind(&i.reservation_id)
    .bind(i.launch_index)
    .bind(i.locked)
    .bind(&i.locked_reason)
    .bind(&i.description)
    .bind(&i.tags)
    .bind(&i.config_drive)
    .bind(&i.access_ipv4)
    .bind(&i.access_ipv6)
    .bind(&i.fault)
    .bind(&i.launched_at)
    .bind(&i.terminated_at)
    .bind(&i.created_at)
    .bind(&i.updated_at)
    .bind(&i.pinned_availability_zone)
    .bind(columns.flavor_id)
    .bind(columns.vcpus)
    .bind(columns.memory_mb)
    .bind(columns.disk_gb)
    .execute(pool)
    .await?;
    Ok(())
}

/// What an instance's flavor is and takes of a host, kept in its row beside
/// the flavor's copy so that lists filter by it and usage is summed in SQL:
/// its id, vCPUs, RAM (MiB) and disk (GiB: root, ephemeral and swap rounded
/// up).
struct FlavorColumns<'a> {
    flavor_id: &'a str,
    vcpus: i64,
    memory_mb: i64,
    disk_gb: i64,
}

impl FlavorColumns<'_> {
    fn of(f: &Flavor) -> FlavorColumns<'_> {
        FlavorColumns {
            flavor_id: &f.id,
            vcpus: f.vcpus,
            memory_mb: f.ram,
            disk_gb: f.disk + f.ephemeral + (f.swap + 1023) / 1024,
        }
    }
}

/// What `PUT /servers/{id}` changes: the names and addresses a user gives.
pub struct Descriptive<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub hostname: &'a str,
    pub access_ipv4: &'a str,
    pub access_ipv6: &'a str,
}

pub async fn set_descriptive(pool: &Pool, id: &str, d: &Descriptive<'_>, now: &str) -> Result<()> {
    db::query(
        "UPDATE instances SET name = ?, description = ?, hostname = ?, access_ipv4 = ?, access_ipv6 = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(d.name)
    .bind(d.description)
    .bind(d.hostname)
    .bind(d.access_ipv4)
    .bind(d.access_ipv6)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_name(pool: &Pool, id: &str, name: &str) -> Result<()> {
    db::query("UPDATE instances SET name = ? WHERE id = ?").bind(name).bind(id).execute(pool).await?;
    Ok(())
}

/// Locks (with its reason and who holds it) or unlocks.
pub async fn set_lock(pool: &Pool, id: &str, lock: Option<(Option<&str>, &str)>, now: &str) -> Result<()> {
    db::query("UPDATE instances SET locked = ?, locked_reason = ?, locked_by = ?, updated_at = ? WHERE id = ?")
        .bind(lock.is_some())
        .bind(lock.and_then(|(reason, _)| reason))
        .bind(lock.map(|(_, by)| by))
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The instance's interfaces as recorded.
pub async fn network_info(pool: &Pool, id: &str) -> Result<Option<Vec<Vif>>> {
    let row: Option<(JsonText<Vec<Vif>>,)> =
        db::query_as("SELECT network_info FROM instances WHERE id = ?").bind(id).fetch_optional(pool).await?;
    Ok(row.map(|(info,)| info.0))
}

pub async fn set_network_info(pool: &Pool, id: &str, vifs: &[Vif]) -> Result<()> {
    db::query("UPDATE instances SET network_info = ? WHERE id = ?").bind(JsonText(vifs)).bind(id).execute(pool).await?;
    Ok(())
}

/// The project of an instance, deleted or not.
pub async fn project_of(pool: &Pool, id: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        db::query_as("SELECT project_id FROM instances WHERE id = ?").bind(id).fetch_optional(pool).await?;
    Ok(row.map(|(p,)| p))
}

/// Records a serial console token (its digest) until `expires`, and forgets
/// the tokens expired by `now`.
pub async fn add_console_token(pool: &Pool, digest: &str, instance: &str, now: i64, expires: i64) -> Result<()> {
    db::query("DELETE FROM console_tokens WHERE expires_at < ?").bind(now).execute(pool).await?;
    db::query(
        "INSERT INTO console_tokens (token_hash, instance_id, console_type, expires_at) VALUES (?, ?, 'serial', ?)",
    )
    .bind(digest)
    .bind(instance)
    .bind(expires)
    .execute(pool)
    .await?;
    Ok(())
}

/// The instance of a console token (by its digest) that has not expired.
pub async fn console_instance(pool: &Pool, digest: &str, now: i64) -> Result<Option<String>> {
    let row: Option<(String,)> =
        db::query_as("SELECT instance_id FROM console_tokens WHERE token_hash = ? AND expires_at >= ?")
            .bind(digest)
            .bind(now)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(i,)| i))
}

pub async fn set_shelved_image(pool: &Pool, id: &str, image: Option<&str>) -> Result<()> {
    db::query("UPDATE instances SET shelved_image_id = ? WHERE id = ?").bind(image).bind(id).execute(pool).await?;
    Ok(())
}

/// Sets `task_state` to `to` if it is `expected` now (Nova's
/// `expected_task_state`): false when another operation got there first.
pub async fn begin_task(pool: &Pool, id: &str, expected: Option<TaskState>, to: TaskState, now: &str) -> Result<bool> {
    let done = db::query(
        "UPDATE instances SET task_state = ?, updated_at = ? WHERE id = ? AND deleted = FALSE AND task_state IS NOT DISTINCT FROM ?",
    )
    .bind(to)
    .bind(now)
    .bind(id)
    .bind(expected)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends the task `task`, recording the states the driver left.
pub async fn end_task(
    pool: &Pool,
    id: &str,
    task: TaskState,
    vm_state: VmState,
    power_state: PowerState,
    now: &str,
) -> Result<bool> {
    let done = db::query(
        "UPDATE instances SET task_state = NULL, vm_state = ?, power_state = ?, updated_at = ?
         WHERE id = ? AND task_state = ?",
    )
    .bind(vm_state)
    .bind(power_state)
    .bind(now)
    .bind(id)
    .bind(task)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The end of a build, good or bad.
pub async fn finish_build(
    pool: &Pool,
    id: &str,
    vm_state: VmState,
    power_state: PowerState,
    host: Option<&str>,
    fault: Option<&str>,
    now: &str,
) -> Result<bool> {
    let launched = (vm_state == VmState::Active).then_some(now);
    let done = db::query(
        "UPDATE instances SET vm_state = ?, task_state = NULL, power_state = ?, host = ?, fault = ?,
            launched_at = ?, updated_at = ? WHERE id = ? AND vm_state = 'building' AND deleted = FALSE",
    )
    .bind(vm_state)
    .bind(power_state)
    .bind(host)
    .bind(fault)
    .bind(launched)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_deleted(pool: &Pool, id: &str, now: &str) -> Result<()> {
    db::query(
        "UPDATE instances SET deleted = TRUE, vm_state = 'deleted', task_state = NULL, power_state = 0,
            terminated_at = ?, updated_at = ? WHERE id = ?",
    )
    .bind(now)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a power state found on the host, unless a task started meanwhile
/// or another writer already changed it.
pub async fn set_power(
    pool: &Pool,
    id: &str,
    vm_state: VmState,
    power: PowerState,
    was: PowerState,
    now: &str,
) -> Result<()> {
    db::query(
        "UPDATE instances SET vm_state = ?, power_state = ?, updated_at = ?
         WHERE id = ? AND deleted = FALSE AND task_state IS NULL AND power_state = ?",
    )
    .bind(vm_state)
    .bind(power)
    .bind(now)
    .bind(id)
    .bind(was)
    .execute(pool)
    .await?;
    Ok(())
}

/// The instances of `host` (or not yet on one) left mid-operation.
pub async fn unfinished(pool: &Pool, host: &str) -> Result<Vec<Instance>> {
    Ok(db::query_as(
        "SELECT * FROM instances WHERE deleted = FALSE AND (task_state IS NOT NULL OR vm_state = 'building')
            AND (host = ? OR host IS NULL)",
    )
    .bind(host)
    .fetch_all(pool)
    .await?)
}

pub async fn set_error(pool: &Pool, id: &str, fault: &str, now: &str) -> Result<()> {
    db::query("UPDATE instances SET vm_state = 'error', task_state = NULL, fault = ?, updated_at = ? WHERE id = ?")
        .bind(fault)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A project's instances, cores and RAM (MiB), summed in SQL over the sizes
/// each instance's row keeps of its flavor.
pub async fn usage(pool: &Pool, project: &str) -> Result<(i64, i64, i64)> {
    Ok(db::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(vcpus), 0) AS BIGINT), CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT)
         FROM instances WHERE deleted = FALSE AND project_id = ?",
    )
    .bind(project)
    .fetch_one(pool)
    .await?)
}

pub async fn set_extra_specs(pool: &Pool, flavor_id: &str, specs: &Metadata) -> Result<()> {
    db::query("UPDATE flavors SET extra_specs = ? WHERE id = ?")
        .bind(JsonText(specs))
        .bind(flavor_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn flavor_access(pool: &Pool, flavor_id: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT project_id FROM flavor_access WHERE flavor_id = ? ORDER BY project_id")
        .bind(flavor_id)
        .fetch_all(pool)
        .await?)
}

/// Flavor ids a project was given access to.
pub async fn flavors_shared_with(pool: &Pool, project_id: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar("SELECT flavor_id FROM flavor_access WHERE project_id = ?")
        .bind(project_id)
        .fetch_all(pool)
        .await?)
}

pub async fn add_flavor_access(pool: &Pool, flavor_id: &str, project_id: &str) -> Result<()> {
    db::query("INSERT INTO flavor_access (flavor_id, project_id) VALUES (?, ?)")
        .bind(flavor_id)
        .bind(project_id)
        .execute(pool)
        .await
        .on_unique(|| {
            Error::Conflict(format!(
                "Flavor access already exists for flavor {flavor_id} and project {project_id} combination."
            ))
        })?;
    Ok(())
}

pub async fn remove_flavor_access(pool: &Pool, flavor_id: &str, project_id: &str) -> Result<bool> {
    Ok(db::query("DELETE FROM flavor_access WHERE flavor_id = ? AND project_id = ?")
        .bind(flavor_id)
        .bind(project_id)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

pub async fn set_metadata(pool: &Pool, id: &str, metadata: &Metadata, now: &str) -> Result<()> {
    db::query("UPDATE instances SET metadata = ?, updated_at = ? WHERE id = ?")
        .bind(JsonText(metadata))
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_tags(pool: &Pool, id: &str, tags: &[String], now: &str) -> Result<()> {
    db::query("UPDATE instances SET tags = ?, updated_at = ? WHERE id = ?")
        .bind(JsonText(tags))
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends a task that also changed what the instance is: its image, flavor or
/// the flavor a resize can return to.
#[allow(clippy::too_many_arguments)]
pub async fn end_task_with(
    pool: &Pool,
    id: &str,
    task: TaskState,
    vm_state: VmState,
    power_state: PowerState,
    image_ref: &str,
    flavor: &Flavor,
    old_flavor: Option<&Flavor>,
    host: Option<&str>,
    now: &str,
) -> Result<bool> {
    let columns = FlavorColumns::of(flavor);
    let done = db::query(
        "UPDATE instances SET task_state = NULL, vm_state = ?, power_state = ?, image_ref = ?, flavor = ?,
            flavor_id = ?, vcpus = ?, memory_mb = ?, disk_gb = ?, old_flavor = ?, host = ?, updated_at = ? WHERE id = ? AND task_state = ?",
    )
    .bind(vm_state)
    .bind(power_state)
    .bind(image_ref)
    .bind(flavor)
    .bind(columns.flavor_id)
    .bind(columns.vcpus)
    .bind(columns.memory_mb)
    .bind(columns.disk_gb)
    .bind(old_flavor)
    .bind(host)
    .bind(now)
    .bind(id)
    .bind(task)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An operation waiting for the server of the instance's host.
#[derive(Clone, Debug, FromRow)]
pub struct Work {
    pub id: String,
    pub host: String,
    pub instance_id: String,
    pub kind: String,
    pub action_id: i64,
    pub created_at: String,
    /// What a handed-over build or move needs of its request (JSON).
    pub payload: Option<String>,
    /// A question's answer (JSON), once the host's server gave it.
    pub answer: Option<String>,
}

pub async fn insert_work(pool: &Pool, w: &Work) -> Result<()> {
    db::query(
        "INSERT INTO compute_work (id, host, instance_id, kind, action_id, created_at, payload)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&w.id)
    .bind(&w.host)
    .bind(&w.instance_id)
    .bind(&w.kind)
    .bind(w.action_id)
    .bind(&w.created_at)
    .bind(&w.payload)
    .execute(pool)
    .await?;
    Ok(())
}

/// The work waiting for `host`, oldest first (answered questions are done).
pub async fn work_for(pool: &Pool, host: &str) -> Result<Vec<Work>> {
    Ok(db::query_as("SELECT * FROM compute_work WHERE host = ? AND answer IS NULL ORDER BY created_at, id")
        .bind(host)
        .fetch_all(pool)
        .await?)
}

/// Answers the question of work row `id`.
pub async fn answer_work(pool: &Pool, id: &str, answer: &str) -> Result<()> {
    db::query("UPDATE compute_work SET answer = ? WHERE id = ?").bind(answer).bind(id).execute(pool).await?;
    Ok(())
}

/// The answer to the question of work row `id`: `None` while there is none.
pub async fn work_answer(pool: &Pool, id: &str) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        db::query_as("SELECT answer FROM compute_work WHERE id = ?").bind(id).fetch_optional(pool).await?;
    Ok(row.and_then(|(a,)| a))
}

pub async fn delete_work(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM compute_work WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}
