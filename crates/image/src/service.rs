//! The rules of the Image service: who sees and changes which image, the
//! status machine (queued → saving → active, uploading → importing → active,
//! active ⇄ deactivated), uploads with quota and format checks, members.

use std::path::PathBuf;

use axum::body::Body;
use serde_json::{json, Map, Value};

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{self, Target};
use oxistack_core::time;

use crate::backend::Received;
use crate::quota::Budget;
use crate::store::{self, ImageOrder, ImageQuery, ImageRow, MemberRow, Seen};
use crate::Image;

/// Only formats the inspector proves self-contained may be stored, as an
/// operator narrows Glance's `disk_formats`.
pub const DISK_FORMATS: &[&str] = format_inspector::INSPECTED_FORMATS;
pub const CONTAINER_FORMATS: &[&str] = &["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"];
const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];
/// Attributes the server keeps; a client may not set them.
const READ_ONLY: &[&str] = &[
    "status",
    "checksum",
    "size",
    "virtual_size",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "stores",
];

pub fn now() -> String {
    time::iso_seconds(time::now())
}

/// Glance's rule `action` on what belongs to `project`.
fn enforce(ctx: &Context, action: &str, project: &str) -> Result<()> {
    policy::enforce(ctx, action, &Target::project(project))
}

fn tags_of(img: &ImageRow) -> Vec<String> {
    serde_json::from_str(&img.tags).unwrap_or_default()
}

fn props_of(img: &ImageRow) -> Map<String, Value> {
    serde_json::from_str(&img.properties).unwrap_or_default()
}

/// A caller's relation to an image.
fn owns(ctx: &Context, img: &ImageRow) -> bool {
    ctx.project_id() == Some(img.owner.as_str())
}

fn may_see(ctx: &Context, img: &ImageRow, membership: Option<&str>) -> bool {
    ctx.is_admin()
        || owns(ctx, img)
        || matches!(img.visibility.as_str(), "public" | "community")
        || (img.visibility == "shared" && membership.is_some())
}

/// Applies one attribute to an image being created or patched.
fn set_attr(ctx: &Context, img: &mut ImageRow, key: &str, value: &Value, creating: bool) -> Result<()> {
    let bad = |why: &str| Error::BadRequest(format!("Provided object does not match schema 'image': {why}"));
    let as_str_or_null = |v: &Value| -> Result<Option<String>> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(bad(&format!("{other} is not of type 'string'"))),
        }
    };
    let as_count = |v: &Value| {
        v.as_i64().filter(|n| *n >= 0).ok_or_else(|| bad(&format!("{v} is not a non-negative integer ({key})")))
    };
    match key {
        "id" if creating => {
            let id = as_str_or_null(value)?.unwrap_or_default();
            if uuid::Uuid::parse_str(&id).is_err() {
                return Err(bad(&format!("'{id}' is not a 'uuid'")));
            }
            img.id = id;
        }
        "id" => return Err(Error::Forbidden("Attribute 'id' is read-only.".into())),
        k if READ_ONLY.contains(&k) => return Err(Error::Forbidden(format!("Attribute '{k}' is read-only."))),
        "name" => {
            let name = as_str_or_null(value)?;
            if name.as_ref().is_some_and(|n| n.chars().count() > 255) {
                return Err(bad("name is longer than 255 characters"));
            }
            img.name = name;
        }
        "owner" => {
            if !ctx.is_admin() {
                return Err(Error::Forbidden("Attribute 'owner' is reserved.".into()));
            }
            img.owner = as_str_or_null(value)?.ok_or_else(|| bad("owner may not be null"))?;
        }
        "visibility" => {
            let v = as_str_or_null(value)?.unwrap_or_default();
            if !VISIBILITIES.contains(&v.as_str()) {
                return Err(bad(&format!("'{v}' is not one of {VISIBILITIES:?}")));
            }
            if v == "public" {
                enforce(ctx, "publicize_image", &img.owner)?;
            }
            img.visibility = v;
        }
        "protected" | "os_hidden" => {
            let b = value.as_bool().ok_or_else(|| bad(&format!("{value} is not of type 'boolean'")))?;
            if key == "protected" {
                img.protected = b;
            } else {
                img.os_hidden = b;
            }
        }
        "min_disk" => img.min_disk = as_count(value)?,
        "min_ram" => img.min_ram = as_count(value)?,
        "disk_format" | "container_format" => {
            if !creating && img.status != "queued" {
                return Err(Error::Forbidden(format!("Attribute {key} can be only replaced for a queued image.")));
            }
            let v = as_str_or_null(value)?;
            let allowed = if key == "disk_format" { DISK_FORMATS } else { CONTAINER_FORMATS };
            if let Some(f) = &v {
                if !allowed.contains(&f.as_str()) {
                    return Err(bad(&format!("'{f}' is not one of {allowed:?}")));
                }
            }
            if key == "disk_format" {
                img.disk_format = v;
            } else {
                img.container_format = v;
            }
        }
        "tags" => {
            let tags: Vec<String> =
                serde_json::from_value(value.clone()).map_err(|_| bad("tags must be a list of strings"))?;
            if tags.len() > 128 || tags.iter().any(|t| t.chars().count() > 255) {
                return Err(Error::PayloadTooLarge(
                    "Maximum number of tags exceeded (128), or a tag is too long.".into(),
                ));
            }
            let mut uniq: Vec<String> = vec![];
            for t in tags {
                if !uniq.contains(&t) {
                    uniq.push(t);
                }
            }
            img.tags = json!(uniq).to_string();
        }
        prop => {
            let mut props = props_of(img);
            match value {
                Value::String(_) => props.insert(prop.to_owned(), value.clone()),
                Value::Null => props.remove(prop),
                other => return Err(bad(&format!("{other} is not of type 'string' ({prop})"))),
            };
            if props.len() > 128 {
                return Err(Error::PayloadTooLarge("Maximum number of image properties exceeded (128).".into()));
            }
            img.properties = Value::Object(props).to_string();
        }
    }
    Ok(())
}

/// A parsed `GET /v2/images` query.
pub struct ListQuery {
    pub params: Vec<(String, String)>,
}

impl ListQuery {
    fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.params.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }
}

fn parse_bool(v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(Error::BadRequest(format!("Invalid boolean value: {v}"))),
    }
}

fn sort_value(img: &ImageRow, key: &str) -> Value {
    match key {
        "name" => json!(img.name),
        "status" => json!(img.status),
        "size" => json!(img.size),
        "disk_format" => json!(img.disk_format),
        "container_format" => json!(img.container_format),
        "updated_at" => json!(img.updated_at),
        "min_disk" => json!(img.min_disk),
        "min_ram" => json!(img.min_ram),
        "visibility" => json!(img.visibility),
        "owner" => json!(img.owner),
        "id" => json!(img.id),
        _ => json!(img.created_at),
    }
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// The ways an image is in `ctx`'s list for a `visibility` query and a
/// `member_status`, and the one visibility the list keeps to, if any: what
/// the caller may see (its own, public and community images, and the shared
/// ones it is a member of; admins everything), narrowed as Glance lists by
/// default (no community images but the caller's own; shared ones by member
/// status).
fn listed(ctx: &Context, visibility: Option<&str>, member_status: &str) -> (Vec<Seen>, Option<String>) {
    let only = visibility.filter(|v| *v != "all").map(String::from);
    if ctx.is_admin() {
        return (vec![Seen::Every], only);
    }
    let status = (member_status != "all").then(|| member_status.to_owned());
    let project = ctx.project_id().map(String::from);
    let owned = project.iter().map(|p| Seen::OwnedBy(p.clone()));
    let shared = |status: Option<String>| {
        project.iter().map(move |p| Seen::SharedWith { project: p.clone(), status: status.clone() })
    };
    let seen: Vec<Seen> = match visibility {
        None => owned.chain([Seen::Visibility("public")]).chain(shared(status)).collect(),
        Some("all") => {
            owned.chain([Seen::Visibility("public"), Seen::Visibility("community")]).chain(shared(status)).collect()
        }
        Some("shared") => owned.chain(shared(status)).collect(),
        Some(_) => {
            owned.chain([Seen::Visibility("public"), Seen::Visibility("community")]).chain(shared(None)).collect()
        }
    };
    (seen, only)
}

const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
    "min_disk",
    "min_ram",
    "visibility",
    "owner",
];

impl Image {
    /// An image the caller may see; others are 404, as if absent.
    pub async fn visible(&self, ctx: &Context, id: &str) -> Result<ImageRow> {
        let img = store::get(&self.pool, id).await?;
        let membership = match (ctx.project_id(), img.visibility.as_str()) {
            (Some(p), "shared") => {
                store::members(&self.pool, id).await?.into_iter().find(|m| m.member_id == p).map(|m| m.status)
            }
            _ => None,
        };
        if may_see(ctx, &img, membership.as_deref()) {
            Ok(img)
        } else {
            Err(store::not_found(id))
        }
    }

    async fn modifiable(&self, ctx: &Context, id: &str, action: &str) -> Result<ImageRow> {
        let img = self.visible(ctx, id).await?;
        enforce(ctx, action, &img.owner)?;
        Ok(img)
    }

    pub async fn create(&self, ctx: &Context, body: &Map<String, Value>) -> Result<ImageRow> {
        let owner = ctx
            .project_id()
            .ok_or_else(|| Error::Forbidden("A project-scoped token is required to create images.".into()))?;
        enforce(ctx, "add_image", owner)?;
        let now = now();
        let mut img = ImageRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: None,
            owner: owner.to_owned(),
            status: "queued".into(),
            // Glance's default since Ocata: shareable with members, seen by no one else.
            visibility: "shared".into(),
            protected: false,
            os_hidden: false,
            disk_format: None,
            container_format: None,
            min_disk: 0,
            min_ram: 0,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            properties: "{}".into(),
            tags: "[]".into(),
            created_at: now.clone(),
            updated_at: now,
        };
        for (k, v) in body {
            set_attr(ctx, &mut img, k, v, true)?;
        }
        store::insert(&self.pool, &img).await?;
        Ok(img)
    }

    /// `GET /v2/images`: the page of visible images matching the query, and the
    /// marker of the next page when there may be one.
    pub async fn list(&self, ctx: &Context, q: &ListQuery) -> Result<(Vec<ImageRow>, Option<String>)> {
        let member_status = q.get("member_status").unwrap_or("accepted");
        let visibility = q.get("visibility");
        let hidden = q.get("os_hidden").map(parse_bool).transpose()?.unwrap_or(false);
        let size = |key: &str| {
            q.get(key)
                .map(|v| v.parse::<i64>())
                .transpose()
                .map_err(|_| Error::BadRequest(format!("{key} must be an integer")))
        };
        if let Some(v) = visibility {
            if v != "all" && !VISIBILITIES.contains(&v) {
                return Err(Error::BadRequest(format!("Invalid visibility value: {v}")));
            }
        }
        let mut query = ImageQuery {
            hidden,
            name: q.get("name").map(String::from),
            status: q.get("status").map(String::from),
            owner: q.get("owner").map(String::from),
            disk_format: q.get("disk_format").map(String::from),
            container_format: q.get("container_format").map(String::from),
            size_min: size("size_min")?,
            size_max: size("size_max")?,
            protected: q.get("protected").map(parse_bool).transpose()?,
            tags: q.all("tag").into_iter().map(String::from).collect(),
            ..ImageQuery::default()
        };
        (query.seen, query.visibility) = listed(ctx, visibility, member_status);

        // Sorting: `sort=k1:dir,k2` or `sort_key`/`sort_dir` pairs; ties by
        // created_at then id, newest first, as Glance does.
        let mut keys: Vec<(String, bool)> = vec![];
        if let Some(sort) = q.get("sort") {
            for part in sort.split(',').filter(|p| !p.is_empty()) {
                let (k, dir) = part.split_once(':').unwrap_or((part, "desc"));
                keys.push((k.trim().to_owned(), dir.trim() == "asc"));
            }
        } else {
            let dirs = q.all("sort_dir");
            for (i, k) in q.all("sort_key").iter().enumerate() {
                keys.push((k.to_string(), dirs.get(i).or(dirs.first()).is_some_and(|d| *d == "asc")));
            }
        }
        for (k, _) in &keys {
            if !SORT_KEYS.contains(&k.as_str()) {
                return Err(Error::BadRequest(format!(
                    "Invalid sort key: {k}. It should be one of the following: {}.",
                    SORT_KEYS.join(", ")
                )));
            }
        }
        keys.push(("created_at".into(), false));
        keys.push(("id".into(), false));
        let limit = match q.get("limit") {
            Some(l) => l.parse::<usize>().map_err(|_| Error::BadRequest("limit param must be an integer".into()))?,
            None => 25,
        }
        .min(1000);
        let invalid_marker = |m: &str| Error::BadRequest(format!("Invalid marker. Image {m} could not be found."));

        // In SQL when every sort key is a column that is never NULL and no
        // tag needs its exact check: the page is read from past the marker.
        let order: Option<Vec<(ImageOrder, bool)>> =
            keys.iter().map(|(k, asc)| ImageOrder::of(k).map(|o| (o, *asc))).collect();
        let mut rows = match order.filter(|_| query.tags.is_empty()) {
            Some(keys) => {
                // A key given twice orders by its first place only.
                let mut order: Vec<(ImageOrder, bool)> = vec![];
                for (o, asc) in keys {
                    if !order.iter().any(|(seen, _)| *seen == o) {
                        order.push((o, asc));
                    }
                }
                query.order = order.clone();
                if let Some(m) = q.get("marker") {
                    let at = ImageQuery { id: Some(m.to_owned()), limit: Some(1), ..query.clone() };
                    let row = store::images(&self.pool, &at).await?.pop().ok_or_else(|| invalid_marker(m))?;
                    query.after = Some(order.iter().map(|(o, _)| o.value(&row)).collect());
                }
                query.limit = Some(limit as i64 + 1);
                store::images(&self.pool, &query).await?
            }
            None => {
                let tags = query.tags.clone();
                let mut rows: Vec<ImageRow> = store::images(&self.pool, &query)
                    .await?
                    .into_iter()
                    .filter(|img| {
                        let img_tags = tags_of(img);
                        tags.iter().all(|t| img_tags.iter().any(|x| x == t))
                    })
                    .collect();
                rows.sort_by(|a, b| {
                    for (k, asc) in &keys {
                        let o = cmp_values(&sort_value(a, k), &sort_value(b, k));
                        if o != std::cmp::Ordering::Equal {
                            return if *asc { o } else { o.reverse() };
                        }
                    }
                    std::cmp::Ordering::Equal
                });
                if let Some(marker) = q.get("marker") {
                    let at = rows.iter().position(|r| r.id == marker).ok_or_else(|| invalid_marker(marker))?;
                    rows.drain(..=at);
                }
                rows
            }
        };
        let next = (limit > 0 && rows.len() > limit).then(|| rows[limit - 1].id.clone());
        rows.truncate(limit);
        Ok((rows, next))
    }

    /// Applies a JSON patch (`application/openstack-images-v2.1-json-patch`).
    pub async fn patch(&self, ctx: &Context, id: &str, ops: &[Value]) -> Result<ImageRow> {
        let mut img = self.modifiable(ctx, id, "modify_image").await?;
        for op in ops {
            let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            let attr = path.strip_prefix('/').filter(|a| !a.is_empty() && !a.contains('/') || a.starts_with("tags"));
            let Some(attr) = attr else {
                return Err(Error::BadRequest(format!(
                    "Json path should start with a '/' and name one attribute: {path}"
                )));
            };
            let value = op.get("value").cloned().unwrap_or(Value::Null);
            let props = props_of(&img);
            let is_base = !props.contains_key(attr)
                && [
                    "name",
                    "visibility",
                    "protected",
                    "os_hidden",
                    "min_disk",
                    "min_ram",
                    "disk_format",
                    "container_format",
                    "tags",
                    "owner",
                    "id",
                ]
                .contains(&attr)
                || READ_ONLY.contains(&attr);
            match kind {
                "add" | "replace" => {
                    if kind == "replace" && !is_base && !props.contains_key(attr) {
                        return Err(Error::Conflict(format!("Property {attr} does not exist.")));
                    }
                    if value.is_null() && !is_base {
                        return Err(Error::BadRequest(format!("Invalid value for property {attr}: null")));
                    }
                    set_attr(ctx, &mut img, attr, &value, false)?;
                }
                "remove" => {
                    if is_base {
                        return Err(Error::Forbidden(format!("Attribute '{attr}' cannot be removed.")));
                    }
                    if !props.contains_key(attr) {
                        return Err(Error::Conflict(format!("Property {attr} does not exist.")));
                    }
                    set_attr(ctx, &mut img, attr, &Value::Null, false)?;
                }
                other => return Err(Error::BadRequest(format!("Operation '{other}' is not supported."))),
            }
        }
        img.updated_at = now();
        store::update(&self.pool, &img).await?;
        Ok(img)
    }

    pub async fn set_tag(&self, ctx: &Context, id: &str, tag: &str, add: bool) -> Result<()> {
        let mut img = self.modifiable(ctx, id, "modify_image").await?;
        let mut tags = tags_of(&img);
        if add {
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        } else {
            let before = tags.len();
            tags.retain(|t| t != tag);
            if tags.len() == before {
                return Err(Error::NotFound(format!("Tag {tag} not found")));
            }
        }
        set_attr(ctx, &mut img, "tags", &json!(tags), false)?;
        img.updated_at = now();
        store::update(&self.pool, &img).await
    }

    pub async fn delete(&self, ctx: &Context, id: &str) -> Result<()> {
        let img = self.modifiable(ctx, id, "delete_image").await?;
        if img.protected {
            return Err(Error::Forbidden(format!("Image {id} is protected and cannot be deleted.")));
        }
        store::delete(&self.pool, id).await?;
        self.files.remove(id).await
    }

    pub async fn set_active(&self, ctx: &Context, id: &str, active: bool) -> Result<()> {
        let img = self.modifiable(ctx, id, if active { "reactivate" } else { "deactivate" }).await?;
        let (from, to) = if active { ("deactivated", "active") } else { ("active", "deactivated") };
        if img.status == to {
            return Ok(());
        }
        if !store::transition(&self.pool, id, &[from], to, &now()).await? {
            return Err(Error::BadRequest(format!(
                "Not allowed to {} image in status '{}'",
                if active { "reactivate" } else { "deactivate" },
                img.status
            )));
        }
        Ok(())
    }

    /// The owner's quota for one upload, held until its data is stored.
    async fn budget(&self, owner: &str) -> Result<Option<Budget>> {
        self.arrivals.budget(&self.pool, owner, self.config.quota_bytes).await
    }

    /// Receives data for an image moved from `from` to `during`, and checks it;
    /// on any failure the image returns to `from` and nothing is kept.
    async fn receive(
        &self,
        img: &ImageRow,
        body: Body,
        from: &str,
        during: &str,
        budget: Option<&mut Budget>,
    ) -> Result<(Received, Option<u64>)> {
        if !store::transition(&self.pool, &img.id, &[from], during, &now()).await? {
            return Err(Error::Conflict(format!(
                "Image status transition from {} to {during} is not allowed",
                store::get(&self.pool, &img.id).await?.status
            )));
        }
        let outcome = async {
            let data = self.files.receive(body, budget).await?;
            self.inspected(img, data).await
        }
        .await;
        if outcome.is_err() {
            store::transition(&self.pool, &img.id, &[during], from, &now()).await?;
        }
        outcome
    }

    /// Runs the format inspector on data received for `img`: its virtual
    /// size when it may be kept, else it is discarded and refused (415).
    async fn inspected(&self, img: &ImageRow, data: Received) -> Result<(Received, Option<u64>)> {
        let (path, disk_format) = (data.tmp.clone(), img.disk_format.clone().unwrap_or_default());
        let verdict = tokio::task::spawn_blocking(move || format_inspector::inspect_file(&path, &disk_format))
            .await
            .map_err(anyhow::Error::from)?;
        match verdict {
            Ok(Ok(inspected)) => Ok((data, Some(inspected.virtual_size))),
            Ok(Err(refusal)) => {
                tracing::info!(image = %img.id, rule = refusal.rule, "image data refused");
                self.files.discard(data).await;
                Err(Error::UnsupportedMediaType(refusal.message))
            }
            Err(e) => {
                self.files.discard(data).await;
                Err(anyhow::Error::from(e).into())
            }
        }
    }

    /// `PUT /v2/images/{id}/file`
    pub async fn upload(&self, ctx: &Context, id: &str, body: Body) -> Result<()> {
        let img = self.modifiable(ctx, id, "upload_image").await?;
        if img.disk_format.is_none() || img.container_format.is_none() {
            return Err(Error::BadRequest(
                "Properties disk_format, container_format must be set prior to saving data.".into(),
            ));
        }
        let mut budget = self.budget(&img.owner).await?;
        let (data, virtual_size) = self.receive(&img, body, "queued", "saving", budget.as_mut()).await?;
        // The budget is given back once the size is stored with the image.
        self.finish(&img, data, virtual_size, "saving", "queued").await
    }

    /// Makes received data the image's, and the image active.
    async fn finish(
        &self,
        img: &ImageRow,
        data: Received,
        virtual_size: Option<u64>,
        during: &str,
        back: &str,
    ) -> Result<()> {
        let dest = self.files.data_path(&img.id);
        if let Err(e) = self.files.commit(&data, &dest).await {
            self.files.discard(data).await;
            store::transition(&self.pool, &img.id, &[during], back, &now()).await?;
            return Err(e);
        }
        let activated = store::activate(
            &self.pool,
            &img.id,
            during,
            data.size as i64,
            virtual_size.map(|v| v as i64),
            &data.md5,
            &data.sha512,
            &now(),
        )
        .await?;
        if !activated {
            // Deleted while its data came in.
            self.files.remove(&img.id).await?;
            return Err(store::not_found(&img.id));
        }
        Ok(())
    }

    /// `PUT /v2/images/{id}/stage`: data for a later `glance-direct` import.
    pub async fn stage(&self, ctx: &Context, id: &str, body: Body) -> Result<()> {
        let img = self.modifiable(ctx, id, "upload_image").await?;
        let mut budget = self.budget(&img.owner).await?;
        let (data, _) = self.receive(&img, body, "queued", "uploading", budget.as_mut()).await?;
        self.files.commit(&data, &self.files.staging_path(id)).await?;
        // Staged data counts against the quota from now on.
        store::set_size(&self.pool, id, data.size as i64).await
    }

    /// `POST /v2/images/{id}/import` with the `glance-direct` method.
    pub async fn import(&self, ctx: &Context, id: &str, method: &str) -> Result<()> {
        let img = self.modifiable(ctx, id, "import_image").await?;
        if method != "glance-direct" {
            return Err(Error::BadRequest(format!("Import method {method} is not available.")));
        }
        if img.status != "uploading" {
            return Err(Error::Conflict(format!("Image {id} is not in the uploading state: stage its data first.")));
        }
        if !store::transition(&self.pool, id, &["uploading"], "importing", &now()).await? {
            return Err(Error::Conflict(format!("Image {id} is already being imported.")));
        }
        let staged = self.files.staging_path(id);
        let file = tokio::fs::File::open(&staged).await.map_err(anyhow::Error::from)?;
        let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
        let received = match self.files.receive(body, None).await {
            Ok(data) => self.inspected(&img, data).await,
            Err(e) => Err(e),
        };
        let (data, virtual_size) = match received {
            Ok(r) => r,
            Err(e) => {
                store::transition(&self.pool, id, &["importing"], "uploading", &now()).await?;
                return Err(e);
            }
        };
        self.finish(&img, data, virtual_size, "importing", "uploading").await?;
        let _ = tokio::fs::remove_file(staged).await;
        Ok(())
    }

    /// The data of an image: `None` when it has none yet.
    pub async fn data(&self, ctx: &Context, id: &str) -> Result<Option<(ImageRow, PathBuf)>> {
        let img = self.visible(ctx, id).await?;
        if img.status == "deactivated" && !ctx.is_admin() {
            return Err(Error::Forbidden(
                "The requested image has been deactivated. Image data download is forbidden.".into(),
            ));
        }
        if img.status != "active" && img.status != "deactivated" {
            return Ok(None);
        }
        Ok(Some((img.clone(), self.files.data_path(&img.id))))
    }

    /// Where a compute host reads an image it boots: its format and data file,
    /// or `None` when the image is gone or has no data. The caller's right to
    /// boot it was checked when the server was created, as Nova does.
    pub async fn boot_source(&self, id: &str) -> Result<Option<(ImageRow, PathBuf)>> {
        let img = match store::get(&self.pool, id).await {
            Ok(img) => img,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if img.status != "active" && img.status != "deactivated" {
            return Ok(None);
        }
        let path = self.files.data_path(&img.id);
        Ok(Some((img, path)))
    }

    pub async fn add_member(&self, ctx: &Context, id: &str, member: &str) -> Result<MemberRow> {
        let img = self.visible(ctx, id).await?;
        enforce(ctx, "add_member", &img.owner)?;
        if img.visibility != "shared" {
            return Err(Error::Forbidden(format!(
                "Only shared images have members. Image {id} is {}.",
                img.visibility
            )));
        }
        let now = now();
        let m = MemberRow {
            image_id: id.into(),
            member_id: member.into(),
            status: "pending".into(),
            created_at: now.clone(),
            updated_at: now,
        };
        store::insert_member(&self.pool, &m).await?;
        Ok(m)
    }

    /// Members the caller may see: all for the owner, its own for a member.
    pub async fn members(&self, ctx: &Context, id: &str) -> Result<Vec<MemberRow>> {
        let img = self.visible(ctx, id).await?;
        if img.visibility != "shared" {
            return Err(Error::Forbidden(format!(
                "Only shared images have members. Image {id} is {}.",
                img.visibility
            )));
        }
        let all = store::members(&self.pool, id).await?;
        if ctx.is_admin() || owns(ctx, &img) {
            return Ok(all);
        }
        Ok(all.into_iter().filter(|m| Some(m.member_id.as_str()) == ctx.project_id()).collect())
    }

    pub async fn member(&self, ctx: &Context, id: &str, member: &str) -> Result<MemberRow> {
        self.members(ctx, id)
            .await?
            .into_iter()
            .find(|m| m.member_id == member)
            .ok_or_else(|| Error::NotFound(format!("{member} is not a member of image {id}")))
    }

    /// Only the member itself accepts or rejects.
    pub async fn set_member_status(&self, ctx: &Context, id: &str, member: &str, status: &str) -> Result<MemberRow> {
        if !["pending", "accepted", "rejected"].contains(&status) {
            return Err(Error::BadRequest(format!("Status {status} is not a valid member status.")));
        }
        let mut m = self.member(ctx, id, member).await?;
        if ctx.project_id() != Some(member) {
            return Err(policy::denied("modify_member"));
        }
        enforce(ctx, "modify_member", member)?;
        m.status = status.into();
        m.updated_at = now();
        store::set_member_status(&self.pool, id, member, status, &m.updated_at).await?;
        Ok(m)
    }

    pub async fn remove_member(&self, ctx: &Context, id: &str, member: &str) -> Result<()> {
        let img = self.visible(ctx, id).await?;
        enforce(ctx, "delete_member", &img.owner)?;
        if !store::delete_member(&self.pool, id, member).await? {
            return Err(Error::NotFound(format!("{member} is not a member of image {id}")));
        }
        Ok(())
    }
}

/// The image body Glance answers with: base attributes (null when unset) plus
/// the additional properties.
pub fn view(img: &ImageRow) -> Value {
    let mut v = props_of(img);
    let base = json!({
        "id": img.id, "name": img.name, "status": img.status, "visibility": img.visibility,
        "protected": img.protected, "os_hidden": img.os_hidden, "owner": img.owner,
        "checksum": img.checksum, "os_hash_algo": img.os_hash_algo, "os_hash_value": img.os_hash_value,
        "size": img.size, "virtual_size": img.virtual_size, "min_disk": img.min_disk, "min_ram": img.min_ram,
        "disk_format": img.disk_format, "container_format": img.container_format,
        "created_at": img.created_at, "updated_at": img.updated_at, "tags": tags_of(img),
        "self": format!("/v2/images/{}", img.id), "file": format!("/v2/images/{}/file", img.id),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(b) = base {
        v.extend(b);
    }
    Value::Object(v)
}

pub fn member_view(m: &MemberRow) -> Value {
    json!({
        "image_id": m.image_id, "member_id": m.member_id, "status": m.status,
        "created_at": m.created_at, "updated_at": m.updated_at, "schema": "/v2/schemas/member",
    })
}
