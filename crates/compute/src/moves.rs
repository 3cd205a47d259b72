//! The server operations that change what an instance is, not only its power:
//! rebuild, resize (with confirm and revert), rescue, shelve, snapshots, and
//! the console log. Each runs as every operation does (`operations`): the
//! checks and the task here, the driver's part (a [`Move`]) on the server
//! of the instance's host, which has its disks and definition; through
//! another server it is handed over as a work row.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::json;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::operations::Outcome;
use crate::service::{instance_spec, now};
use crate::states::{PowerState, TaskState, VmState};
use crate::store::{self, Flavor, Instance};
use crate::virt::InstanceSpec;
use crate::{actions, host, quotas, Compute};

use VmState::{Active, Error as Failed, Paused, Resized, Shelved, ShelvedOffloaded, Stopped, Suspended};

/// The kind of a handed-over move's work row.
pub(crate) const MOVE: &str = "move";
/// The kind of a question for an instance's console log.
pub(crate) const CONSOLE_LOG: &str = "console_log";

/// The driver's part of a move, as the server of the instance's host runs
/// it; what it needs of the request travels with it (the caller's context
/// for the images a shelve or a snapshot writes).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "move", rename_all = "snake_case")]
pub(crate) enum Move {
    Rebuild {
        image_ref: String,
        admin_pass: String,
        /// The root volume is reimaged with `image_ref` (as whom, `ctx`).
        #[serde(default)]
        reimage_root: Option<Context>,
    },
    Resize {
        flavor: Box<Flavor>,
    },
    ConfirmResize,
    RevertResize,
    Rescue,
    Unrescue,
    Shelve {
        ctx: Context,
    },
    ShelveOffload,
    Unshelve {
        ctx: Context,
    },
    Snapshot {
        ctx: Context,
        image_id: String,
        source: Option<String>,
    },
}

impl Move {
    /// The operation's name (its instance action), the vm_states it may
    /// start from, and its task_state.
    fn operation(&self) -> (&'static str, &'static [VmState], TaskState) {
        match self {
            Move::Rebuild { .. } => ("rebuild", &[Active, Stopped, Failed], TaskState::Rebuilding),
            Move::Resize { .. } => ("resize", &[Active, Stopped], TaskState::ResizePrep),
            Move::ConfirmResize => ("confirmResize", &[Resized], TaskState::ResizeConfirming),
            Move::RevertResize => ("revertResize", &[Resized], TaskState::ResizeReverting),
            Move::Rescue => ("rescue", &[Active, Stopped, Failed], TaskState::Rescuing),
            Move::Unrescue => ("unrescue", &[VmState::Rescued], TaskState::Unrescuing),
            Move::Shelve { .. } => ("shelve", &[Active, Stopped, Paused, Suspended], TaskState::Shelving),
            Move::ShelveOffload => ("shelveOffload", &[Shelved], TaskState::ShelvingOffloading),
            Move::Unshelve { .. } => ("unshelve", &[Shelved, ShelvedOffloaded], TaskState::Unshelving),
            Move::Snapshot { .. } => ("createImage", &[Active, Stopped, Paused, Suspended], TaskState::ImageSnapshot),
        }
    }
}

impl Compute {
    /// Starts the operation of `mv` on server `id` (see `Compute::begin`).
    async fn begin_move(&self, ctx: &Context, id: &str, mv: &Move) -> Result<(Instance, i64)> {
        let (name, allowed, task) = mv.operation();
        self.begin(ctx, id, name, allowed, task).await
    }

    /// Runs `mv` of a begun operation after the answer: here, or through
    /// the server of the instance's host.
    async fn carry_out(&self, started: (Instance, i64), mv: Move) -> Result<()> {
        let (name, _, task) = mv.operation();
        if !self.runs(&started.0) {
            let payload = serde_json::to_string(&mv).map_err(anyhow::Error::from)?;
            return self.hand_over(&started.0, MOVE, started.1, Some(payload)).await;
        }
        let work = self.run_move(started.0.clone(), mv);
        self.finish(started, name, task, work);
        Ok(())
    }

    /// A move another server handed to this host (its row already gone,
    /// see `Compute::do_work`).
    pub(crate) async fn take_move(&self, work: &store::Work) -> Result<()> {
        let Some(inst) = store::instance(&self.pool, &work.instance_id).await? else { return Ok(()) };
        let mv: Move = serde_json::from_str(work.payload.as_deref().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("a handed-over move without its request: {e}"))?;
        let (name, _, task) = mv.operation();
        if inst.task_state != Some(task) {
            return Ok(());
        }
        let run = self.run_move(inst.clone(), mv);
        self.finish((inst, work.action_id), name, task, run);
        Ok(())
    }

    /// The driver's part of `mv` on `inst`, and where it leaves the instance.
    fn run_move(&self, inst: Instance, mv: Move) -> impl Future<Output = Result<Outcome>> + Send + 'static {
        let (driver, image, pool, volume) =
            (self.driver.clone(), self.image.clone(), self.pool.clone(), self.volume.clone());
        let (host, scratch) = (self.config.host.clone(), self.config.state_path.join("snapshots"));
        async move {
            let failed = |e: crate::virt::DriverError| Error::Internal(e.into());
            match mv {
                Move::Rebuild { image_ref, admin_pass, reimage_root } => {
                    // The new image is inspected before the old disk is let go.
                    let (root_volume, volumes) = crate::volumes::attached(&pool, &volume, &inst.id).await?;
                    let spec = InstanceSpec {
                        admin_pass: Some(admin_pass),
                        root_volume,
                        volumes,
                        ..instance_spec(&image, &inst, &inst.flavor, &image_ref).await?
                    };
                    driver.destroy(&inst.id).await.map_err(failed)?;
                    if let (Some(ctx), Some(root)) = (&reimage_root, &spec.root_volume) {
                        volume.begin_reimage(ctx, &root.volume_id, &image_ref, true).await?.finish().await?;
                    }
                    driver.spawn(&spec).await.map_err(failed)?;
                    // A stopped server stays stopped after a rebuild.
                    let (vm, power) = if inst.vm_state == Stopped {
                        driver.power_off(&inst.id).await.map_err(failed)?;
                        (Stopped, PowerState::Shutdown)
                    } else {
                        (Active, PowerState::Running)
                    };
                    let mut o = Outcome::unchanged(&inst, vm, power);
                    // A server booted from a volume keeps showing no image.
                    if spec.root_volume.is_none() {
                        o.image_ref = image_ref;
                    }
                    Ok(o)
                }
                Move::Resize { flavor } => {
                    driver
                        .resize(&instance_spec(&image, &inst, &flavor, &inst.image_ref).await?)
                        .await
                        .map_err(failed)?;
                    let mut o = Outcome::unchanged(&inst, Resized, PowerState::Running);
                    o.old_flavor = Some(inst.flavor.clone());
                    o.flavor = *flavor;
                    Ok(o)
                }
                Move::ConfirmResize | Move::RevertResize => {
                    let mut o = Outcome::unchanged(&inst, Active, PowerState::Running);
                    if matches!(mv, Move::RevertResize) {
                        let old =
                            inst.old_flavor.clone().ok_or_else(|| Error::Conflict("No resize to revert.".into()))?;
                        driver
                            .resize(&instance_spec(&image, &inst, &old, &inst.image_ref).await?)
                            .await
                            .map_err(failed)?;
                        o.flavor = old;
                    }
                    o.old_flavor = None;
                    Ok(o)
                }
                Move::Rescue => {
                    driver.rescue(&inst.id).await.map_err(failed)?;
                    Ok(Outcome::unchanged(&inst, VmState::Rescued, PowerState::Running))
                }
                Move::Unrescue => {
                    driver.unrescue(&inst.id).await.map_err(failed)?;
                    Ok(Outcome::unchanged(&inst, Active, PowerState::Running))
                }
                Move::Unshelve { ctx } => {
                    let boot_from = inst.shelved_image_id.as_deref().unwrap_or(&inst.image_ref);
                    let (root_volume, volumes) = crate::volumes::attached(&pool, &volume, &inst.id).await?;
                    let spec = InstanceSpec {
                        root_volume,
                        volumes,
                        ..instance_spec(&image, &inst, &inst.flavor, boot_from).await?
                    };
                    driver.spawn(&spec).await.map_err(failed)?;
                    if let Some(snapshot) = &inst.shelved_image_id {
                        store::set_shelved_image(&pool, &inst.id, None).await?;
                        if let Err(e) = image.delete(&ctx, snapshot).await {
                            tracing::warn!(image = %snapshot, error = %e, "deleting a shelved server's snapshot failed");
                        }
                    }
                    let mut o = Outcome::unchanged(&inst, Active, PowerState::Running);
                    o.host = Some(host);
                    Ok(o)
                }
                Move::Shelve { .. } | Move::ShelveOffload => {
                    let volume_backed = crate::volumes::root_volume(&pool, &inst.id).await?.is_some();
                    if let (Move::Shelve { ctx }, Some(_), false) = (&mv, driver.snapshot_format(), volume_backed) {
                        // The disk goes with the host: it is kept as an image
                        // first (a root volume stays, attached, in Block Storage).
                        let shelved = shelve_snapshot(&image, &driver, ctx, &inst, &scratch).await?;
                        store::set_shelved_image(&pool, &inst.id, Some(&shelved)).await?;
                    }
                    driver.destroy(&inst.id).await.map_err(failed)?;
                    let mut o = Outcome::unchanged(&inst, ShelvedOffloaded, PowerState::Shutdown);
                    o.host = None;
                    Ok(o)
                }
                Move::Snapshot { ctx, image_id, source } => {
                    // A snapshot whose data could not be had leaves the
                    // server as it was, and the image without data.
                    if let Err(e) =
                        snapshot_data(&image, &driver, &ctx, &inst, &image_id, source.as_deref(), &scratch).await
                    {
                        tracing::warn!(instance = %inst.id, image = %image_id, error = %e, "taking a snapshot failed");
                    }
                    Ok(Outcome::unchanged(&inst, inst.vm_state, inst.power_state))
                }
            }
        }
    }

    /// `rebuild`: a fresh disk from `image_ref` (the same image when none),
    /// with `admin_pass` on the new config drive.
    pub async fn rebuild(
        &self,
        ctx: &Context,
        id: &str,
        image_ref: Option<&str>,
        name: Option<&str>,
        admin_pass: &str,
        reimage_allowed: bool,
    ) -> Result<()> {
        let current = self.instance(ctx, id).await?;
        let image_ref =
            image_ref.map(|r| r.rsplit('/').next().unwrap_or(r).to_owned()).unwrap_or(current.image_ref.clone());
        let image = self
            .image
            .visible(ctx, &image_ref)
            .await
            .map_err(|_| Error::BadRequest(format!("Image {image_ref} could not be found.")))?;
        if image.status != "active" {
            return Err(Error::BadRequest(format!("Image {image_ref} is not active.")));
        }
        // A root volume is reimaged (2.93); before, only the image it holds
        // may be named, and the guest restarts on the volume as it is.
        let mut reimage_root = None;
        if let Some(root) = crate::volumes::root_volume(&self.pool, &current.id).await? {
            if reimage_allowed {
                reimage_root = Some(ctx.clone());
            } else {
                let v = self.volume.volume(ctx, &root.volume_id).await?;
                let held = v.image_id.or_else(|| v.image_metadata.0.get("image_id").cloned());
                if held.as_deref() != Some(image_ref.as_str()) {
                    return Err(Error::BadRequest(format!(
                        "Image {image_ref} is unacceptable: Unable to rebuild with a different image for a volume-backed server."
                    )));
                }
            }
        }
        let mv = Move::Rebuild { image_ref, admin_pass: admin_pass.to_owned(), reimage_root };
        let started = self.begin_move(ctx, id, &mv).await?;
        if let Some(n) = name {
            store::set_name(&self.pool, id, n).await?;
        }
        self.carry_out(started, mv).await
    }

    /// `resize` to another flavor; ends in VERIFY_RESIZE until confirmed or
    /// reverted. The instance stays on its host, which must have room for
    /// what grows.
    pub async fn resize(&self, ctx: &Context, id: &str, flavor_ref: &str) -> Result<()> {
        let current = self.instance(ctx, id).await?;
        let new = self
            .usable_flavor(ctx, Some(&current.project_id), flavor_ref)
            .await
            .map_err(|_| Error::BadRequest(format!("Flavor {flavor_ref} could not be found.")))?;
        let old = &current.flavor;
        if new.id == old.id {
            return Err(Error::BadRequest("When resizing, instances must change flavor!".into()));
        }
        // A root volume keeps its size whatever the flavor's disk says.
        let volume_backed = crate::volumes::root_volume(&self.pool, &current.id).await?.is_some();
        if new.disk < old.disk && !volume_backed {
            return Err(Error::BadRequest("Resize to smaller disk flavor is not allowed.".into()));
        }
        let limits = quotas::limits(&self.pool, &current.project_id).await?;
        let (_, cores, ram) = store::usage(&self.pool, &current.project_id).await?;
        let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
        if !quotas::fits(limit("cores"), cores, new.vcpus - old.vcpus)
            || !quotas::fits(limit("ram"), ram, new.ram - old.ram)
        {
            return Err(Error::Forbidden(format!(
                "Quota exceeded for cores or ram: resizing to {} needs {} cores and {} MB of RAM more.",
                new.name,
                new.vcpus - old.vcpus,
                new.ram - old.ram
            )));
        }
        let scheduling = self.pool.lock(crate::service::SCHEDULING).await?;
        let on = current.host.as_deref().unwrap_or(&self.config.host);
        let fits = host::state(&self.pool, on).await?.is_some_and(|(h, ratios)| h.fits_resize(old, &new, &ratios));
        if !fits {
            return Err(Error::BadRequest("No valid host was found. No valid host found for resize".into()));
        }
        let mv = Move::Resize { flavor: Box::new(new) };
        let started = self.begin_move(ctx, id, &mv).await?;
        scheduling.release().await;
        self.carry_out(started, mv).await
    }

    /// `confirmResize` keeps the new flavor; `revertResize` returns to the old one.
    pub async fn end_resize(&self, ctx: &Context, id: &str, confirm: bool) -> Result<()> {
        let mv = if confirm { Move::ConfirmResize } else { Move::RevertResize };
        let started = self.begin_move(ctx, id, &mv).await?;
        self.carry_out(started, mv).await
    }

    pub async fn rescue(&self, ctx: &Context, id: &str, rescue: bool) -> Result<()> {
        if rescue {
            let inst = self.instance(ctx, id).await?;
            if crate::volumes::root_volume(&self.pool, &inst.id).await?.is_some() {
                return Err(Error::BadRequest("Cannot rescue a volume-backed instance".into()));
            }
        }
        let mv = if rescue { Move::Rescue } else { Move::Unrescue };
        let started = self.begin_move(ctx, id, &mv).await?;
        self.carry_out(started, mv).await
    }

    /// `shelve` stops the server and frees its host at once (Nova's default
    /// `shelved_offload_time` of 0), keeping its disk as a snapshot image
    /// (`<name>-shelved`) when the driver has disks of its own;
    /// `shelveOffload` frees a shelved one; `unshelve` boots it again, from
    /// that snapshot, which is then deleted.
    pub async fn shelve(&self, ctx: &Context, id: &str, op: &'static str) -> Result<()> {
        let mv = match op {
            "shelve" => Move::Shelve { ctx: ctx.clone() },
            "shelveOffload" => Move::ShelveOffload,
            _ => Move::Unshelve { ctx: ctx.clone() },
        };
        let started = self.begin_move(ctx, id, &mv).await?;
        self.carry_out(started, mv).await
    }

    pub async fn console_output(&self, ctx: &Context, id: &str, length: Option<i64>) -> Result<String> {
        let inst = self.instance(ctx, id).await?;
        let unreadable = || {
            Error::Conflict(format!(
                "Cannot 'get_console_output' instance {id} while it is in vm_state {}",
                inst.vm_state
            ))
        };
        // The log is on the instance's host.
        let out = if self.runs(&inst) {
            self.driver.console_output(&inst.id).await.map_err(|_| unreadable())?
        } else {
            let answer = self.ask_host(&inst, CONSOLE_LOG).await?;
            answer["output"].as_str().map(str::to_owned).ok_or_else(unreadable)?
        };
        Ok(match length {
            Some(n) if n >= 0 => {
                let lines: Vec<&str> = out.lines().collect();
                lines[lines.len().saturating_sub(n as usize)..].join("\n")
            }
            _ => out,
        })
    }

    /// `createImage`: a snapshot registered in the Image service, of the
    /// instance's disk flattened; with a driver that keeps no disks (the fake
    /// one), of the image the server was booted from. The image is answered
    /// at once; its data follows from the instance's host.
    pub async fn snapshot(
        &self,
        ctx: &Context,
        id: &str,
        name: &str,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String> {
        let probe = Move::Snapshot { ctx: ctx.clone(), image_id: String::new(), source: None };
        let (inst, action) = self.begin_move(ctx, id, &probe).await?;
        if crate::volumes::root_volume(&self.pool, &inst.id).await?.is_some() {
            // Block Storage takes it, here and now; the driver has no part.
            let taken = self.snapshot_volume_backed(ctx, &inst, name, metadata).await;
            actions::finish(&self.pool, action, taken.as_ref().err().map(|e| e.to_string()).as_deref()).await?;
            store::end_task(&self.pool, id, TaskState::ImageSnapshot, inst.vm_state, inst.power_state, &now()).await?;
            return taken;
        }
        let source = self.image.visible(ctx, &inst.image_ref).await.ok();
        let mut body = snapshot_image(name, &inst);
        for (k, v) in metadata {
            body.insert(k, v);
        }
        if let Some(src) = &source {
            body.insert("disk_format".into(), json!(self.driver.snapshot_format().or(src.disk_format.as_deref())));
            body.insert("container_format".into(), json!(src.container_format));
            body.insert("min_disk".into(), json!(src.min_disk));
            body.insert("min_ram".into(), json!(src.min_ram));
        }
        let created = match self.image.create(ctx, &body).await {
            Ok(c) => c,
            Err(e) => {
                actions::finish(&self.pool, action, Some(&e.to_string())).await?;
                store::end_task(&self.pool, id, TaskState::ImageSnapshot, inst.vm_state, inst.power_state, &now())
                    .await?;
                return Err(e);
            }
        };
        let mv = Move::Snapshot { ctx: ctx.clone(), image_id: created.id.clone(), source: source.map(|s| s.id) };
        self.carry_out((inst, action), mv).await?;
        Ok(created.id)
    }
}

/// The data of snapshot `image_id` of `inst`: the driver's copy of its disk,
/// or, with a driver that keeps none, the data of `source`, the image it was
/// booted from.
async fn snapshot_data(
    image: &oxistack_image::Image,
    driver: &crate::SharedDriver,
    ctx: &Context,
    inst: &Instance,
    image_id: &str,
    source: Option<&str>,
    scratch: &std::path::Path,
) -> Result<()> {
    if driver.snapshot_format().is_some() {
        let path = take_disk(driver, scratch, &inst.id, image_id).await?;
        let uploaded = upload_file(image, ctx, image_id, &path).await;
        let _ = tokio::fs::remove_file(&path).await;
        return uploaded;
    }
    let Some(source) = source else { return Ok(()) };
    match image.data(ctx, source).await? {
        Some((_, path)) => upload_file(image, ctx, image_id, &path).await,
        None => Ok(()),
    }
}

/// The image a snapshot of `inst` is registered as: private, named `name`.
fn snapshot_image(name: &str, inst: &Instance) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    body.insert("name".into(), json!(name));
    body.insert("instance_uuid".into(), json!(inst.id));
    body.insert("image_type".into(), json!("snapshot"));
    body.insert("visibility".into(), json!("private"));
    body
}

/// The driver's copy of the instance's disk, in `scratch` under the image's
/// id; no partial file is left when it fails.
async fn take_disk(
    driver: &crate::SharedDriver,
    scratch: &std::path::Path,
    instance: &str,
    image_id: &str,
) -> Result<std::path::PathBuf> {
    let dest = scratch.join(format!("{image_id}.part"));
    let taken = async {
        tokio::fs::create_dir_all(scratch).await.map_err(|e| Error::Internal(e.into()))?;
        driver.snapshot(instance, &dest).await.map_err(|e| Error::Internal(e.into()))
    };
    match taken.await {
        Ok(()) => Ok(dest),
        Err(e) => {
            let _ = tokio::fs::remove_file(&dest).await;
            Err(e)
        }
    }
}

/// Streams the file at `path` into the image's data.
async fn upload_file(
    image: &oxistack_image::Image,
    ctx: &Context,
    image_id: &str,
    path: &std::path::Path,
) -> Result<()> {
    let f = tokio::fs::File::open(path).await.map_err(|e| Error::Internal(e.into()))?;
    image.upload(ctx, image_id, axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(f))).await
}

/// Takes the server's disk into a new private snapshot image named
/// `<name>-shelved`, and answers its id once its data is stored.
async fn shelve_snapshot(
    image: &oxistack_image::Image,
    driver: &crate::SharedDriver,
    ctx: &Context,
    inst: &Instance,
    scratch: &std::path::Path,
) -> Result<String> {
    let mut body = snapshot_image(&format!("{}-shelved", inst.name), inst);
    body.insert("disk_format".into(), json!(driver.snapshot_format()));
    body.insert("container_format".into(), json!("bare"));
    let created = image.create(ctx, &body).await?;
    let stored = async {
        let path = take_disk(driver, scratch, &inst.id, &created.id).await?;
        let uploaded = upload_file(image, ctx, &created.id, &path).await;
        let _ = tokio::fs::remove_file(&path).await;
        uploaded
    };
    if let Err(e) = stored.await {
        let _ = image.delete(ctx, &created.id).await;
        return Err(e);
    }
    Ok(created.id)
}
