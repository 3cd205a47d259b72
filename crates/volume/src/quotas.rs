//! Volume quotas per project, as Cinder's quota engine keeps them: global
//! limits (`volumes`, `gigabytes`, `snapshots`, `backups`, ...) and one
//! `volumes_`, `gigabytes_` and `snapshots_` limit per volume type, -1 for
//! none; the defaults are quota class `default`'s (Cinder's
//! `use_default_quota_class`), set through `os-quota-class-sets`. A check
//! and the row it counts happen under one claim of the database (see
//! `Volume::create_volume`).

use std::collections::BTreeMap;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};

use crate::store::{self, QuotaHolder, TypeRow, TypeUsed, Usage};
use crate::Volume;

/// Cinder's default limits (`cinder/quota.py` options).
pub const DEFAULTS: &[(&str, i64)] = &[
    ("volumes", 10),
    ("snapshots", 10),
    ("gigabytes", 1000),
    ("backups", 10),
    ("backup_gigabytes", 1000),
    ("per_volume_gigabytes", -1),
    ("groups", 10),
];

/// The quota class whose limits are every project's defaults.
const DEFAULT_CLASS: &str = "default";

/// Sets the limits `set` names over `limits` (only resources it knows).
fn overlay(limits: &mut BTreeMap<String, i64>, set: BTreeMap<String, i64>) {
    for (k, v) in set {
        if let Some(slot) = limits.get_mut(&k) {
            *slot = v;
        }
    }
}

/// The per-type resources, each unlimited by default.
const PER_TYPE: &[&str] = &["volumes", "gigabytes", "snapshots"];

/// One resource's limit and what the project uses of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Held {
    pub limit: i64,
    pub in_use: i64,
    pub reserved: i64,
}

fn over_limit(message: String) -> Error {
    Error::PayloadTooLarge(message)
}

/// Whether `gigabytes` more GiB and `volumes` more volumes pass the
/// limits named (the GiB first, as Cinder's engine reports them).
fn over(
    limits: &BTreeMap<String, i64>,
    gb_resource: &str,
    gb_used: i64,
    gigabytes: i64,
    count_resource: &str,
    count_used: i64,
    volumes: i64,
) -> Result<()> {
    let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
    let (gb_limit, count_limit) = (limit(gb_resource), limit(count_resource));
    if gigabytes > 0 && gb_limit >= 0 && gb_used + gigabytes > gb_limit {
        return Err(over_limit(format!(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed {gb_resource} quota. Requested {gigabytes}G, quota is {gb_limit}G and {gb_used}G has been consumed."
        )));
    }
    if volumes > 0 && count_limit >= 0 && count_used + volumes > count_limit {
        return Err(over_limit(format!(
            "VolumeLimitExceeded: Maximum number of volumes allowed ({count_limit}) exceeded for quota '{count_resource}'."
        )));
    }
    Ok(())
}

/// Type `t`'s own limits: `gigabytes_<t>` and `volumes_<t>`.
fn type_room(limits: &BTreeMap<String, i64>, usage: &Usage, t: &TypeRow, volumes: i64, gigabytes: i64) -> Result<()> {
    let used = usage.by_type.get(&t.id).copied().unwrap_or_default();
    over(
        limits,
        &format!("gigabytes_{}", t.name),
        used.gigabytes,
        gigabytes,
        &format!("volumes_{}", t.name),
        used.volumes,
        volumes,
    )
}

/// One more snapshot of `gigabytes` GiB of type `t`: `snapshots`,
/// `gigabytes` and their per-type limits.
fn snapshot_room(limits: &BTreeMap<String, i64>, usage: &Usage, t: &TypeRow, gigabytes: i64) -> Result<()> {
    let used = usage.by_type.get(&t.id).copied().unwrap_or_default();
    let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
    for (resource, in_use) in
        [("snapshots".to_owned(), usage.snapshots), (format!("snapshots_{}", t.name), used.snapshots)]
    {
        let l = limit(&resource);
        if l >= 0 && in_use + 1 > l {
            return Err(over_limit(format!(
                "SnapshotLimitExceeded: Maximum number of snapshots allowed ({l}) exceeded for quota '{resource}'."
            )));
        }
    }
    over(limits, "gigabytes", usage.gigabytes, gigabytes, "snapshots", 0, 0)?;
    over(limits, &format!("gigabytes_{}", t.name), used.gigabytes, gigabytes, "snapshots", 0, 0)
}

fn per_volume(limits: &BTreeMap<String, i64>, size: i64) -> Result<()> {
    let limit = limits.get("per_volume_gigabytes").copied().unwrap_or(-1);
    if limit >= 0 && size > limit {
        return Err(over_limit(format!(
            "VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum allowed limit {limit}G."
        )));
    }
    Ok(())
}

impl Volume {
    /// Every resource's limit in quota class `class`: the class's own
    /// where set, Cinder's defaults elsewhere (the per-type ones for each
    /// type, unlimited).
    async fn class_limits(&self, class: &str) -> Result<BTreeMap<String, i64>> {
        let mut limits: BTreeMap<String, i64> = DEFAULTS.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        for t in store::types(&self.pool, None).await? {
            for r in PER_TYPE {
                limits.insert(format!("{r}_{}", t.name), -1);
            }
        }
        overlay(&mut limits, store::quotas(&self.pool, QuotaHolder::Class(class)).await?);
        Ok(limits)
    }

    /// Every resource's default limit: quota class `default`'s.
    async fn defaults(&self) -> Result<BTreeMap<String, i64>> {
        self.class_limits(DEFAULT_CLASS).await
    }

    /// A project's limits: its own where set, the defaults elsewhere.
    pub(crate) async fn limits(&self, project: &str) -> Result<BTreeMap<String, i64>> {
        let mut limits = self.defaults().await?;
        overlay(&mut limits, store::quotas(&self.pool, QuotaHolder::Project(project)).await?);
        Ok(limits)
    }

    /// Limits asked of a project or class: known resources, each -1 or more.
    async fn check_asked(&self, asked: &BTreeMap<String, i64>) -> Result<()> {
        let known = self.class_limits(DEFAULT_CLASS).await?;
        let bad: Vec<&str> = asked.keys().filter(|k| !known.contains_key(*k)).map(String::as_str).collect();
        if !bad.is_empty() {
            return Err(Error::BadRequest(format!(
                "Invalid input received: Bad key(s) in quota set: {}",
                bad.join(", ")
            )));
        }
        if let Some((k, limit)) = asked.iter().find(|(_, limit)| **limit < -1) {
            return Err(Error::BadRequest(format!(
                "Invalid input for field/attribute {k}. Value: {limit}. {limit} is less than the minimum of -1"
            )));
        }
        Ok(())
    }

    /// `GET /os-quota-class-sets/{class}` (admins).
    pub async fn quota_class_set(&self, ctx: &Context, class: &str) -> Result<BTreeMap<String, i64>> {
        enforce(ctx, "volume_extension:quota_classes", &Target::caller(ctx))?;
        self.class_limits(class).await
    }

    /// `PUT /os-quota-class-sets/{class}` (admins): class `default`'s
    /// limits are every project's defaults. The class's limits after.
    pub async fn update_quota_class_set(
        &self,
        ctx: &Context,
        class: &str,
        asked: Result<BTreeMap<String, i64>>,
    ) -> Result<BTreeMap<String, i64>> {
        enforce(ctx, "volume_extension:quota_classes:update", &Target::caller(ctx))?;
        let asked = asked?;
        self.check_asked(&asked).await?;
        store::set_quotas(&self.pool, QuotaHolder::Class(class), &asked).await?;
        self.class_limits(class).await
    }

    fn in_use(usage: &Usage, types: &[TypeRow], resource: &str) -> i64 {
        match resource {
            "volumes" => usage.volumes,
            "snapshots" => usage.snapshots,
            "gigabytes" => usage.gigabytes,
            "backups" => usage.backups,
            "backup_gigabytes" => usage.backup_gigabytes,
            other => types
                .iter()
                .find_map(|t| {
                    let used: TypeUsed = usage.by_type.get(&t.id).copied().unwrap_or_default();
                    match other.strip_suffix(t.name.as_str())?.strip_suffix('_')? {
                        "volumes" => Some(used.volumes),
                        "snapshots" => Some(used.snapshots),
                        "gigabytes" => Some(used.gigabytes),
                        _ => None,
                    }
                })
                .unwrap_or(0),
        }
    }

    /// Whether `project` has room for `volumes` more volumes and
    /// `gigabytes` GiB more, in all and of type `t`: the 413 of Cinder's
    /// quota engine if not. Its limits and usage are read once.
    pub(crate) async fn check_room(&self, project: &str, t: &TypeRow, volumes: i64, gigabytes: i64) -> Result<()> {
        let limits = self.limits(project).await?;
        if volumes > 0 {
            per_volume(&limits, gigabytes)?;
        }
        let usage = store::usage(&self.pool, project).await?;
        over(&limits, "gigabytes", usage.gigabytes, gigabytes, "volumes", usage.volumes, volumes)?;
        type_room(&limits, &usage, t, volumes, gigabytes)
    }

    /// The same for type `t`'s own limits alone (a retype moves a volume
    /// between types, not into the project).
    pub(crate) async fn check_type_room(&self, project: &str, t: &TypeRow, volumes: i64, gigabytes: i64) -> Result<()> {
        let usage = store::usage(&self.pool, project).await?;
        type_room(&self.limits(project).await?, &usage, t, volumes, gigabytes)
    }

    /// Whether `project` has room for one more snapshot of `gigabytes` GiB
    /// of a volume of type `t`.
    pub(crate) async fn check_snapshot_room(&self, project: &str, t: &TypeRow, gigabytes: i64) -> Result<()> {
        let usage = store::usage(&self.pool, project).await?;
        snapshot_room(&self.limits(project).await?, &usage, t, gigabytes)
    }

    /// Whether `project` has room for a volume of `size` GiB of type `t`
    /// taken with its snapshots of `snapshot_gb` GiB in all (a transfer).
    pub(crate) async fn check_transfer_room(
        &self,
        project: &str,
        t: &TypeRow,
        size: i64,
        snapshots: i64,
        snapshot_gb: i64,
    ) -> Result<()> {
        let limits = self.limits(project).await?;
        per_volume(&limits, size)?;
        let usage = store::usage(&self.pool, project).await?;
        let gigabytes = size + snapshot_gb;
        over(&limits, "gigabytes", usage.gigabytes, gigabytes, "volumes", usage.volumes, 1)?;
        type_room(&limits, &usage, t, 1, gigabytes)?;
        let used = usage.by_type.get(&t.id).copied().unwrap_or_default();
        let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
        for (resource, in_use) in
            [("snapshots".to_owned(), usage.snapshots), (format!("snapshots_{}", t.name), used.snapshots)]
        {
            let l = limit(&resource);
            if snapshots > 0 && l >= 0 && in_use + snapshots > l {
                return Err(over_limit(format!(
                    "SnapshotLimitExceeded: Maximum number of snapshots allowed ({l}) exceeded for quota '{resource}'."
                )));
            }
        }
        Ok(())
    }

    /// `per_volume_gigabytes`: the largest volume a project may have.
    pub(crate) async fn check_per_volume(&self, project: &str, size: i64) -> Result<()> {
        per_volume(&self.limits(project).await?, size)
    }

    /// A project's limits and usage (`os-quota-sets/{project}`).
    pub async fn quota_set(&self, ctx: &Context, project: &str) -> Result<BTreeMap<String, Held>> {
        enforce(ctx, "volume_extension:quotas:show", &Target::project(project))?;
        let limits = self.limits(project).await?;
        let usage = store::usage(&self.pool, project).await?;
        let types = store::types(&self.pool, None).await?;
        Ok(limits
            .into_iter()
            .map(|(k, limit)| {
                let in_use = Self::in_use(&usage, &types, &k);
                (k, Held { limit, in_use, reserved: 0 })
            })
            .collect())
    }

    pub async fn default_quota_set(&self, ctx: &Context, project: &str) -> Result<BTreeMap<String, i64>> {
        enforce(ctx, "volume_extension:quotas:show", &Target::project(project))?;
        self.defaults().await
    }

    /// Sets a project's limits (admins); the limits after.
    pub async fn update_quota_set(
        &self,
        ctx: &Context,
        project: &str,
        asked: Result<BTreeMap<String, i64>>,
    ) -> Result<BTreeMap<String, i64>> {
        enforce(ctx, "volume_extension:quotas:update", &Target::project(project))?;
        let asked = asked?;
        self.check_asked(&asked).await?;
        let usage = store::usage(&self.pool, project).await?;
        let types = store::types(&self.pool, None).await?;
        for (k, limit) in &asked {
            let used = Self::in_use(&usage, &types, k);
            if k != "per_volume_gigabytes" && *limit != -1 && *limit < used {
                return Err(Error::BadRequest(format!(
                    "Quota {k} limit must be equal or greater than existing resources. Current usage is {used} and the requested limit is {limit}."
                )));
            }
        }
        store::set_quotas(&self.pool, QuotaHolder::Project(project), &asked).await?;
        self.limits(project).await
    }

    pub async fn delete_quota_set(&self, ctx: &Context, project: &str) -> Result<()> {
        enforce(ctx, "volume_extension:quotas:delete", &Target::project(project))?;
        store::delete_quotas(&self.pool, project).await
    }

    /// `GET /limits`: the caller's project's absolute limits and usage.
    pub async fn absolute_limits(&self, ctx: &Context) -> Result<BTreeMap<&'static str, i64>> {
        let project = ctx.project_id().unwrap_or_default();
        enforce(ctx, "limits_extension:used_limits", &Target::project(project))?;
        let limits = self.limits(project).await?;
        let usage = store::usage(&self.pool, project).await?;
        let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
        Ok(BTreeMap::from([
            ("maxTotalVolumes", limit("volumes")),
            ("maxTotalSnapshots", limit("snapshots")),
            ("maxTotalVolumeGigabytes", limit("gigabytes")),
            ("maxTotalBackups", limit("backups")),
            ("maxTotalBackupGigabytes", limit("backup_gigabytes")),
            ("totalVolumesUsed", usage.volumes),
            ("totalGigabytesUsed", usage.gigabytes),
            ("totalSnapshotsUsed", usage.snapshots),
            ("totalBackupsUsed", usage.backups),
            ("totalBackupGigabytesUsed", usage.backup_gigabytes),
        ]))
    }
}
