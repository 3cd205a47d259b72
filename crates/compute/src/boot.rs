//! Booting servers: the request's checks, the scheduling step (quotas, the
//! server group, and the scheduler's choice of a host for each instance,
//! written under the scheduling lock) and the build, run by the server of the
//! chosen host after the create was answered.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::block_devices::{self, BlockDevice, BlockSource};
use crate::scheduler::{self, GroupPolicy, RequestSpec};
use crate::service::{instance_spec, now, SCHEDULING};
use crate::states::{PowerState, TaskState, VmState};
use crate::store::{self, Flavor, Instance};
use crate::virt::DriverError;
use crate::Compute;
use crate::{actions, aggregates, network, quotas, server_groups};
use oxistack_core::db::JsonText;

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
    /// The volumes of `block_device_mapping_v2` (or the legacy
    /// `block_device_mapping`); the one with boot index 0, if any, is the
    /// root disk and `image_ref` may be empty.
    pub block_devices: Vec<BlockDevice>,
    /// The blank local disks the mappings name (the flavor's own).
    pub local_disks: Vec<block_devices::LocalDisk>,
    /// `accessIPv4` and `accessIPv6`, validated: addresses the user says
    /// reach the server, kept and shown as given.
    pub access_ipv4: String,
    pub access_ipv6: String,
    /// Given, or made for the request; answered once and written to the
    /// config drive. It is stored only while a build waits for the server
    /// of another host (in the work row that server deletes as it starts).
    pub admin_pass: String,
}

/// What a build takes from its create request and keeps nowhere else.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct BuildAsks {
    pub networks: network::Requested,
    /// The security groups' ids.
    pub groups: Vec<String>,
    pub admin_pass: String,
    /// The volumes the build makes and plugs in.
    #[serde(default)]
    pub block_devices: Vec<BlockDevice>,
    /// The caller, as whom the build makes volumes (`None` in builds handed
    /// over before servers had volumes at create).
    #[serde(default)]
    pub ctx: Option<Context>,
}

/// What the checks of a create request found.
struct Checked {
    project: String,
    flavor: Flavor,
    key_data: Option<String>,
    zone: String,
    /// `zone:host`, an admin's.
    forced_host: Option<String>,
    group: Option<server_groups::Group>,
    asks: BuildAsks,
}

fn boots_from_volume(devices: &[BlockDevice]) -> bool {
    devices.iter().any(BlockDevice::is_root)
}

/// The work kind of a build handed to the server of its host.
pub(crate) const BUILD: &str = "build";

/// A hostname from a display name, as Nova sanitizes it.
pub(crate) fn hostname_from(name: &str) -> String {
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

impl Compute {
    pub async fn create_servers(&self, ctx: &Context, req: CreateServer) -> Result<Vec<Instance>> {
        let checked = self.check_create(ctx, &req).await?;
        let created = self.schedule(ctx, &req, &checked).await?;
        if let Some(inst) = created.first() {
            if let Err(e) = self.reserve_block_devices(ctx, inst, &checked.asks.block_devices).await {
                // The volume was taken since it was checked: no server.
                store::mark_deleted(&self.pool, &inst.id, &now()).await?;
                return Err(e);
            }
        }
        for inst in &created {
            let action = actions::start(&self.pool, ctx, &inst.id, "create", inst.host.as_deref()).await?;
            match inst.host.as_deref() {
                Some(h) if h != self.config.host => self.hand_over_build(inst, action, &checked.asks).await?,
                _ => self.build(inst.clone(), action, checked.asks.clone()),
            }
        }
        Ok(created)
    }

    /// The request's checks: its flavor, image, key pair, networks, zone
    /// and group, as the caller may use them.
    async fn check_create(&self, ctx: &Context, req: &CreateServer) -> Result<Checked> {
        let project = ctx
            .project_id()
            .ok_or_else(|| Error::Forbidden("A project-scoped token is required to create servers.".into()))?
            .to_owned();
        let flavor = self
            .usable_flavor(ctx, Some(&project), &req.flavor_ref)
            .await
            .map_err(|_| Error::BadRequest(format!("Flavor {} could not be found.", req.flavor_ref)))?;
        // An image that maps volumes (a volume-backed server's snapshot)
        // boots from new volumes of its snapshots.
        let mut block_devices = req.block_devices.clone();
        if !req.image_ref.is_empty() && !boots_from_volume(&block_devices) {
            let mapped = self.mapped_by_image(ctx, &req.image_ref).await?;
            let taken: Vec<Option<String>> = block_devices.iter().map(|d| d.device_name.clone()).collect();
            let mapped = mapped.into_iter().filter(|m| m.device_name.is_none() || !taken.contains(&m.device_name));
            block_devices = mapped.chain(block_devices).collect();
        }
        block_devices::check_local_disks(&req.local_disks, &flavor)?;
        let existing_volumes = block_devices.iter().any(|d| matches!(d.source, BlockSource::Volume(_)));
        if existing_volumes && req.max_count > 1 {
            return Err(Error::BadRequest("Cannot attach one or more volumes to multiple instances".into()));
        }
        let root_min_ram = self.check_block_devices(ctx, &block_devices).await?;
        if boots_from_volume(&block_devices) {
            // Booted from a volume: the flavor's disk is not its root disk.
            if flavor.ram < root_min_ram {
                return Err(Error::BadRequest("Flavor's memory is too small for requested image.".into()));
            }
        } else {
            self.check_image_boot(ctx, &req.image_ref, &flavor).await?;
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
        let (networks, groups) =
            network::resolve(&self.network, ctx, &project, &req.networks, &req.security_groups).await?;
        let (zone, forced_host) = self.zone_asked(ctx, req.availability_zone.as_deref()).await?;
        let group = match &req.group {
            Some(g) => Some(
                server_groups::find(&self.pool, ctx, g)
                    .await
                    .map_err(|_| Error::BadRequest(format!("Invalid input for field/attribute group. Value: {g}.")))?,
            ),
            None => None,
        };
        let asks =
            BuildAsks { networks, groups, admin_pass: req.admin_pass.clone(), block_devices, ctx: Some(ctx.clone()) };
        Ok(Checked { project, flavor, key_data, zone, forced_host, group, asks })
    }

    /// An image the caller may boot, on a flavor big enough for it.
    async fn check_image_boot(&self, ctx: &Context, image_ref: &str, flavor: &Flavor) -> Result<()> {
        let image = self
            .image
            .visible(ctx, image_ref)
            .await
            .map_err(|_| Error::BadRequest(format!("Image {image_ref} could not be found.")))?;
        if image.status != "active" {
            return Err(Error::BadRequest(format!("Image {image_ref} is not active.")));
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
        Ok(())
    }

    /// The zone of `availability_zone` (this host's when none is asked for)
    /// and the host of its `zone:host` form, which only an admin may name
    /// (Nova's `os_compute_api:servers:create:forced_host`).
    async fn zone_asked(&self, ctx: &Context, asked: Option<&str>) -> Result<(String, Option<String>)> {
        let zones = aggregates::Zones::read(&self.pool, &self.config.availability_zone).await?;
        let local = zones.of(&self.config.host).to_owned();
        let Some(asked) = asked else { return Ok((local, None)) };
        let (zone, host) = match asked.split_once(':') {
            Some((z, h)) => (z, h.split(':').next().filter(|h| !h.is_empty())),
            None => (asked, None),
        };
        if let Some(host) = host {
            if !ctx.is_admin() {
                return Err(Error::Forbidden(
                    "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.".into(),
                ));
            }
            if store::nodes::node(&self.pool, host).await?.is_none() {
                return Err(Error::BadRequest(format!("No valid host was found. Compute host {host} not found.")));
            }
            let zone = if zone.is_empty() { zones.of(host) } else { zone };
            return Ok((zone.to_owned(), Some(host.to_owned())));
        }
        let known = zone == local || store::nodes::nodes(&self.pool).await?.iter().any(|n| zones.of(&n.host) == zone);
        if !known {
            return Err(Error::BadRequest("The requested availability zone is not available".into()));
        }
        Ok((zone.to_owned(), None))
    }

    /// The quotas, the group's member quota and the scheduler's hosts, and
    /// the instances they let in, as one step under the scheduling lock:
    /// concurrent boots through any server on the database see each other.
    async fn schedule(&self, ctx: &Context, req: &CreateServer, c: &Checked) -> Result<Vec<Instance>> {
        let scheduling = self.pool.lock(SCHEDULING).await?;
        // Quotas, checked for the most that may be created, then the least.
        let (instances, cores, ram) = store::usage(&self.pool, &c.project).await?;
        let limits = quotas::limits(&self.pool, &c.project).await?;
        let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
        let fits = |n: i64| {
            if !quotas::fits(limit("instances"), instances, n) {
                Err(("instances", n, instances, limit("instances")))
            } else if !quotas::fits(limit("cores"), cores, n * c.flavor.vcpus) {
                Err(("cores", n * c.flavor.vcpus, cores, limit("cores")))
            } else if !quotas::fits(limit("ram"), ram, n * c.flavor.ram) {
                Err(("ram", n * c.flavor.ram, ram, limit("ram")))
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
        if let Some(g) = &c.group {
            let members = server_groups::members(&self.pool, &g.id).await?.len() as i64;
            if !quotas::fits(limit("server_group_members"), members, count) {
                return Err(Error::Forbidden("Quota exceeded, too many servers in group".into()));
            }
        }
        // A host for each instance; those none can take end in ERROR with
        // NoValidHost.
        let hosts =
            scheduler::candidates(&self.pool, &self.config.host, &self.config.availability_zone, c.group.as_ref())
                .await?;
        let spec = RequestSpec {
            flavor: &c.flavor,
            zone: Some(&c.zone),
            forced_host: c.forced_host.as_deref(),
            group: c.group.as_ref().and_then(GroupPolicy::of),
        };
        let destinations = scheduler::select_destinations(hosts, &spec, count);
        let reservation_id = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut created = vec![];
        for (index, host) in (0..count).zip(destinations) {
            let name = if count > 1 { format!("{}-{}", req.name, index + 1) } else { req.name.clone() };
            let now = now();
            let inst = Instance {
                id: uuid::Uuid::new_v4().to_string(),
                hostname: req.hostname.clone().unwrap_or_else(|| hostname_from(&name)),
                name,
                project_id: c.project.clone(),
                user_id: ctx.user_id.clone(),
                image_ref: req.image_ref.clone(),
                flavor: c.flavor.clone(),
                key_name: req.key_name.clone(),
                key_data: c.key_data.clone(),
                user_data: req.user_data.clone(),
                metadata: JsonText(req.metadata.clone()),
                availability_zone: c.zone.clone(),
                vm_state: VmState::Building,
                task_state: Some(TaskState::Scheduling),
                power_state: PowerState::NoState,
                host,
                reservation_id: reservation_id.clone(),
                launch_index: index,
                locked: false,
                locked_reason: None,
                locked_by: None,
                pinned_availability_zone: req.availability_zone.clone(),
                shelved_image_id: None,
                description: req.description.clone(),
                tags: JsonText(req.tags.clone()),
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
                network_info: JsonText::default(),
            };
            store::insert_instance(&self.pool, &inst).await?;
            created.push(inst);
        }
        if let Some(g) = &c.group {
            for inst in &created {
                server_groups::add_member(&self.pool, &g.id, &inst.id).await?;
            }
        }
        // The instances, their hosts and group places are written: the next
        // boot counts them.
        scheduling.release().await;
        Ok(created)
    }

    /// Leaves the build of an instance the scheduler placed on another host
    /// to that host's server, with what the request asked of it.
    async fn hand_over_build(&self, inst: &Instance, action: i64, asks: &BuildAsks) -> Result<()> {
        let payload = serde_json::to_string(asks).map_err(anyhow::Error::from)?;
        self.hand_over(inst, BUILD, action, Some(payload)).await
    }

    /// The build of a handed-over work row: its payload is what the create
    /// asked.
    pub(crate) async fn take_build(&self, work: &store::Work) -> Result<()> {
        let Some(inst) = store::instance(&self.pool, &work.instance_id).await? else { return Ok(()) };
        if inst.vm_state != VmState::Building || inst.host.as_deref() != Some(self.config.host.as_str()) {
            return Ok(());
        }
        let asks: BuildAsks = serde_json::from_str(work.payload.as_deref().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("a handed-over build without its request: {e}"))?;
        self.build(inst, work.action_id, asks);
        Ok(())
    }

    /// Spawns an instance after the create was answered; one without a host
    /// ends in ERROR with NoValidHost.
    fn build(&self, inst: Instance, action: i64, asks: BuildAsks) {
        let (pool, driver) = (self.pool.clone(), self.driver.clone());
        let (image, net, volume) = (self.image.clone(), self.network.clone(), self.volume.clone());
        tokio::spawn(async move {
            let outcome = match inst.host.as_deref() {
                None => {
                    Err(DriverError::Failed("No valid host was found. There are not enough hosts available.".into()))
                }
                Some(host) => {
                    let prepared = async {
                        let mut spec = instance_spec(&image, &inst, &inst.flavor, &inst.image_ref).await?;
                        if let Some(ctx) = &asks.ctx {
                            (spec.root_volume, spec.volumes) =
                                block_devices::prepare(&pool, &volume, host, ctx, &inst, &asks.block_devices).await?;
                        }
                        spec.vifs = network::allocate(&net, &pool, &inst, host, &asks.networks, &asks.groups).await?;
                        spec.admin_pass = Some(asks.admin_pass);
                        Ok::<_, Error>(spec)
                    };
                    match prepared.await {
                        Ok(spec) => driver.spawn(&spec).await,
                        Err(e) => Err(DriverError::Failed(e.public_message())),
                    }
                }
            };
            if outcome.is_err() {
                // Nova deallocates the network of a build that failed; its
                // volumes are let go (those to be deleted with it, deleted).
                if let Err(e) = network::release(&net, &pool, &inst.id).await {
                    tracing::error!(instance = %inst.id, error = %e, "releasing a failed build's addresses failed");
                }
                if let Err(e) = crate::volumes::release_volumes(&pool, &volume, &inst.id).await {
                    tracing::error!(instance = %inst.id, error = %e, "releasing a failed build's volumes failed");
                }
            }
            let error = outcome.as_ref().err().map(|e| e.to_string());
            if let Err(e) = actions::finish(&pool, action, error.as_deref()).await {
                tracing::error!(instance = %inst.id, error = %e, "recording the build's event failed");
            }
            let now = now();
            let host = inst.host.as_deref();
            let written = match outcome {
                Ok(()) => {
                    let done =
                        store::finish_build(&pool, &inst.id, VmState::Active, PowerState::Running, host, None, &now)
                            .await;
                    if matches!(done, Ok(false)) {
                        // Deleted while it was building.
                        if driver.destroy(&inst.id).await.is_ok() {
                            let _ = network::release(&net, &pool, &inst.id).await;
                            let _ = crate::volumes::release_volumes(&pool, &volume, &inst.id).await;
                        }
                    }
                    done
                }
                Err(e) => {
                    tracing::warn!(instance = %inst.id, error = %e, "build failed");
                    let message = if host.is_none() {
                        e.to_string()
                    } else {
                        format!("Build of instance {} aborted: {e}", inst.id)
                    };
                    let fault = json!({"code": 500, "message": message, "created": now}).to_string();
                    let (vm, power) = (VmState::Error, PowerState::NoState);
                    store::finish_build(&pool, &inst.id, vm, power, host, Some(&fault), &now).await
                }
            };
            if let Err(e) = written {
                tracing::error!(instance = %inst.id, error = %e, "recording the end of a build failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_sanitized() {
        assert_eq!(hostname_from("My Server_1"), "my-server-1");
        assert_eq!(hostname_from("--"), "server");
    }
}
