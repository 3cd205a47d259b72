//! `/volumes`: create, list, show, update, delete, actions and metadata.

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::context::Context;

use super::{
    bad, base, boolean, integer, limit, page_body, python_dict, string_map, text, ApiResult, Body, Caller, Shared,
};
use crate::microversion::*;
use crate::status::VolumeStatus;
use crate::store::{VolumeOrder, VolumeRow};
use crate::views::{self, VolumeView};
use crate::volumes::{CreateVolume, VolumeQuery, VolumeUpdate};
use crate::Volume;

/// The keys a create body may hold (from 3.53 no others).
const CREATE_KEYS: &[&str] = &[
    "size",
    "name",
    "display_name",
    "description",
    "display_description",
    "volume_type",
    "availability_zone",
    "snapshot_id",
    "source_volid",
    "consistencygroup_id",
    "group_id",
    "backup_id",
    "imageRef",
    "image_id",
    "metadata",
    "multiattach",
];

/// The filters a project's user may list by (`resource_filters.json`).
const FILTERS: &[&str] = &[
    "name",
    "status",
    "metadata",
    "bootable",
    "migration_status",
    "availability_zone",
    "group_id",
    "size",
    "created_at",
    "updated_at",
    "consumes_quota",
];
const PAGING: &[&str] = &["limit", "marker", "offset", "sort", "sort_key", "sort_dir", "all_tenants", "with_count"];

fn read_create(body: &Value, v: ApiVersion) -> ApiResult<CreateVolume> {
    let vol = body.get("volume").and_then(Value::as_object).ok_or_else(|| bad("'volume' is a required property"))?;
    if v >= V3_53 {
        let extra: Vec<&str> = vol.keys().filter(|k| !CREATE_KEYS.contains(&k.as_str())).map(String::as_str).collect();
        if !extra.is_empty() {
            return Err(bad(format!(
                "Additional properties are not allowed ({} {} unexpected)",
                extra.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", "),
                if extra.len() == 1 { "was" } else { "were" }
            )));
        }
    }
    if vol.get("multiattach").and_then(boolean) == Some(true) {
        return Err(bad("multiattach parameter has been removed. The default behavior is to use multiattach enabled volume types. Contact your administrator to create a multiattach enabled volume type and use it to create multiattach volumes."));
    }
    let size = match vol.get("size") {
        None | Some(Value::Null) => None,
        Some(s) => Some(integer(s).ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute size. Value: {s}. {s} is not valid under any of the given schemas"
            ))
        })?),
    };
    let either = |a: &str, b: &str| -> ApiResult<Option<String>> { Ok(text(vol, a)?.or(text(vol, b)?)) };
    Ok(CreateVolume {
        size,
        name: either("name", "display_name")?.map(|n| n.trim().to_owned()),
        description: either("description", "display_description")?,
        volume_type: text(vol, "volume_type")?,
        availability_zone: text(vol, "availability_zone")?,
        metadata: string_map(vol, "metadata")?,
        snapshot_id: text(vol, "snapshot_id")?,
        source_volid: text(vol, "source_volid")?,
        image_ref: either("imageRef", "image_id")?,
        backup_id: text(vol, "backup_id")?,
    })
}

/// Volumes as they are shown: each with its type's name, the types read
/// once for all of them (a page of 1,000 asks for them once, not 1,000
/// times).
async fn render_all(
    c: &Volume,
    ctx: &Context,
    volumes: &[VolumeRow],
    version: ApiVersion,
    extended: bool,
) -> ApiResult<Vec<Value>> {
    let names = c.type_names().await?;
    let ids: Vec<&str> = volumes.iter().map(|v| v.id.as_str()).collect();
    let all_attachments = c.attachments_of_all(&ids).await?;
    let b = base(c, ctx);
    Ok(volumes
        .iter()
        .map(|v| {
            let type_name = names.get(&v.volume_type_id).map_or(v.volume_type_id.as_str(), String::as_str);
            let attachments: Vec<_> = all_attachments.iter().filter(|a| a.volume_id == v.id).cloned().collect();
            let view = VolumeView { volume: v, type_name, base: &b, version, ctx, attachments: &attachments, extended };
            serde_json::to_value(view).unwrap_or_default()
        })
        .collect())
}

async fn render(c: &Volume, ctx: &Context, v: &VolumeRow, version: ApiVersion, extended: bool) -> ApiResult<Value> {
    Ok(render_all(c, ctx, std::slice::from_ref(v), version, extended).await?.pop().unwrap_or_default())
}

pub async fn create(c: Shared, Caller(ctx): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Response> {
    let created = c.create_volume(&ctx, read_create(&body, v).map_err(|e| e.0)).await?;
    let view = render(&c, &ctx, &created, v, false).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "volume": view }))).into_response())
}

/// A list request as read: the query, whether to count, and its
/// parameters (for the next page's link).
struct ListRequest {
    query: VolumeQuery,
    with_count: bool,
    params: Vec<(String, String)>,
}

/// A list's query: filters, order and page, as Cinder reads them.
fn read_query(ctx: &Context, v: ApiVersion, q: Option<&str>) -> ApiResult<ListRequest> {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(q.unwrap_or("")).map_err(|e| bad(format!("Invalid query: {e}")))?;
    let mut query = VolumeQuery::default();
    let mut with_count = false;
    let mut invalid = vec![];
    let (mut sort_key, mut sort_dir, mut sort) = (None, None, None);
    for (k, val) in &params {
        match k.as_str() {
            "limit" => query.limit = Some(limit(val)?),
            "marker" => query.marker = Some(val.clone()),
            "sort" => sort = Some(val.clone()),
            "sort_key" => sort_key = Some(val.clone()),
            "sort_dir" => sort_dir = Some(val.clone()),
            "all_tenants" => query.all_tenants = boolean(&Value::from(val.as_str())).unwrap_or(false),
            "project_id" if ctx.is_admin() => query.project = Some(val.clone()),
            "with_count" if v >= V3_45 => with_count = boolean(&Value::from(val.as_str())).unwrap_or(false),
            "name" => query.filter.name = Some(val.clone()),
            // A status no volume can have matches none.
            "status" => query.filter.statuses = Some(VolumeStatus::parse(&val.to_lowercase()).into_iter().collect()),
            "bootable" => {
                query.filter.bootable = Some(
                    boolean(&Value::from(val.as_str()))
                        .ok_or_else(|| bad(format!("Invalid input received: 'bootable = {val}'")))?,
                )
            }
            "availability_zone" => query.filter.availability_zone = Some(val.clone()),
            "size" => {
                query.filter.size =
                    Some(val.parse().map_err(|_| bad(format!("Invalid input received: 'size = {val}'")))?)
            }
            "metadata" => query.filter.metadata = python_dict(val)?,
            other if PAGING.contains(&other) || FILTERS.contains(&other) => {}
            other => invalid.push(other.to_owned()),
        }
    }
    // From 3.31 a filter a user may not use is refused; before, ignored.
    if !invalid.is_empty() && !ctx.is_admin() && v >= V3_31 {
        return Err(bad(format!("Invalid filters {} are found in query options.", invalid.join(","))));
    }
    if sort.is_some() && (sort_key.is_some() || sort_dir.is_some()) {
        return Err(bad(
            "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.",
        ));
    }
    let (key, dir) = match sort {
        Some(s) => {
            let first = s.split(',').next().unwrap_or_default().to_owned();
            match first.split_once(':') {
                Some((k, d)) => (k.trim().to_owned(), Some(d.trim().to_owned())),
                None => (first.trim().to_owned(), None),
            }
        }
        None => (sort_key.unwrap_or_else(|| "created_at".into()), sort_dir),
    };
    query.order = VolumeOrder::parse(&key).ok_or_else(|| bad("Invalid input received: Invalid sort key"))?;
    query.ascending = match dir.as_deref().map(str::to_lowercase).as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(bad("Invalid input received: Unknown sort direction, must be 'desc' or 'asc'")),
    };
    Ok(ListRequest { query, with_count, params })
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let ListRequest { query, with_count, params } = read_query(&ctx, v, q.as_deref())?;
    let count = if with_count { Some(c.count_volumes(&ctx, &query).await?) } else { None };
    let (rows, next) = c.list_volumes(&ctx, query).await?;
    let b = base(&c, &ctx);
    let volumes = rows.iter().map(|r| views::volume_summary(&b, r)).collect();
    Ok(Json(page_body(&c, &ctx, "volumes", "volumes", volumes, next, params, count)))
}

pub async fn detail(c: Shared, Caller(ctx): Caller, v: ApiVersion, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let ListRequest { query, with_count, params } = read_query(&ctx, v, q.as_deref())?;
    let count = if with_count { Some(c.count_volumes(&ctx, &query).await?) } else { None };
    let (rows, next) = c.list_volumes(&ctx, query).await?;
    let volumes = render_all(&c, &ctx, &rows, v, true).await?;
    Ok(Json(page_body(&c, &ctx, "volumes", "volumes/detail", volumes, next, params, count)))
}

pub async fn show(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let vol = c.volume(&ctx, &id).await?;
    Ok(Json(json!({ "volume": render(&c, &ctx, &vol, v, true).await? })))
}

fn read_update(body: &Value) -> ApiResult<VolumeUpdate> {
    let vol = body.get("volume").and_then(Value::as_object).ok_or_else(|| bad("'volume' is a required property"))?;
    const KEYS: &[&str] = &["name", "description", "display_name", "display_description", "metadata"];
    if let Some(k) = vol.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(format!("Additional properties are not allowed ('{k}' was unexpected)")));
    }
    let given = |a: &str, b: &str| vol.contains_key(a) || vol.contains_key(b);
    let pick = |a: &str, b: &str| -> ApiResult<Option<String>> { Ok(text(vol, a)?.or(text(vol, b)?)) };
    Ok(VolumeUpdate {
        name: if given("name", "display_name") { Some(pick("name", "display_name")?) } else { None },
        description: if given("description", "display_description") {
            Some(pick("description", "display_description")?)
        } else {
            None
        },
        metadata: if vol.contains_key("metadata") { Some(string_map(vol, "metadata")?) } else { None },
    })
}

pub async fn update(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let vol = c.update_volume(&ctx, &id, read_update(&body).map_err(|e| e.0)).await?;
    Ok(Json(json!({ "volume": render(&c, &ctx, &vol, v, true).await? })))
}

pub async fn delete(
    c: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let flag = |name: &str| params.iter().any(|(k, v)| k == name && boolean(&Value::from(v.as_str())) == Some(true));
    c.delete_volume(&ctx, &id, flag("force"), flag("cascade")).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /volumes/{id}/action`: one action per body.
pub async fn action(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let map = body.as_object().cloned().unwrap_or_default();
    if map.len() != 1 {
        return Err(bad("Malformed request body"));
    }
    let (name, args) = map.into_iter().next().unwrap_or_default();
    let empty = Map::new();
    let args_map = args.as_object().unwrap_or(&empty);
    match name.as_str() {
        "os-extend" => {
            let new_size = args_map.get("new_size").and_then(integer).filter(|n| *n >= 1).ok_or_else(|| {
                bad("Invalid input for field/attribute new_size. Value: None. 'new_size' is a required property")
            })?;
            c.extend(&ctx, &id, new_size, v >= V3_42).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-set_bootable" => {
            let b = args_map
                .get("bootable")
                .and_then(boolean)
                .ok_or_else(|| bad("Invalid input for field/attribute bootable. 'bootable' is a required property"))?;
            c.set_bootable(&ctx, &id, b).await?;
            Ok(StatusCode::OK.into_response())
        }
        "os-reset_status" => {
            let status = args_map.get("status").and_then(Value::as_str);
            if status.is_none() && !args_map.contains_key("attach_status") && !args_map.contains_key("migration_status")
            {
                return Err(bad("Must specify 'status', 'attach_status' or 'migration_status' for update."));
            }
            c.reset_status(&ctx, &id, status).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-retype" => {
            let new_type = args_map
                .get("new_type")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("Invalid input for field/attribute os-retype. 'new_type' is a required property"))?;
            match args_map.get("migration_policy").and_then(Value::as_str) {
                None | Some("never") | Some("on-demand") => {}
                Some(other) => {
                    return Err(bad(format!(
                        "Invalid input for field/attribute migration_policy. Value: {other}. '{other}' is not one of ['on-demand', 'never']"
                    )))
                }
            }
            c.retype(&ctx, &id, new_type).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-reimage" if v >= V3_68 => {
            let image_id = text(args_map, "image_id")?.ok_or_else(|| {
                bad("Invalid input for field/attribute os-reimage. 'image_id' is a required property")
            })?;
            let reserved = match args_map.get("reimage_reserved") {
                None => false,
                Some(b) => boolean(b).ok_or_else(|| {
                    bad(format!(
                        "Invalid input for field/attribute reimage_reserved. Value: {b}. {b} is not of type 'boolean'"
                    ))
                })?,
            };
            let reimage = c.begin_reimage(&ctx, &id, &image_id, reserved).await?;
            tokio::spawn(async move {
                if let Err(e) = reimage.finish().await {
                    tracing::warn!(error = %e, "a reimage failed");
                }
            });
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-force_delete" => {
            c.force_delete(&ctx, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-volume_upload_image" => {
            let text_arg = |k: &str| text(args_map, k);
            let image_name = text_arg("image_name")?.ok_or_else(|| bad("'image_name' is a required property"))?;
            let force = match args_map.get("force") {
                None | Some(Value::Null) => false,
                Some(f) => boolean(f).ok_or_else(|| bad(format!("Invalid value '{f}' for force.")))?,
            };
            let req = crate::images::UploadToImage {
                image_name,
                force,
                disk_format: text_arg("disk_format")?.unwrap_or_else(|| "raw".into()),
                container_format: text_arg("container_format")?.unwrap_or_else(|| "bare".into()),
                visibility: if v >= V3_1 { text_arg("visibility")? } else { None },
                protected: if v >= V3_1 { args_map.get("protected").and_then(boolean) } else { None },
            };
            let (vol, image) = c.upload_to_image(&ctx, &id, req).await?;
            let volume_type = c.volume_type(&ctx, &vol.volume_type_id).await?;
            let mut body = json!({
                "id": vol.id,
                "updated_at": vol.updated_at,
                "status": vol.status,
                "display_description": vol.description,
                "size": vol.size,
                "volume_type": views::volume_type(&volume_type, &ctx),
                "image_id": image.id,
                "container_format": image.container_format,
                "disk_format": image.disk_format,
                "image_name": image.name,
            });
            if v >= V3_1 {
                body["visibility"] = json!(image.visibility);
                body["protected"] = json!(image.protected);
            }
            Ok((StatusCode::ACCEPTED, Json(json!({ "os-volume_upload_image": body }))).into_response())
        }
        "os-show_image_metadata" => Ok(Json(json!({ "metadata": c.image_metadata(&ctx, &id).await? })).into_response()),
        "os-set_image_metadata" => {
            let items = string_map(args_map, "metadata")?;
            Ok(Json(json!({ "metadata": c.set_image_metadata(&ctx, &id, items).await? })).into_response())
        }
        "os-unset_image_metadata" => {
            let key = args_map.get("key").and_then(Value::as_str).ok_or_else(|| bad("'key' is a required property"))?;
            c.unset_image_metadata(&ctx, &id, key).await?;
            Ok(StatusCode::OK.into_response())
        }
        "os-reserve" => {
            c.legacy_reserve(&ctx, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-unreserve" => {
            c.legacy_unreserve(&ctx, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-initialize_connection" => {
            let connector = args_map
                .get("connector")
                .filter(|c| c.is_object())
                .cloned()
                .ok_or_else(|| bad("Must specify 'connector'"))?;
            let connection = c.legacy_initialize_connection(&ctx, &id, connector).await?;
            let mut info = json!(connection);
            // A file backend's path is the host's business.
            if !ctx.is_admin() {
                info["data"] = json!({});
            }
            Ok(Json(json!({ "connection_info": info })).into_response())
        }
        "os-attach" => {
            let field = |k: &str| args_map.get(k).and_then(Value::as_str);
            let mode = field("mode").unwrap_or("rw");
            c.legacy_attach(&ctx, &id, field("instance_uuid"), field("mountpoint"), mode).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-begin_detaching" => {
            c.legacy_begin_detaching(&ctx, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-roll_detaching" => {
            c.legacy_roll_detaching(&ctx, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-detach" => {
            c.legacy_detach(&ctx, &id, args_map.get("attachment_id").and_then(Value::as_str)).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-terminate_connection" => {
            c.legacy_terminate_connection(&ctx, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        other => Err(bad(format!(
            "There is no such action: {other}. Verify the request body and Content-Type header and try again."
        ))),
    }
}
