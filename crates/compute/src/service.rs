//! The rules of Compute: flavors, keypairs, quotas, and the servers' state
//! machine. Every state change is written before it is acknowledged; driver
//! work runs after the answer, as Nova's does, and ends by writing the result.

use std::sync::Arc;

use serde_json::json;

use oxistack_core::context::{BoxFuture, Context};
use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};
use oxistack_core::time;

use crate::operations::{settle, Outcome};
use crate::states::{PowerState, TaskState, VmState};
use crate::store::{self, Flavor, Instance, Keypair};
use crate::virt::{InstanceSpec, VirtDriver};
use crate::Compute;
use crate::{actions, host, network, quotas};
use oxistack_network::Network;
use VmState::{Active, Paused, Stopped, Suspended};

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
        root_volume: None,
        key_name: inst.key_name.clone(),
        public_key: inst.key_data.clone(),
        user_data: inst.user_data.clone(),
        metadata: inst.metadata.0.clone(),
        config_drive: inst.config_drive == "True",
        admin_pass: None,
        vifs: inst.network_info.0.clone(),
        volumes: vec![],
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

/// A server action: the vm_states it is allowed from, its task_state while it
/// runs, and the vm_state and power state it ends in.
pub struct Action {
    pub name: &'static str,
    pub allowed: &'static [VmState],
    pub task: TaskState,
    pub ends: VmState,
    pub power: PowerState,
}

pub const STOP: Action = Action {
    name: "stop",
    allowed: &[Active, VmState::Error],
    task: TaskState::PoweringOff,
    ends: Stopped,
    power: PowerState::Shutdown,
};
pub const START: Action = Action {
    name: "start",
    allowed: &[Stopped],
    task: TaskState::PoweringOn,
    ends: Active,
    power: PowerState::Running,
};
pub const REBOOT: Action =
    Action { name: "reboot", allowed: &[Active], task: TaskState::Rebooting, ends: Active, power: PowerState::Running };
pub const HARD_REBOOT: Action = Action {
    name: "reboot",
    allowed: &[Active, Stopped, Paused, Suspended, VmState::Error],
    task: TaskState::RebootingHard,
    ends: Active,
    power: PowerState::Running,
};
pub const PAUSE: Action =
    Action { name: "pause", allowed: &[Active], task: TaskState::Pausing, ends: Paused, power: PowerState::Paused };
pub const UNPAUSE: Action = Action {
    name: "unpause",
    allowed: &[Paused],
    task: TaskState::Unpausing,
    ends: Active,
    power: PowerState::Running,
};
pub const SUSPEND: Action = Action {
    name: "suspend",
    allowed: &[Active],
    task: TaskState::Suspending,
    ends: Suspended,
    power: PowerState::Suspended,
};
pub const RESUME: Action = Action {
    name: "resume",
    allowed: &[Suspended],
    task: TaskState::Resuming,
    ends: Active,
    power: PowerState::Running,
};

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
        Ok(Some(describe(&inst, &inst.flavor, &inst.image_ref)))
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

    /// Writes this host's row of `compute_nodes`: its size, allocation
    /// ratios and heartbeat, which the scheduler and `os-hypervisors` read.
    pub async fn report_node(&self) -> Result<()> {
        let size = host::size(&self.config.state_path, self.driver.capacity());
        let ratios = &self.config.allocation_ratios;
        let now = now();
        let node = store::nodes::ComputeNode {
            id: 0,
            host: self.config.host.clone(),
            hypervisor_type: if self.driver.name() == "fake" { "fake" } else { "QEMU" }.into(),
            vcpus: size.vcpus,
            memory_mb: size.memory_mb,
            local_gb: size.local_gb,
            cpu_allocation_ratio: ratios.cpu,
            ram_allocation_ratio: ratios.ram,
            disk_allocation_ratio: ratios.disk,
            created_at: now.clone(),
            updated_at: now,
            // Empty when the host's instances have no serial consoles.
            serial_proxy_url: if self.driver.has_serial_consoles() { self.serial_proxy_url() } else { String::new() },
        };
        store::nodes::report(&self.pool, &node).await
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

    /// The key pairs of `user_id` (see [`Self::keypair_owner`]).
    pub async fn keypairs(&self, ctx: &Context, user_id: Option<&str>) -> Result<Vec<Keypair>> {
        store::keypairs(&self.pool, &self.keypair_owner(ctx, user_id)?).await
    }

    pub async fn delete_keypair(&self, ctx: &Context, user_id: Option<&str>, name: &str) -> Result<()> {
        let uid = self.keypair_owner(ctx, user_id)?;
        if !store::delete_keypair(&self.pool, &uid, name).await? {
            return Err(Error::NotFound(format!("Keypair {name} not found for user {uid}")));
        }
        Ok(())
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

    /// An instance the caller may see, deleted or not (instance actions from
    /// 2.21).
    pub async fn instance_any(&self, ctx: &Context, id: &str) -> Result<Instance> {
        match store::instance_any(&self.pool, id).await? {
            Some(i) if ctx.is_admin() || ctx.project_id() == Some(i.project_id.as_str()) => Ok(i),
            _ => Err(Error::NotFound(format!("Instance {id} could not be found."))),
        }
    }

    /// Every instance of `project` (of all when `None`), deleted or not, in
    /// creation order: what usage is counted over.
    pub async fn instances_ever(&self, project: Option<&str>) -> Result<Vec<Instance>> {
        store::instances_any(&self.pool, project).await
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

    /// Starts power action `action` on a server (see `operations`); the
    /// driver call runs after the answer, here or on the server of the
    /// instance's host.
    pub async fn act(&self, ctx: &Context, id: &str, action: &'static Action) -> Result<()> {
        let started = self.begin(ctx, id, action.name, action.allowed, action.task).await?;
        if !self.runs(&started.0) {
            return self.hand_over(&started.0, action.task.as_str(), started.1, None).await;
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
            return self.hand_over(&inst, "delete", record, None).await;
        }
        let (pool, driver, net, volume) =
            (self.pool.clone(), self.driver.clone(), self.network.clone(), self.volume.clone());
        let id = id.to_owned();
        tokio::spawn(async move { complete_delete(&pool, driver.as_ref(), &net, &volume, &id, record).await });
        Ok(())
    }

    /// Whether this server runs the instance's host (or it has none yet).
    pub(crate) fn runs(&self, inst: &Instance) -> bool {
        inst.host.as_deref().is_none_or(|h| h == self.config.host)
    }

    /// Leaves the driver's part of an accepted operation to the server of the
    /// instance's host, as a row its worker does (see [`Compute::do_work`]).
    pub(crate) async fn hand_over(
        &self,
        inst: &Instance,
        kind: &str,
        action_id: i64,
        payload: Option<String>,
    ) -> Result<()> {
        let work = store::Work {
            id: uuid::Uuid::new_v4().to_string(),
            host: inst.host.clone().unwrap_or_default(),
            instance_id: inst.id.clone(),
            kind: kind.to_owned(),
            action_id,
            created_at: now(),
            payload,
            answer: None,
        };
        store::insert_work(&self.pool, &work).await?;
        tracing::info!(instance = %inst.id, host = %work.host, kind, "handed the operation to the server of its host");
        Ok(())
    }

    /// Asks the server of the instance's host question `kind` (a work row it
    /// answers in place) and waits for its answer, as Nova's RPC calls do,
    /// for at most `QUESTION_TIMEOUT`.
    pub(crate) async fn ask_host(&self, inst: &Instance, kind: &str) -> Result<serde_json::Value> {
        let id = uuid::Uuid::new_v4().to_string();
        let host = inst.host.clone().unwrap_or_default();
        let work = store::Work {
            id: id.clone(),
            host: host.clone(),
            instance_id: inst.id.clone(),
            kind: kind.to_owned(),
            action_id: 0,
            created_at: now(),
            payload: None,
            answer: None,
        };
        store::insert_work(&self.pool, &work).await?;
        let deadline = tokio::time::Instant::now() + QUESTION_TIMEOUT;
        let answer = loop {
            if let Some(a) = store::work_answer(&self.pool, &id).await? {
                break Some(a);
            }
            if tokio::time::Instant::now() >= deadline {
                break None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        store::delete_work(&self.pool, &id).await?;
        let answer = answer.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("the server of host {host} did not answer {kind} in time"))
        })?;
        Ok(serde_json::from_str(&answer).map_err(anyhow::Error::from)?)
    }

    /// Does the work other servers left for this host; each row goes once
    /// its work is done, so a restart in between does it again.
    pub async fn do_work(&self) -> Result<()> {
        for w in store::work_for(&self.pool, &self.config.host).await? {
            match w.kind.as_str() {
                kind @ (crate::boot::BUILD | crate::moves::MOVE) => {
                    // The row goes as the work starts: work a restart cuts
                    // short is reconciled in `reconcile`, as local work is.
                    store::delete_work(&self.pool, &w.id).await?;
                    let taken =
                        if kind == crate::boot::BUILD { self.take_build(&w).await } else { self.take_move(&w).await };
                    if let Err(e) = taken {
                        let now = now();
                        let fault = json!({"code": 500, "message": e.public_message(), "created": now}).to_string();
                        store::set_error(&self.pool, &w.instance_id, &fault, &now).await?;
                    }
                    continue;
                }
                crate::moves::CONSOLE_LOG => {
                    let answer = match self.driver.console_output(&w.instance_id).await {
                        Ok(output) => json!({ "output": output }),
                        Err(e) => json!({ "error": e.to_string() }),
                    };
                    store::answer_work(&self.pool, &w.id, &answer.to_string()).await?;
                    continue;
                }
                "delete" => {
                    complete_delete(
                        &self.pool,
                        self.driver.as_ref(),
                        &self.network,
                        &self.volume,
                        &w.instance_id,
                        w.action_id,
                    )
                    .await
                }
                task => {
                    let action = ACTIONS.iter().find(|a| a.task.as_str() == task);
                    match (action, store::instance(&self.pool, &w.instance_id).await?) {
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
            if matches!(inst.vm_state, VmState::Building | VmState::ShelvedOffloaded) {
                continue;
            }
            if !matches!(self.driver.power_state(&inst.id).await, Err(crate::virt::DriverError::NotFound(_))) {
                continue;
            }
            let power = match inst.power_state {
                p @ (PowerState::Running | PowerState::Paused | PowerState::Suspended) => p,
                _ => PowerState::Shutdown,
            };
            let spec = instance_spec(&self.image, &inst, &inst.flavor, &inst.image_ref).await?;
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
            (store::work_for(&self.pool, &self.config.host).await?.into_iter())
                .filter(|w| w.kind != crate::moves::CONSOLE_LOG)
                .map(|w| w.instance_id)
                .collect();
        for inst in store::unfinished(&self.pool, &self.config.host).await? {
            if handed.contains(&inst.id) {
                // Another server accepted an operation on it: the worker does it.
                continue;
            }
            let now = now();
            let fault = json!({"code": 500, "message": "The operation was interrupted by a restart of the compute service.", "created": now}).to_string();
            match self.driver.power_state(&inst.id).await {
                Ok(PowerState::Running) if inst.vm_state == VmState::Building => {
                    let host = Some(self.config.host.as_str());
                    store::finish_build(&self.pool, &inst.id, Active, PowerState::Running, host, None, &now).await?;
                }
                Ok(state) if inst.vm_state != VmState::Building => {
                    let vm_state = match state {
                        PowerState::Running => Active,
                        PowerState::Paused => Paused,
                        PowerState::Suspended => Suspended,
                        _ => Stopped,
                    };
                    if let Some(task) = inst.task_state {
                        store::end_task(&self.pool, &inst.id, task, vm_state, state, &now).await?;
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
        for inst in store::power_records(&self.pool, &self.config.host).await? {
            let settled = inst.task_state.is_none() && !matches!(inst.vm_state, VmState::Building | VmState::Error);
            if !settled {
                continue;
            }
            let Ok(power) = self.driver.power_state(&inst.id).await else { continue };
            if power == inst.power_state {
                continue;
            }
            let vm_state = match (inst.vm_state, power) {
                (Active, PowerState::Shutdown | PowerState::Crashed) => Stopped,
                (Stopped, PowerState::Running) => Active,
                (current, _) => current,
            };
            tracing::info!(instance = %inst.id, recorded = ?inst.power_state, found = ?power, %vm_state,
                "the instance's power state changed on its host");
            store::set_power(&self.pool, &inst.id, vm_state, power, inst.power_state, &now()).await?;
        }
        Ok(())
    }

    /// The Network service changed an instance's ports (a floating IP, a
    /// security group rule): its interfaces are read again and the driver
    /// is told, as Nova handles Neutron's `network-changed` event.
    pub async fn network_changed(&self, instance: &str) {
        let running =
            store::instance(&self.pool, instance).await.ok().flatten().is_some_and(|i| i.vm_state != VmState::Building);
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
    /// Beats this host's heartbeat (see [`Compute::report_node`]).
    pub fn spawn_heartbeat(self: &Arc<Self>, every: std::time::Duration) {
        self.every(every, "reporting the compute host", |c| Box::pin(async move { Ok(c.report_node().await?) }));
    }

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

/// How long a question to another host's server waits for its answer
/// (Nova's `rpc_response_timeout` is 60 s; a console log is quicker).
const QUESTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The actions a server may hand to another, found by their task_state.
const ACTIONS: &[&Action] = &[&STOP, &START, &REBOOT, &HARD_REBOOT, &PAUSE, &UNPAUSE, &SUSPEND, &RESUME];

/// The driver's part of a delete: the guest goes, then its ports and its
/// volumes' attachments.
async fn complete_delete(
    pool: &Pool,
    driver: &dyn VirtDriver,
    net: &Network,
    volume: &Arc<oxistack_volume::Volume>,
    id: &str,
    record: i64,
) {
    let outcome = driver.destroy(id).await;
    match &outcome {
        Err(e) => tracing::error!(instance = %id, error = %e, "destroying a deleted instance failed"),
        Ok(()) => {
            if let Err(e) = network::release(net, pool, id).await {
                tracing::error!(instance = %id, error = %e, "releasing a deleted instance's addresses failed");
            }
            if let Err(e) = crate::volumes::release_volumes(pool, volume, id).await {
                tracing::error!(instance = %id, error = %e, "ending a deleted instance's volume attachments failed");
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
        TaskState::PoweringOff => driver.power_off(id).await,
        TaskState::PoweringOn => driver.power_on(id).await,
        TaskState::Rebooting => driver.reboot(id, false).await,
        TaskState::RebootingHard => driver.reboot(id, true).await,
        TaskState::Pausing => driver.pause(id).await,
        TaskState::Unpausing => driver.unpause(id).await,
        TaskState::Suspending => driver.suspend(id).await,
        TaskState::Resuming => driver.resume(id).await,
        _ => Err(crate::virt::DriverError::NotSupported(action.name)),
    }?;
    Ok(Outcome::unchanged(inst, action.ends, action.power))
}

pub type SharedDriver = Arc<dyn VirtDriver>;
