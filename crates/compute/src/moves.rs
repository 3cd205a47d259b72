//! The server operations that change what an instance is, not only its power:
//! rebuild, resize (with confirm and revert), rescue, shelve, snapshots, and
//! the console log. Each runs as every operation does (`operations`), and
//! only on the server of the instance's host: it changes disks and
//! definitions that only that host has.

use serde_json::json;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::operations::{Elsewhere, Outcome};
use crate::service::{instance_spec, now};
use crate::store::{self, Flavor, Instance};
use crate::virt::{InstanceSpec, PowerState};
use crate::{actions, host, quotas, Compute};

pub(crate) fn flavor_of(json: &str) -> Result<Flavor> {
    serde_json::from_str(json).map_err(|e| Error::Internal(anyhow::anyhow!("stored flavor unreadable: {e}")))
}

impl Compute {
    /// `rebuild`: a fresh disk from `image_ref` (the same image when none),
    /// with `admin_pass` on the new config drive.
    pub async fn rebuild(
        &self,
        ctx: &Context,
        id: &str,
        image_ref: Option<&str>,
        name: Option<&str>,
        admin_pass: &str,
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
        let started =
            self.begin(ctx, id, Elsewhere::Refuse, "rebuild", &["active", "stopped", "error"], "rebuilding").await?;
        let inst = started.0.clone();
        if let Some(n) = name {
            store::set_name(&self.pool, id, n).await?;
        }
        let (driver, image) = (self.driver.clone(), self.image.clone());
        let flavor = flavor_of(&inst.flavor)?;
        let stopped = inst.vm_state == "stopped";
        let work_inst = inst.clone();
        let admin_pass = admin_pass.to_owned();
        self.finish(started, "rebuild", "rebuilding", async move {
            // The new image is inspected before the old disk is let go.
            let spec = InstanceSpec {
                admin_pass: Some(admin_pass),
                ..instance_spec(&image, &work_inst, &flavor, &image_ref).await?
            };
            driver.destroy(&work_inst.id).await.map_err(|e| Error::Internal(e.into()))?;
            driver.spawn(&spec).await.map_err(|e| Error::Internal(e.into()))?;
            // A stopped server stays stopped after a rebuild.
            let (vm, power) = if stopped {
                driver.power_off(&work_inst.id).await.map_err(|e| Error::Internal(e.into()))?;
                ("stopped", PowerState::Shutdown)
            } else {
                ("active", PowerState::Running)
            };
            let mut o = Outcome::unchanged(&work_inst, vm, power);
            o.image_ref = image_ref;
            Ok(o)
        });
        Ok(())
    }

    /// `resize` to another flavor; ends in VERIFY_RESIZE until confirmed or reverted.
    pub async fn resize(&self, ctx: &Context, id: &str, flavor_ref: &str) -> Result<()> {
        let current = self.instance(ctx, id).await?;
        let new = self
            .usable_flavor(ctx, Some(&current.project_id), flavor_ref)
            .await
            .map_err(|_| Error::BadRequest(format!("Flavor {flavor_ref} could not be found.")))?;
        let old = flavor_of(&current.flavor)?;
        if new.id == old.id {
            return Err(Error::BadRequest("When resizing, instances must change flavor!".into()));
        }
        if new.disk < old.disk {
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
        // One host: the instance is resized in place, if the host has room
        // for what grows.
        let scheduling = self.pool.lock(crate::service::SCHEDULING).await?;
        let here = host::state(&self.pool, &self.config.host, &self.config.state_path, self.driver.capacity()).await?;
        if !here.fits_resize(&old, &new, &self.config.allocation_ratios) {
            return Err(Error::BadRequest("No valid host was found. No valid host found for resize".into()));
        }
        let started = self.begin(ctx, id, Elsewhere::Refuse, "resize", &["active", "stopped"], "resize_prep").await?;
        scheduling.release().await;
        let inst = started.0.clone();
        let (driver, image) = (self.driver.clone(), self.image.clone());
        let new_json = serde_json::to_string(&new).map_err(anyhow::Error::from)?;
        let work_inst = inst.clone();
        self.finish(started, "resize", "resize_prep", async move {
            driver
                .resize(&instance_spec(&image, &work_inst, &new, &work_inst.image_ref).await?)
                .await
                .map_err(|e| Error::Internal(e.into()))?;
            let mut o = Outcome::unchanged(&work_inst, "resized", PowerState::Running);
            o.old_flavor = Some(work_inst.flavor.clone());
            o.flavor = new_json;
            Ok(o)
        });
        Ok(())
    }

    /// `confirmResize` keeps the new flavor; `revertResize` returns to the old one.
    pub async fn end_resize(&self, ctx: &Context, id: &str, confirm: bool) -> Result<()> {
        let (name, task) =
            if confirm { ("confirmResize", "resize_confirming") } else { ("revertResize", "resize_reverting") };
        let started = self.begin(ctx, id, Elsewhere::Refuse, name, &["resized"], task).await?;
        let inst = started.0.clone();
        let (driver, image) = (self.driver.clone(), self.image.clone());
        let work_inst = inst.clone();
        self.finish(started, if confirm { "confirmResize" } else { "revertResize" }, task, async move {
            let mut o = Outcome::unchanged(&work_inst, "active", PowerState::Running);
            if !confirm {
                let old = work_inst.old_flavor.clone().ok_or_else(|| Error::Conflict("No resize to revert.".into()))?;
                driver
                    .resize(&instance_spec(&image, &work_inst, &flavor_of(&old)?, &work_inst.image_ref).await?)
                    .await
                    .map_err(|e| Error::Internal(e.into()))?;
                o.flavor = old;
            }
            o.old_flavor = None;
            Ok(o)
        });
        Ok(())
    }

    pub async fn rescue(&self, ctx: &Context, id: &str, rescue: bool) -> Result<()> {
        let (name, allowed, task): (&'static str, &[&str], &'static str) = if rescue {
            ("rescue", &["active", "stopped", "error"], "rescuing")
        } else {
            ("unrescue", &["rescued"], "unrescuing")
        };
        let started = self.begin(ctx, id, Elsewhere::Refuse, name, allowed, task).await?;
        let inst = started.0.clone();
        let driver = self.driver.clone();
        let work_inst = inst.clone();
        self.finish(started, name, task, async move {
            if rescue {
                driver.rescue(&work_inst.id).await.map_err(|e| Error::Internal(e.into()))?;
                Ok(Outcome::unchanged(&work_inst, "rescued", PowerState::Running))
            } else {
                driver.unrescue(&work_inst.id).await.map_err(|e| Error::Internal(e.into()))?;
                Ok(Outcome::unchanged(&work_inst, "active", PowerState::Running))
            }
        });
        Ok(())
    }

    /// `shelve` stops the server and frees its host at once (Nova's default
    /// `shelved_offload_time` of 0), keeping its disk as a snapshot image
    /// (`<name>-shelved`) when the driver has disks of its own;
    /// `shelveOffload` frees a shelved one; `unshelve` boots it again, from
    /// that snapshot, which is then deleted.
    pub async fn shelve(&self, ctx: &Context, id: &str, op: &'static str) -> Result<()> {
        let (allowed, task): (&[&str], &'static str) = match op {
            "shelve" => (&["active", "stopped", "paused", "suspended"], "shelving"),
            "shelveOffload" => (&["shelved"], "shelving_offloading"),
            _ => (&["shelved", "shelved_offloaded"], "unshelving"),
        };
        let started = self.begin(ctx, id, Elsewhere::Refuse, op, allowed, task).await?;
        let inst = started.0.clone();
        let (driver, host, image) = (self.driver.clone(), self.config.host.clone(), self.image.clone());
        let (pool, scratch, ctx) = (self.pool.clone(), self.config.state_path.join("snapshots"), ctx.clone());
        let work_inst = inst.clone();
        self.finish(started, op, task, async move {
            if op == "unshelve" {
                let flavor = flavor_of(&work_inst.flavor)?;
                let boot_from = work_inst.shelved_image_id.as_deref().unwrap_or(&work_inst.image_ref);
                driver
                    .spawn(&instance_spec(&image, &work_inst, &flavor, boot_from).await?)
                    .await
                    .map_err(|e| Error::Internal(e.into()))?;
                if let Some(snapshot) = &work_inst.shelved_image_id {
                    store::set_shelved_image(&pool, &work_inst.id, None).await?;
                    if let Err(e) = image.delete(&ctx, snapshot).await {
                        tracing::warn!(image = %snapshot, error = %e, "deleting a shelved server's snapshot failed");
                    }
                }
                let mut o = Outcome::unchanged(&work_inst, "active", PowerState::Running);
                o.host = Some(host);
                Ok(o)
            } else {
                if op == "shelve" && driver.snapshot_format().is_some() {
                    // The disk goes with the host: it is kept as an image first.
                    let shelved = shelve_snapshot(&image, &driver, &ctx, &work_inst, &scratch).await?;
                    store::set_shelved_image(&pool, &work_inst.id, Some(&shelved)).await?;
                }
                driver.destroy(&work_inst.id).await.map_err(|e| Error::Internal(e.into()))?;
                let mut o = Outcome::unchanged(&work_inst, "shelved_offloaded", PowerState::Shutdown);
                o.host = None;
                Ok(o)
            }
        });
        Ok(())
    }

    pub async fn console_output(&self, ctx: &Context, id: &str, length: Option<i64>) -> Result<String> {
        let inst = self.instance(ctx, id).await?;
        let out = self.driver.console_output(&inst.id).await.map_err(|_| {
            Error::Conflict(format!(
                "Cannot 'get_console_output' instance {id} while it is in vm_state {}",
                inst.vm_state
            ))
        })?;
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
    /// one), of the image the server was booted from.
    pub async fn snapshot(
        &self,
        ctx: &Context,
        id: &str,
        name: &str,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String> {
        let (inst, action) = self
            .begin(
                ctx,
                id,
                Elsewhere::Refuse,
                "createImage",
                &["active", "stopped", "paused", "suspended"],
                "image_snapshot",
            )
            .await?;
        let source = self.image.visible(ctx, &inst.image_ref).await;
        let mut body = snapshot_image(name, &inst);
        for (k, v) in metadata {
            body.insert(k, v);
        }
        let own_disk = self.driver.snapshot_format();
        if let Ok(src) = &source {
            body.insert("disk_format".into(), json!(own_disk.or(src.disk_format.as_deref())));
            body.insert("container_format".into(), json!(src.container_format));
            body.insert("min_disk".into(), json!(src.min_disk));
            body.insert("min_ram".into(), json!(src.min_ram));
        }
        let created = self.image.create(ctx, &body).await;
        let created = match created {
            Ok(c) => c,
            Err(e) => {
                actions::finish(&self.pool, action, Some(&e.to_string())).await?;
                store::end_task(&self.pool, id, "image_snapshot", &inst.vm_state, inst.power_state, &now()).await?;
                return Err(e);
            }
        };
        let (image, image_id) = (self.image.clone(), created.id.clone());
        let ctx = ctx.clone();
        let (vm_state, power) = (inst.vm_state.clone(), inst.power_state);
        let pool = self.pool.clone();
        let src = source.ok();
        let driver = self.driver.clone();
        let scratch = self.config.state_path.join("snapshots");
        tokio::spawn(async move {
            let data = match (own_disk, src) {
                (Some(_), _) => match take_disk(&driver, &scratch, &inst.id, &image_id).await {
                    Ok(path) => Some((path, true)),
                    Err(e) => {
                        tracing::warn!(instance = %inst.id, error = %e, "taking a snapshot failed");
                        None
                    }
                },
                (None, Some(src)) => match image.data(&ctx, &src.id).await {
                    Ok(Some((_, path))) => Some((path, false)),
                    _ => None,
                },
                (None, None) => None,
            };
            if let Some((path, scratch_file)) = data {
                if let Err(e) = upload_file(&image, &ctx, &image_id, &path).await {
                    tracing::warn!(image = %image_id, error = %e, "snapshot upload failed");
                }
                if scratch_file {
                    let _ = tokio::fs::remove_file(&path).await;
                }
            }
            if let Err(e) = actions::finish(&pool, action, None).await {
                tracing::error!(instance = %inst.id, error = %e, "recording the snapshot's event failed");
            }
            if let Err(e) = store::end_task(&pool, &inst.id, "image_snapshot", &vm_state, power, &now()).await {
                tracing::error!(instance = %inst.id, error = %e, "recording the end of a snapshot failed");
            }
        });
        Ok(created.id)
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
