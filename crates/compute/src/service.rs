//! The rules of Compute: flavors, keypairs, quotas, and the servers' state
//! machine. Every state change is written before it is acknowledged; driver
//! work runs after the answer, as Nova's does, and ends by writing the result.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use oxistack_core::context::{BoxFuture, Context};
use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};
use oxistack_core::time;

use crate::operations::{settle, Elsewhere, Outcome};
use crate::store::{self, Flavor, Instance, Keypair};
use crate::virt::{InstanceSpec, PowerState, VirtDriver};
use crate::Compute;
use crate::{actions, aggregates, host, network, quotas, server_groups};
use oxistack_network::Network;

/// At most two keys are made at once, off the async threads: an RSA key
/// takes a core for a moment, and many asked for at once must not stall
/// the API.
async fn generate_key(key_type: &str, user_id: &str) -> Result<(String, String)> {
    static MAKING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _turn = MAKING.acquire().await.map_err(|e| Error::Internal(e.into()))?;
    let (key_type, user_id) = (key_type.to_owned(), user_id.to_owned());
    tokio::task::spawn_blocking(move || match key_type.as_str() {
        "x509" => crate::keys::generate_x509(&user_id),
        _ => crate::keys::generate_ssh("Generated-by-Nova"),
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
    .map_err(|e| Error::Internal(anyhow::anyhow!("generating a key: {e}")))
}

/// What the driver is given to run `inst` with `flavor` from `image_ref`.
pub(crate) async fn instance_spec(
    image: &oxistack_image::Image,
    inst: &Instance,
    flavor: &Flavor,
    image_ref: &str,
) -> Result<InstanceSpec> {
    let boot = match image.boot_source(image_ref).await? {
        None => None,
        Some((row, path)) => {
            let disk_format = row.disk_format.unwrap_or_else(|| "raw".into());
            refuse_unsafe_image(&row.id, &path, &disk_format).await?;
            Some(crate::virt::BootImage { path, disk_format, content_hash: row.os_hash_value.unwrap_or(row.id) })
        }
    };
    Ok(InstanceSpec { image: boot, ..describe(inst, flavor, image_ref) })
}

/// The format inspector again, on the stored file, before any driver opens
/// it: images stored before the Image service inspected uploads, or whose
/// file changed since, never reach `qemu-img` or QEMU unproven.
async fn refuse_unsafe_image(image_id: &str, path: &std::path::Path, disk_format: &str) -> Result<()> {
    let (path, format) = (path.to_owned(), disk_format.to_owned());
    let verdict = tokio::task::spawn_blocking(move || format_inspector::inspect_file(&path, &format))
        .await
        .map_err(anyhow::Error::from)?;
    match verdict {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(refusal)) => {
            tracing::warn!(image = image_id, rule = refusal.rule, "boot of an unsafe image refused");
            Err(Error::BadRequest(format!("Image {image_id} is refused: {refusal}")))
        }
        Err(e) => {
            tracing::error!(image = image_id, error = %e, "reading an image's file failed");
            Err(Error::BadRequest(format!("Image {image_id} has no readable data.")))
        }
    }
}

/// The instance as its guest sees it (what the metadata tells), without
/// the boot image's data.
fn describe(inst: &Instance, flavor: &Flavor, image_ref: &str) -> InstanceSpec {
    InstanceSpec {
        id: inst.id.clone(),
        name: inst.name.clone(),
        hostname: inst.hostname.clone(),
        project_id: inst.project_id.clone(),
        availability_zone: inst.availability_zone.clone(),
        flavor_name: flavor.name.clone(),
        vcpus: flavor.vcpus,
        ram_mb: flavor.ram,
        disk_gb: flavor.disk,
        ephemeral_gb: flavor.ephemeral,
        swap_mb: flavor.swap,
        image_id: image_ref.to_owned(),
        image: None,
        key_name: inst.key_name.clone(),
        public_key: inst.key_data.clone(),
        user_data: inst.user_data.clone(),
        metadata: serde_json::from_str(&inst.metadata).unwrap_or_default(),
        config_drive: inst.config_drive == "True",
        admin_pass: None,
        vifs: network::vifs(&inst.network_info),
        launched_at: inst.launched_at.clone().unwrap_or_else(now),
    }
}

pub fn now() -> String {
    time::iso_seconds(time::now())
}

/// DevStack's flavors: (id, name, vcpus, ram MiB, disk GiB).
/// The lock a boot or a resize holds from its quota and capacity checks
/// until its instances are written, so that concurrent ones, through any
/// server on the database, do not overcommit.
pub const SCHEDULING: &str = "compute.scheduling";

const DEFAULT_FLAVORS: &[(&str, &str, i64, i64, i64)] = &[
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
    ("42", "m1.nano", 1, 128, 1),
    ("84", "m1.micro", 1, 192, 1),
];

/// Nova's status for a vm_state and task_state.
pub fn status(vm_state: &str, task_state: Option<&str>) -> &'static str {
    match (vm_state, task_state) {
        ("building", _) => "BUILD",
        ("active", Some("rebooting" | "reboot_pending" | "reboot_started")) => "REBOOT",
        ("active", Some("rebooting_hard" | "reboot_pending_hard" | "reboot_started_hard")) => "HARD_REBOOT",
        ("active", Some("rebuilding" | "rebuild_block_device_mapping" | "rebuild_spawning")) => "REBUILD",
        ("active", Some("resize_prep" | "resize_migrating" | "resize_migrated" | "resize_finish")) => "RESIZE",
        ("active", Some("migrating")) => "MIGRATING",
        ("active", _) => "ACTIVE",
        ("stopped", _) => "SHUTOFF",
        ("paused", _) => "PAUSED",
        ("suspended", _) => "SUSPENDED",
        ("resized", _) => "VERIFY_RESIZE",
        ("rescued", _) => "RESCUE",
        ("shelved", _) => "SHELVED",
        ("shelved_offloaded", _) => "SHELVED_OFFLOADED",
        ("soft-delete", _) => "SOFT_DELETED",
        ("deleted", _) => "DELETED",
        ("error", _) => "ERROR",
        _ => "UNKNOWN",
    }
}

/// A server action: the vm_states it is allowed from, its task_state while it
/// runs, and the vm_state and power state it ends in.
pub struct Action {
    pub name: &'static str,
    pub allowed: &'static [&'static str],
    pub task: &'static str,
    pub ends: &'static str,
    pub power: PowerState,
}

pub const STOP: Action = Action {
    name: "stop",
    allowed: &["active", "error"],
    task: "powering-off",
    ends: "stopped",
    power: PowerState::Shutdown,
};
pub const START: Action =
    Action { name: "start", allowed: &["stopped"], task: "powering-on", ends: "active", power: PowerState::Running };
pub const REBOOT: Action =
    Action { name: "reboot", allowed: &["active"], task: "rebooting", ends: "active", power: PowerState::Running };
pub const HARD_REBOOT: Action = Action {
    name: "reboot",
    allowed: &["active", "stopped", "paused", "suspended", "error"],
    task: "rebooting_hard",
    ends: "active",
    power: PowerState::Running,
};
pub const PAUSE: Action =
    Action { name: "pause", allowed: &["active"], task: "pausing", ends: "paused", power: PowerState::Paused };
pub const UNPAUSE: Action =
    Action { name: "unpause", allowed: &["paused"], task: "unpausing", ends: "active", power: PowerState::Running };
pub const SUSPEND: Action = Action {
    name: "suspend",
    allowed: &["active"],
    task: "suspending",
    ends: "suspended",
    power: PowerState::Suspended,
};
pub const RESUME: Action =
    Action { name: "resume", allowed: &["suspended"], task: "resuming", ends: "active", power: PowerState::Running };

/// A request to boot servers, already checked for shape.
pub struct CreateServer {
    pub name: String,
    pub image_ref: String,
    pub flavor_ref: String,
    pub key_name: Option<String>,
    pub user_data: Option<String>,
    pub metadata: Map<String, Value>,
    pub availability_zone: Option<String>,
    pub min_count: i64,
    pub max_count: i64,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub config_drive: bool,
    pub hostname: Option<String>,
    /// The server group of the `group` scheduler hint.
    pub group: Option<String>,
    /// The `networks` of the request.
    pub networks: network::Requested,
    /// The `security_groups` of the request, by name or id.
    pub security_groups: Vec<String>,
    /// `accessIPv4` and `accessIPv6`, validated: addresses the user says
    /// reach the server, kept and shown as given.
    pub access_ipv4: String,
    pub access_ipv6: String,
    /// Given, or made for the request; answered once, written to the
    /// config drive, never stored.
    pub admin_pass: String,
}

/// What a build takes from its create request and keeps nowhere else.
struct BuildAsks {
    networks: network::Requested,
    /// The security groups' ids.
    groups: Vec<String>,
    admin_pass: String,
}

/// A hostname from a display name, as Nova sanitizes it.
fn hostname_from(name: &str) -> String {
    let mut h: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    h = h.trim_matches(|c| c == '-' || c == '.').to_owned();
    h.truncate(63);
    if h.is_empty() {
        "server".into()
    } else {
        h
    }
}

pub(crate) fn locked_error(id: &str) -> Error {
    Error::Conflict(format!("Instance {id} is locked"))
}

impl Compute {
    /// What the metadata service tells instance `id` about itself; `None`
    /// once it is gone.
    pub async fn metadata_spec(&self, id: &str) -> Result<Option<InstanceSpec>> {
        let Some(inst) = store::instance(&self.pool, id).await? else {
            return Ok(None);
        };
        let flavor = crate::moves::flavor_of(&inst.flavor)?;
        Ok(Some(describe(&inst, &flavor, &inst.image_ref)))
    }

    /// Adds DevStack's flavors to a new cloud.
    pub async fn bootstrap(&self) -> anyhow::Result<()> {
        if !store::flavors(&self.pool).await?.is_empty() {
            return Ok(());
        }
        for (id, name, vcpus, ram, disk) in DEFAULT_FLAVORS {
            store::insert_flavor(&self.pool, &Flavor::new(id, name, *vcpus, *ram, *disk)).await?;
        }
        Ok(())
    }

    pub async fn flavor(&self, id: &str) -> Result<Flavor> {
        store::find_flavor(&self.pool, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Flavor {id} could not be found.")))
    }

    /// A flavor `project` may use and see: public, or private and shared
    /// with it (admins see all). Others are 404, as if absent.
    pub async fn usable_flavor(&self, ctx: &Context, project: Option<&str>, id: &str) -> Result<Flavor> {
        let flavor = self.flavor(id).await?;
        if flavor.is_public || ctx.is_admin() {
            return Ok(flavor);
        }
        match project {
            Some(p) if store::flavors_shared_with(&self.pool, p).await?.contains(&flavor.id) => Ok(flavor),
            _ => Err(Error::NotFound(format!("Flavor {id} could not be found."))),
        }
    }

    /// Imports the public key given, or, without one, generates a key (and
    /// for `x509` its certificate) and answers its private key once.
    pub async fn create_keypair(
        &self,
        ctx: &Context,
        user_id: Option<&str>,
        name: &str,
        key_type: &str,
        public_key: Option<&str>,
    ) -> Result<(Keypair, Option<String>)> {
        let user_id = match user_id {
            Some(u) if u != ctx.user_id => {
                if !ctx.is_admin() {
                    return Err(Error::Forbidden(
                        "Policy doesn't allow os_compute_api:os-keypairs:create to be performed.".into(),
                    ));
                }
                u.to_owned()
            }
            _ => ctx.user_id.clone(),
        };
        let valid_name = !name.is_empty()
            && name.len() <= 255
            && name.chars().all(|c| c.is_ascii_alphanumeric() || " -_.@".contains(c));
        if !valid_name {
            return Err(Error::BadRequest("Keypair data is invalid: Keypair name contains unsafe characters".into()));
        }
        if !matches!(key_type, "ssh" | "x509") {
            return Err(Error::BadRequest(format!("Invalid input for field/attribute type. Value: {key_type}.")));
        }
        let used = store::keypairs(&self.pool, &user_id).await?;
        let limit = match ctx.project_id() {
            Some(p) => quotas::limits(&self.pool, p).await?.get("key_pairs").copied().unwrap_or(-1),
            None => 100,
        };
        if !quotas::fits(limit, used.len() as i64, 1) {
            return Err(Error::Forbidden("Quota exceeded, too many key pairs.".into()));
        }
        // Checked before a key is made for it: making one costs a core.
        if used.iter().any(|k| k.name == name) {
            return Err(Error::Conflict(format!("Key pair '{name}' already exists.")));
        }
        let (public_key, private_key) = match public_key {
            Some(k) => (k.to_owned(), None),
            None => {
                let (public, private) = generate_key(key_type, &user_id).await?;
                (public, Some(private))
            }
        };
        let public_key = public_key.as_str();
        // (The type is `ssh` or `x509`, checked above.)
        let fingerprint = match key_type {
            "ssh" => crate::keys::ssh_fingerprint(public_key),
            _ => crate::keys::x509_fingerprint(public_key),
        }
        .ok_or_else(|| Error::BadRequest("Keypair data is invalid: failed to generate fingerprint".into()))?;
        let k = Keypair {
            user_id,
            name: name.into(),
            key_type: key_type.into(),
            public_key: public_key.trim().into(),
            fingerprint,
            created_at: now(),
        };
        store::insert_keypair(&self.pool, &k).await?;
        Ok((k, private_key))
    }

    pub async fn keypair(&self, ctx: &Context, user_id: Option<&str>, name: &str) -> Result<Keypair> {
        let uid = self.keypair_owner(ctx, user_id)?;
        store::find_keypair(&self.pool, &uid, name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Keypair {name} not found for user {uid}")))
    }

    /// Admins may name another user; others only themselves.
    pub fn keypair_owner(&self, ctx: &Context, user_id: Option<&str>) -> Result<String> {
        match user_id {
            Some(u) if u != ctx.user_id && !ctx.is_admin() => {
                Err(Error::Forbidden("Policy doesn't allow os_compute_api:os-keypairs to be performed.".into()))
            }
            Some(u) => Ok(u.to_owned()),
            None => Ok(ctx.user_id.clone()),
        }
    }

    /// A live instance the caller may act on: its project's, or any for an
    /// admin. Others' are 404, as in Nova.
    pub async fn instance(&self, ctx: &Context, id: &str) -> Result<Instance> {
        match store::instance(&self.pool, id).await? {
            Some(i) if ctx.is_admin() || ctx.project_id() == Some(i.project_id.as_str()) => Ok(i),
            _ => Err(Error::NotFound(format!("Instance {id} could not be found."))),
        }
    }

    /// The instance, for a change: a locked one refuses every change but
    /// an admin's (Nova's `check_instance_lock`).
    pub async fn instance_to_change(&self, ctx: &Context, id: &str) -> Result<Instance> {
        let inst = self.instance(ctx, id).await?;
        if inst.locked && !ctx.is_admin() {
            return Err(locked_error(id));
        }
        Ok(inst)
    }

    pub async fn create_servers(&self, ctx: &Context, req: CreateServer) -> Result<Vec<Instance>> {
        let project = ctx
            .project_id()
            .ok_or_else(|| Error::Forbidden("A project-scoped token is required to create servers.".into()))?
            .to_owned();
        let flavor = self
            .usable_flavor(ctx, Some(&project), &req.flavor_ref)
            .await
            .map_err(|_| Error::BadRequest(format!("Flavor {} could not be found.", req.flavor_ref)))?;
        let image = self
            .image
            .visible(ctx, &req.image_ref)
            .await
            .map_err(|_| Error::BadRequest(format!("Image {} could not be found.", req.image_ref)))?;
        if image.status != "active" {
            return Err(Error::BadRequest(format!("Image {} is not active.", req.image_ref)));
        }
        if flavor.ram < image.min_ram {
            return Err(Error::BadRequest("Flavor's memory is too small for requested image.".into()));
        }
        if flavor.disk > 0 && flavor.disk < image.min_disk {
            return Err(Error::BadRequest("Flavor's disk is too small for requested image.".into()));
        }
        if flavor.disk > 0 && image.virtual_size.or(image.size).unwrap_or(0) > flavor.disk << 30 {
            return Err(Error::BadRequest(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {} bytes, image is {} bytes.",
                flavor.disk << 30,
                image.virtual_size.or(image.size).unwrap_or(0)
            )));
        }
        let key_data = match &req.key_name {
            Some(k) => Some(
                store::find_keypair(&self.pool, &ctx.user_id, k)
                    .await?
                    .ok_or_else(|| Error::BadRequest("Invalid key_name provided.".into()))?
                    .public_key,
            ),
            None => None,
        };
        let (requested, group_ids) =
            network::resolve(&self.network, ctx, &project, &req.networks, &req.security_groups).await?;
        let zone = aggregates::zone_of(&self.pool, &self.config.host, &self.config.availability_zone).await?;
        if let Some(az) = &req.availability_zone {
            if az.split(':').next() != Some(zone.as_str()) {
                return Err(Error::BadRequest("The requested availability zone is not available".into()));
            }
        }
        // Every server on the database waits here: the quota and capacity
        // checks and the instances they let in are one step.
        let scheduling = self.pool.lock(SCHEDULING).await?;
        // Quotas, checked for the most that may be created, then the least.
        let (instances, cores, ram) = store::usage(&self.pool, &project).await?;
        let limits = quotas::limits(&self.pool, &project).await?;
        let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
        let fits = |n: i64| {
            if !quotas::fits(limit("instances"), instances, n) {
                Err(("instances", n, instances, limit("instances")))
            } else if !quotas::fits(limit("cores"), cores, n * flavor.vcpus) {
                Err(("cores", n * flavor.vcpus, cores, limit("cores")))
            } else if !quotas::fits(limit("ram"), ram, n * flavor.ram) {
                Err(("ram", n * flavor.ram, ram, limit("ram")))
            } else {
                Ok(())
            }
        };
        let mut count = req.max_count;
        while count > req.min_count && fits(count).is_err() {
            count -= 1;
        }
        if let Err((what, requested, used, limit)) = fits(count) {
            return Err(Error::Forbidden(format!(
                "Quota exceeded for {what}: Requested {requested}, but already used {used} of {limit} {what}"
            )));
        }

        // Server group: its member quota, and how many servers its policy lets
        // this host take.
        let group = match &req.group {
            Some(g) => Some(
                server_groups::find(&self.pool, ctx, g)
                    .await
                    .map_err(|_| Error::BadRequest(format!("Invalid input for field/attribute group. Value: {g}.")))?,
            ),
            None => None,
        };
        let mut room = None;
        if let Some(g) = &group {
            let members = server_groups::members(&self.pool, &g.id).await?.len() as i64;
            let limit = quotas::limits(&self.pool, &project).await?.get("server_group_members").copied().unwrap_or(-1);
            if !quotas::fits(limit, members, count) {
                return Err(Error::Forbidden("Quota exceeded, too many servers in group".into()));
            }
            room = server_groups::room_on_host(&self.pool, g).await?;
        }
        // The host's free vCPUs, RAM and disk; instances beyond them end in
        // ERROR with NoValidHost, as those a group's policy keeps off it.
        let here = host::state(&self.pool, &self.config.host, &self.config.state_path, self.driver.capacity()).await?;
        let fits = here.room_for(&flavor, &self.config.allocation_ratios);
        room = Some(room.map_or(fits, |r: i64| r.min(fits)));
        let reservation_id = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let flavor_json = serde_json::to_string(&flavor).map_err(anyhow::Error::from)?;
        let mut created = vec![];
        for index in 0..count {
            let name = if count > 1 { format!("{}-{}", req.name, index + 1) } else { req.name.clone() };
            let now = now();
            let inst = Instance {
                id: uuid::Uuid::new_v4().to_string(),
                hostname: req.hostname.clone().unwrap_or_else(|| hostname_from(&name)),
                name,
                project_id: project.clone(),
                user_id: ctx.user_id.clone(),
                image_ref: req.image_ref.clone(),
                flavor: flavor_json.clone(),
                key_name: req.key_name.clone(),
                key_data: key_data.clone(),
                user_data: req.user_data.clone(),
                metadata: Value::Object(req.metadata.clone()).to_string(),
                availability_zone: zone.clone(),
                vm_state: "building".into(),
                task_state: Some("scheduling".into()),
                power_state: PowerState::NoState as i64,
                // Placed on this host now, unless it has no room left
                // (that one ends in ERROR with NoValidHost).
                host: room.is_none_or(|r| index < r).then(|| self.config.host.clone()),
                reservation_id: reservation_id.clone(),
                launch_index: index,
                locked: false,
                locked_reason: None,
                locked_by: None,
                pinned_availability_zone: req.availability_zone.clone(),
                shelved_image_id: None,
                description: req.description.clone(),
                tags: json!(req.tags).to_string(),
                config_drive: if req.config_drive || self.config.force_config_drive {
                    "True".into()
                } else {
                    String::new()
                },
                access_ipv4: req.access_ipv4.clone(),
                access_ipv6: req.access_ipv6.clone(),
                fault: None,
                launched_at: None,
                terminated_at: None,
                created_at: now.clone(),
                updated_at: now,
                deleted: false,
                old_flavor: None,
                network_info: "[]".into(),
            };
            store::insert_instance(&self.pool, &inst).await?;
            created.push(inst);
        }
        if let Some(g) = &group {
            for inst in &created {
                server_groups::add_member(&self.pool, &g.id, &inst.id).await?;
            }
        }
        // The instances and their group places are written: the next boot
        // counts them.
        scheduling.release().await;
        for (index, inst) in created.iter().enumerate() {
            let no_host = room.is_some_and(|r| index as i64 >= r);
            let action = actions::start(&self.pool, ctx, &inst.id, "create", Some(&self.config.host)).await?;
            let asks = BuildAsks {
                networks: requested.clone(),
                groups: group_ids.clone(),
                admin_pass: req.admin_pass.clone(),
            };
            self.build(inst.clone(), flavor.clone(), action, no_host, asks);
        }
        Ok(created)
    }

    /// Schedules and spawns an instance, after the create was answered.
    fn build(&self, inst: Instance, flavor: Flavor, action: i64, no_host: bool, asks: BuildAsks) {
        let (pool, driver, host) = (self.pool.clone(), self.driver.clone(), self.config.host.clone());
        let (image, net) = (self.image.clone(), self.network.clone());
        tokio::spawn(async move {
            let outcome = if no_host {
                Err(crate::virt::DriverError::Failed(
                    "No valid host was found. There are not enough hosts available.".into(),
                ))
            } else {
                let prepared = async {
                    let mut spec = instance_spec(&image, &inst, &flavor, &inst.image_ref).await?;
                    spec.vifs = network::allocate(&net, &pool, &inst, &host, &asks.networks, &asks.groups).await?;
                    spec.admin_pass = Some(asks.admin_pass);
                    Ok::<_, Error>(spec)
                };
                match prepared.await {
                    Ok(spec) => driver.spawn(&spec).await,
                    Err(e) => Err(crate::virt::DriverError::Failed(e.public_message())),
                }
            };
            if outcome.is_err() {
                // Nova deallocates the network of a build that failed.
                if let Err(e) = network::release(&net, &pool, &inst.id).await {
                    tracing::error!(instance = %inst.id, error = %e, "releasing a failed build's addresses failed");
                }
            }
            let error = outcome.as_ref().err().map(|e| e.to_string());
            if let Err(e) = actions::finish(&pool, action, error.as_deref()).await {
                tracing::error!(instance = %inst.id, error = %e, "recording the build's event failed");
            }
            let now = now();
            let written = match outcome {
                Ok(()) => {
                    let done = store::finish_build(
                        &pool,
                        &inst.id,
                        "active",
                        PowerState::Running as i64,
                        Some(&host),
                        None,
                        &now,
                    )
                    .await;
                    if matches!(done, Ok(false)) {
                        // Deleted while it was building.
                        if driver.destroy(&inst.id).await.is_ok() {
                            let _ = network::release(&net, &pool, &inst.id).await;
                        }
                    }
                    done
                }
                Err(e) => {
                    tracing::warn!(instance = %inst.id, error = %e, "build failed");
                    let message =
                        if no_host { e.to_string() } else { format!("Build of instance {} aborted: {e}", inst.id) };
                    let fault = json!({"code": 500, "message": message, "created": now}).to_string();
                    store::finish_build(
                        &pool,
                        &inst.id,
                        "error",
                        PowerState::NoState as i64,
                        Some(&host),
                        Some(&fault),
                        &now,
                    )
                    .await
                }
            };
            if let Err(e) = written {
                tracing::error!(instance = %inst.id, error = %e, "recording the end of a build failed");
            }
        });
    }

    /// Starts power action `action` on a server (see `operations`); the
    /// driver call runs after the answer, here or on the server of the
    /// instance's host.
    pub async fn act(&self, ctx: &Context, id: &str, action: &'static Action) -> Result<()> {
        let started = self.begin(ctx, id, Elsewhere::HandOver, action.name, action.allowed, action.task).await?;
        if !self.runs(&started.0) {
            return self.hand_over(&started.0, action.task, started.1).await;
        }
        let (pool, driver, (inst, record)) = (self.pool.clone(), self.driver.clone(), started);
        tokio::spawn(async move {
            // The driver's own words are the fault's.
            let outcome = power_action(driver.as_ref(), &inst, action).await.map_err(|e| e.to_string());
            settle(&pool, &inst.id, record, action.name, action.task, outcome).await
        });
        Ok(())
    }

    /// Locks or unlocks. A lock records who took it, as Nova's `locked_by`:
    /// `owner` when the server's own project locked it, else `admin`; only
    /// the same side unlocks, unless an admin overrides
    /// (`os_compute_api:os-lock-server:unlock:unlock_override`).
    pub async fn set_lock(&self, ctx: &Context, id: &str, locked: bool, reason: Option<&str>) -> Result<()> {
        let inst = self.instance(ctx, id).await?;
        let side = if ctx.project_id() == Some(inst.project_id.as_str()) { "owner" } else { "admin" };
        if !locked && inst.locked && inst.locked_by.as_deref().unwrap_or("owner") != side {
            oxistack_core::policy::enforce(
                ctx,
                "os_compute_api:os-lock-server:unlock:unlock_override",
                &oxistack_core::policy::Target::project(&inst.project_id),
            )?;
        }
        let record =
            actions::start(&self.pool, ctx, id, if locked { "lock" } else { "unlock" }, inst.host.as_deref()).await?;
        actions::finish(&self.pool, record, None).await?;
        store::set_lock(&self.pool, id, locked.then_some((reason, side)), &now()).await?;
        Ok(())
    }

    /// Deletes a server: recorded at once, the driver cleans up after.
    pub async fn delete(&self, ctx: &Context, id: &str) -> Result<()> {
        let inst = self.instance(ctx, id).await?;
        if inst.locked && !ctx.is_admin() {
            return Err(locked_error(id));
        }
        store::mark_deleted(&self.pool, id, &now()).await?;
        let record = actions::start(&self.pool, ctx, id, "delete", inst.host.as_deref()).await?;
        if !self.runs(&inst) {
            return self.hand_over(&inst, "delete", record).await;
        }
        let (pool, driver, net) = (self.pool.clone(), self.driver.clone(), self.network.clone());
        let id = id.to_owned();
        tokio::spawn(async move { complete_delete(&pool, driver.as_ref(), &net, &id, record).await });
        Ok(())
    }

    /// Whether this server runs the instance's host (or it has none yet).
    pub(crate) fn runs(&self, inst: &Instance) -> bool {
        inst.host.as_deref().is_none_or(|h| h == self.config.host)
    }

    /// Leaves the driver's part of an accepted operation to the server of the
    /// instance's host, as a row its worker does (see [`Compute::do_work`]).
    async fn hand_over(&self, inst: &Instance, kind: &str, action_id: i64) -> Result<()> {
        let work = store::Work {
            id: uuid::Uuid::new_v4().to_string(),
            host: inst.host.clone().unwrap_or_default(),
            instance_id: inst.id.clone(),
            kind: kind.to_owned(),
            action_id,
            created_at: now(),
        };
        store::insert_work(&self.pool, &work).await?;
        tracing::info!(instance = %inst.id, host = %work.host, kind, "handed the operation to the server of its host");
        Ok(())
    }

    /// Does the work other servers left for this host; each row goes once
    /// its work is done, so a restart in between does it again.
    pub async fn do_work(&self) -> Result<()> {
        for w in store::work_for(&self.pool, &self.config.host).await? {
            match w.kind.as_str() {
                "delete" => {
                    complete_delete(&self.pool, self.driver.as_ref(), &self.network, &w.instance_id, w.action_id).await
                }
                task => {
                    match (ACTIONS.iter().find(|a| a.task == task), store::instance(&self.pool, &w.instance_id).await?)
                    {
                        (Some(action), Some(inst)) => {
                            let outcome =
                                power_action(self.driver.as_ref(), &inst, action).await.map_err(|e| e.to_string());
                            settle(&self.pool, &inst.id, w.action_id, action.name, action.task, outcome).await
                        }
                        (None, _) => {
                            tracing::error!(instance = %w.instance_id, kind = task, "unknown work for this host")
                        }
                        // Gone meanwhile: nothing is left to do.
                        (_, None) => {}
                    }
                }
            }
            store::delete_work(&self.pool, &w.id).await?;
        }
        Ok(())
    }

    /// After a restart: instances a stop left mid-operation are brought to
    /// what the driver really shows, or to ERROR with a fault saying why.
    pub async fn reconcile(&self) -> anyhow::Result<()> {
        // Instances the driver no longer knows (a restart of the fake driver,
        // a host that lost them) are taken back, or recorded as gone.
        for inst in store::instances_on(&self.pool, &self.config.host).await? {
            if inst.vm_state == "building" || inst.vm_state == "shelved_offloaded" {
                continue;
            }
            if !matches!(self.driver.power_state(&inst.id).await, Err(crate::virt::DriverError::NotFound(_))) {
                continue;
            }
            let power = match inst.power_state {
                1 => PowerState::Running,
                3 => PowerState::Paused,
                7 => PowerState::Suspended,
                _ => PowerState::Shutdown,
            };
            let flavor: Flavor = serde_json::from_str(&inst.flavor)?;
            let spec = instance_spec(&self.image, &inst, &flavor, &inst.image_ref).await?;
            if let Err(e) = self.driver.adopt(&spec, power).await {
                let now = now();
                let fault =
                    json!({"code": 500, "message": format!("The instance is gone from its host: {e}"), "created": now})
                        .to_string();
                store::set_error(&self.pool, &inst.id, &fault, &now).await?;
                tracing::warn!(instance = %inst.id, error = %e, "an instance is gone from its host");
            }
        }
        let handed: std::collections::HashSet<String> =
            store::work_for(&self.pool, &self.config.host).await?.into_iter().map(|w| w.instance_id).collect();
        for inst in store::unfinished(&self.pool, &self.config.host).await? {
            if handed.contains(&inst.id) {
                // Another server accepted an operation on it: the worker does it.
                continue;
            }
            let now = now();
            let fault = json!({"code": 500, "message": "The operation was interrupted by a restart of the compute service.", "created": now}).to_string();
            match self.driver.power_state(&inst.id).await {
                Ok(PowerState::Running) if inst.vm_state == "building" => {
                    store::finish_build(&self.pool, &inst.id, "active", 1, Some(&self.config.host), None, &now).await?;
                }
                Ok(state) if inst.vm_state != "building" => {
                    let vm_state = match state {
                        PowerState::Running => "active",
                        PowerState::Paused => "paused",
                        PowerState::Suspended => "suspended",
                        _ => "stopped",
                    };
                    if let Some(task) = &inst.task_state {
                        store::end_task(&self.pool, &inst.id, task, vm_state, state as i64, &now).await?;
                    }
                }
                _ => store::set_error(&self.pool, &inst.id, &fault, &now).await?,
            }
            tracing::warn!(instance = %inst.id, "reconciled an operation interrupted by the last stop");
        }
        self.sync_power_states().await?;
        Ok(())
    }

    /// Nova's `_sync_power_states`: records the power state the driver shows
    /// for each settled instance of this host; one found shut down while
    /// ACTIVE (the guest powered itself off, or its process died) becomes
    /// SHUTOFF, and one whose process is back running while SHUTOFF, ACTIVE.
    pub async fn sync_power_states(&self) -> anyhow::Result<()> {
        for inst in store::instances_on(&self.pool, &self.config.host).await? {
            let settled = inst.task_state.is_none() && !matches!(inst.vm_state.as_str(), "building" | "error");
            if !settled {
                continue;
            }
            let Ok(power) = self.driver.power_state(&inst.id).await else { continue };
            if power as i64 == inst.power_state {
                continue;
            }
            let vm_state = match (inst.vm_state.as_str(), power) {
                ("active", PowerState::Shutdown | PowerState::Crashed) => "stopped",
                ("stopped", PowerState::Running) => "active",
                (current, _) => current,
            };
            tracing::info!(instance = %inst.id, recorded = inst.power_state, found = power as i64, vm_state,
                "the instance's power state changed on its host");
            store::set_power(&self.pool, &inst.id, vm_state, power as i64, inst.power_state, &now()).await?;
        }
        Ok(())
    }

    /// The Network service changed an instance's ports (a floating IP, a
    /// security group rule): its interfaces are read again and the driver
    /// is told, as Nova handles Neutron's `network-changed` event.
    pub async fn network_changed(&self, instance: &str) {
        let running =
            store::instance(&self.pool, instance).await.ok().flatten().is_some_and(|i| i.vm_state != "building");
        if !running {
            return;
        }
        match network::refresh(&self.network, &self.pool, instance).await {
            Ok(vifs) => {
                if let Err(e) = self.driver.update_network(instance, &vifs).await {
                    tracing::warn!(instance, error = %e, "the driver could not apply the instance's new network");
                }
            }
            Err(e) => tracing::warn!(instance, error = %e, "reading the instance's ports failed"),
        }
    }

    /// Runs [`Self::sync_power_states`] every `every`, for as long as the service lives.
    pub fn spawn_power_sync(self: &Arc<Self>, every: std::time::Duration) {
        self.every(every, "syncing power states", |c| Box::pin(async move { c.sync_power_states().await }));
    }

    /// Does, every `every`, the work other servers on the database hand to
    /// this host (see [`Compute::do_work`]).
    pub fn spawn_worker(self: &Arc<Self>, every: std::time::Duration) {
        self.every(every, "doing handed-over work", |c| Box::pin(async move { Ok(c.do_work().await?) }));
    }

    /// Runs `job` every `every` while the service lives.
    fn every(
        self: &Arc<Self>,
        every: std::time::Duration,
        what: &'static str,
        job: impl Fn(Arc<Compute>) -> BoxFuture<'static, anyhow::Result<()>> + Send + 'static,
    ) {
        let compute = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(c) = compute.upgrade() else { return };
                if let Err(e) = job(c).await {
                    tracing::warn!(error = %e, "{what} failed");
                }
            }
        });
    }
}

/// The actions a server may hand to another, found by their task_state.
const ACTIONS: &[&Action] = &[&STOP, &START, &REBOOT, &HARD_REBOOT, &PAUSE, &UNPAUSE, &SUSPEND, &RESUME];

/// The driver's part of a delete: the guest goes, then its ports.
async fn complete_delete(pool: &Pool, driver: &dyn VirtDriver, net: &Network, id: &str, record: i64) {
    let outcome = driver.destroy(id).await;
    match &outcome {
        Err(e) => tracing::error!(instance = %id, error = %e, "destroying a deleted instance failed"),
        Ok(()) => {
            if let Err(e) = network::release(net, pool, id).await {
                tracing::error!(instance = %id, error = %e, "releasing a deleted instance's addresses failed");
            }
        }
    }
    let error = outcome.err().map(|e| e.to_string());
    if let Err(e) = actions::finish(pool, record, error.as_deref()).await {
        tracing::error!(instance = %id, error = %e, "recording the delete's event failed");
    }
}

/// The driver's part of a power action, and where it leaves the instance.
async fn power_action(driver: &dyn VirtDriver, inst: &Instance, action: &Action) -> crate::virt::DriverResult<Outcome> {
    let id = inst.id.as_str();
    match action.task {
        "powering-off" => driver.power_off(id).await,
        "powering-on" => driver.power_on(id).await,
        "rebooting" => driver.reboot(id, false).await,
        "rebooting_hard" => driver.reboot(id, true).await,
        "pausing" => driver.pause(id).await,
        "unpausing" => driver.unpause(id).await,
        "suspending" => driver.suspend(id).await,
        "resuming" => driver.resume(id).await,
        _ => Err(crate::virt::DriverError::NotSupported(action.name)),
    }?;
    Ok(Outcome::unchanged(inst, action.ends, action.power))
}

pub type SharedDriver = Arc<dyn VirtDriver>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_novas_mapping() {
        assert_eq!(status("building", Some("scheduling")), "BUILD");
        assert_eq!(status("active", None), "ACTIVE");
        assert_eq!(status("active", Some("rebooting_hard")), "HARD_REBOOT");
        assert_eq!(status("stopped", None), "SHUTOFF");
        assert_eq!(status("resized", None), "VERIFY_RESIZE");
        assert_eq!(status("shelved_offloaded", None), "SHELVED_OFFLOADED");
    }

    #[test]
    fn hostnames_are_sanitized() {
        assert_eq!(hostname_from("My Server_1"), "my-server-1");
        assert_eq!(hostname_from("--"), "server");
    }
}
