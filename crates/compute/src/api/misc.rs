//! Versions, limits, availability zones, and the old image proxy.

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Value};

use oxistack_core::error::Error;

use super::{base, ApiResult, Caller, NovaFault, Shared};
use crate::microversion::{ApiVersion, MAX, MIN, V2_36};
use crate::quotas;

fn v21(compute: &crate::Compute) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{}/", base(compute))}],
    })
}

/// Nova lists the legacy v2.0 first, then v2.1.
pub async fn versions(c: Shared) -> Json<Value> {
    let v20 = json!({
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/v2/", base(&c).trim_end_matches("/v2.1"))}],
    });
    Json(json!({"versions": [v20, v21(&c)]}))
}

pub async fn version(c: Shared) -> Json<Value> {
    let mut v = v21(&c);
    v["links"]
        .as_array_mut()
        .unwrap()
        .push(json!({"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}));
    v["media-types"] =
        json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    Json(json!({"version": v}))
}

pub async fn limits(c: Shared, Caller(ctx): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    let project = ctx.project_id().unwrap_or_default();
    let (instances, cores, ram) = quotas::usage(&c.pool, project).await?;
    let q = quotas::limits(&c.pool, project).await?;
    let mut absolute = json!({
        "maxServerMeta": q["metadata_items"], "maxPersonality": 5, "maxPersonalitySize": 10240,
        "maxTotalKeypairs": q["key_pairs"], "maxServerGroups": q["server_groups"],
        "maxServerGroupMembers": q["server_group_members"],
        "maxTotalCores": q["cores"], "maxTotalInstances": q["instances"], "maxTotalRAMSize": q["ram"],
        "totalCoresUsed": cores, "totalInstancesUsed": instances, "totalRAMUsed": ram, "totalServerGroupsUsed": 0,
    });
    if v < V2_36 {
        for (k, val) in [
            ("maxImageMeta", 128),
            ("maxSecurityGroupRules", 20),
            ("maxSecurityGroups", 10),
            ("maxTotalFloatingIps", 10),
            ("totalFloatingIpsUsed", 0),
            ("totalSecurityGroupsUsed", 1),
        ] {
            absolute[k] = json!(val);
        }
    }
    Ok(Json(json!({"limits": {"rate": [], "absolute": absolute}})))
}

/// The zones of the compute hosts (each host's aggregate's, else the
/// default), available while one of their hosts is up.
pub async fn availability_zones(c: Shared, Caller(_): Caller) -> ApiResult<Json<Value>> {
    let mut zones: Vec<(String, bool)> = vec![];
    let zone_of = crate::aggregates::Zones::read(&c.pool, &c.config.availability_zone).await?;
    for node in crate::host::nodes(&c.pool).await? {
        let zone = zone_of.of(&node.host).to_owned();
        let up = crate::host::is_up(&node);
        match zones.iter_mut().find(|(z, _)| *z == zone) {
            Some((_, available)) => *available |= up,
            None => zones.push((zone, up)),
        }
    }
    let info: Vec<Value> = zones
        .into_iter()
        .map(|(zone, available)| json!({"zoneName": zone, "zoneState": {"available": available}, "hosts": null}))
        .collect();
    Ok(Json(json!({"availabilityZoneInfo": info})))
}

/// The image proxy of microversions below 2.36, answered from the Image service.
fn image_view(c: &crate::Compute, img: &oxistack_image::store::ImageRow, detail: bool) -> Value {
    let base = base(c);
    let mut v = json!({"id": img.id, "name": img.name, "links": super::super::views::links(&base, "images", &img.id)});
    if detail {
        let status = match img.status.as_str() {
            "active" => "ACTIVE",
            "queued" | "saving" | "uploading" | "importing" => "SAVING",
            "deleted" | "pending_delete" => "DELETED",
            _ => "ERROR",
        };
        let props = Value::Object(image_metadata(img));
        v["minRam"] = json!(img.min_ram);
        v["minDisk"] = json!(img.min_disk);
        v["progress"] = json!(if status == "ACTIVE" { 100 } else { 25 });
        v["status"] = json!(status);
        v["created"] = json!(img.created_at);
        v["updated"] = json!(img.updated_at);
        v["metadata"] = props;
        v["OS-EXT-IMG-SIZE:size"] = json!(img.size);
    }
    v
}

async fn proxied(
    c: &crate::Compute,
    ctx: &oxistack_core::Context,
    v: ApiVersion,
) -> ApiResult<Vec<oxistack_image::store::ImageRow>> {
    v.require_before(V2_36)?;
    let q = oxistack_image::service::ListQuery { params: vec![("limit".into(), "1000".into())] };
    Ok(c.image.list(ctx, &q).await?.0)
}

pub async fn images(c: Shared, Caller(ctx): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    let rows = proxied(&c, &ctx, v).await?;
    Ok(Json(json!({"images": rows.iter().map(|i| image_view(&c, i, false)).collect::<Vec<_>>()})))
}

pub async fn images_detail(c: Shared, Caller(ctx): Caller, v: ApiVersion) -> ApiResult<Json<Value>> {
    let rows = proxied(&c, &ctx, v).await?;
    Ok(Json(json!({"images": rows.iter().map(|i| image_view(&c, i, true)).collect::<Vec<_>>()})))
}

pub async fn image(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let img = proxied_image(&c, &ctx, v, &id).await?;
    Ok(Json(json!({"image": image_view(&c, &img, true)})))
}

/// The proxy's image, below 2.36 (404 from then on, and for what the caller
/// may not see).
async fn proxied_image(
    c: &crate::Compute,
    ctx: &oxistack_core::Context,
    v: ApiVersion,
    id: &str,
) -> ApiResult<oxistack_image::store::ImageRow> {
    v.require_before(V2_36)?;
    c.image.visible(ctx, id).await.map_err(|_| NovaFault(Error::NotFound("Image not found.".into())))
}

/// `DELETE /images/{id}`: deleted in the Image service, with its rules.
pub async fn delete_image(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    proxied_image(&c, &ctx, v, &id).await?;
    c.image.delete(&ctx, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

fn image_metadata(img: &oxistack_image::store::ImageRow) -> serde_json::Map<String, Value> {
    serde_json::from_str(&img.properties).unwrap_or_default()
}

/// JSON-patch operations that make the image's properties `wanted`
/// (`replace`: dropping those not named).
fn metadata_patch(current: &serde_json::Map<String, Value>, wanted: &Value, replace: bool) -> ApiResult<Vec<Value>> {
    let wanted = wanted.as_object().ok_or_else(|| super::bad("Malformed request body"))?;
    let mut ops = vec![];
    for (k, val) in wanted {
        let val =
            val.as_str().ok_or_else(|| super::bad(format!("Invalid metadata value for {k}: a string is needed.")))?;
        ops.push(json!({"op": "add", "path": format!("/{k}"), "value": val}));
    }
    if replace {
        for k in current.keys().filter(|k| !wanted.contains_key(*k)) {
            ops.push(json!({"op": "remove", "path": format!("/{k}")}));
        }
    }
    Ok(ops)
}

/// `GET /images/{id}/metadata`
pub async fn image_metadata_list(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"metadata": image_metadata(&proxied_image(&c, &ctx, v, &id).await?)})))
}

/// `POST` (merge) and `PUT` (replace) `/images/{id}/metadata`.
async fn set_image_metadata(
    c: &crate::Compute,
    ctx: &oxistack_core::Context,
    v: ApiVersion,
    id: &str,
    body: &Value,
    replace: bool,
) -> ApiResult<Json<Value>> {
    let img = proxied_image(c, ctx, v, id).await?;
    let wanted = body.get("metadata").ok_or_else(|| super::bad("Malformed request body"))?;
    let ops = metadata_patch(&image_metadata(&img), wanted, replace)?;
    let img = c.image.patch(ctx, id, &ops).await?;
    Ok(Json(json!({"metadata": image_metadata(&img)})))
}

pub async fn image_metadata_merge(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    super::Body(body): super::Body,
) -> ApiResult<Json<Value>> {
    set_image_metadata(&c, &ctx, v, &id, &body, false).await
}

pub async fn image_metadata_replace(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    super::Body(body): super::Body,
) -> ApiResult<Json<Value>> {
    set_image_metadata(&c, &ctx, v, &id, &body, true).await
}

/// `GET /images/{id}/metadata/{key}`
pub async fn image_metadata_show(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let meta = image_metadata(&proxied_image(&c, &ctx, v, &id).await?);
    let val = meta.get(&key).ok_or_else(|| NovaFault(Error::NotFound("Metadata item was not found".into())))?;
    Ok(Json(json!({"meta": {key: val}})))
}

/// `PUT /images/{id}/metadata/{key}` with `{"meta": {key: value}}`.
pub async fn image_metadata_set(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, key)): Path<(String, String)>,
    super::Body(body): super::Body,
) -> ApiResult<Json<Value>> {
    let meta = body.get("meta").and_then(Value::as_object).filter(|m| m.len() == 1 && m.contains_key(&key));
    let meta = meta.ok_or_else(|| super::bad("Request body and URI mismatch"))?;
    proxied_image(&c, &ctx, v, &id).await?;
    let ops = metadata_patch(&serde_json::Map::new(), &Value::Object(meta.clone()), false)?;
    let img = c.image.patch(&ctx, &id, &ops).await?;
    Ok(Json(json!({"meta": {&key: image_metadata(&img).get(&key)}})))
}

/// `DELETE /images/{id}/metadata/{key}`
pub async fn image_metadata_delete(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<axum::http::StatusCode> {
    let meta = image_metadata(&proxied_image(&c, &ctx, v, &id).await?);
    if !meta.contains_key(&key) {
        return Err(NovaFault(Error::NotFound("Metadata item was not found".into())));
    }
    c.image.patch(&ctx, &id, &[json!({"op": "remove", "path": format!("/{key}")})]).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
