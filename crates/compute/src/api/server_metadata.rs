//! `/servers/{id}/metadata` and `/servers/{id}/tags` (2.26).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::error::Error;

use super::{bad, ApiResult, Body, Caller, NovaFault, Shared};
use crate::microversion::{ApiVersion, V2_26};
use crate::store;

fn metadata_of(i: &store::Instance) -> Map<String, Value> {
    i.metadata.0.clone()
}

fn parse_items(body: &Value, key: &str) -> ApiResult<Map<String, Value>> {
    let m = body
        .get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("Invalid input for field/attribute {key}.")))?;
    for (k, v) in m {
        if k.is_empty() || k.len() > 255 || !v.is_string() || v.as_str().is_some_and(|s| s.len() > 255) {
            return Err(bad(format!("Invalid input for field/attribute {key}: '{k}' must map a key of 1-255 characters to a string of at most 255.")));
        }
    }
    Ok(m.clone())
}

async fn save(c: &crate::Compute, i: &store::Instance, m: Map<String, Value>) -> ApiResult<Map<String, Value>> {
    c.set_server_metadata(i, &m).await.map_err(NovaFault)?;
    Ok(m)
}

pub async fn list(c: Shared, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"metadata": metadata_of(&c.instance(&ctx, &id).await?)})))
}

/// `POST`: merges the given items into the metadata.
pub async fn merge(c: Shared, Caller(ctx): Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<Json<Value>> {
    let i = c.instance_to_change(&ctx, &id).await?;
    let mut m = metadata_of(&i);
    m.extend(parse_items(&body, "metadata")?);
    Ok(Json(json!({"metadata": save(&c, &i, m).await?})))
}

/// `PUT`: replaces the metadata.
pub async fn replace(
    c: Shared,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let i = c.instance_to_change(&ctx, &id).await?;
    let m = parse_items(&body, "metadata")?;
    Ok(Json(json!({"metadata": save(&c, &i, m).await?})))
}

pub async fn show(c: Shared, Caller(ctx): Caller, Path((id, key)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let m = metadata_of(&c.instance(&ctx, &id).await?);
    let v = m.get(&key).ok_or_else(|| NovaFault(Error::NotFound("Metadata item was not found".into())))?;
    Ok(Json(json!({"meta": {key: v}})))
}

pub async fn set(
    c: Shared,
    Caller(ctx): Caller,
    Path((id, key)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let item = parse_items(&body, "meta")?;
    if item.len() != 1 || !item.contains_key(&key) {
        return Err(bad("Request body and URI mismatch"));
    }
    let i = c.instance_to_change(&ctx, &id).await?;
    let mut m = metadata_of(&i);
    m.extend(item.clone());
    save(&c, &i, m).await?;
    Ok(Json(json!({"meta": item})))
}

pub async fn delete(c: Shared, Caller(ctx): Caller, Path((id, key)): Path<(String, String)>) -> ApiResult<StatusCode> {
    let i = c.instance_to_change(&ctx, &id).await?;
    let mut m = metadata_of(&i);
    if m.remove(&key).is_none() {
        return Err(NovaFault(Error::NotFound("Metadata item was not found".into())));
    }
    save(&c, &i, m).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn tags_of(i: &store::Instance) -> Vec<String> {
    i.tags.0.clone()
}

fn check_tag(t: &str) -> ApiResult<()> {
    if t.is_empty() || t.chars().count() > 60 || t.contains('/') || t.contains(',') {
        return Err(bad(format!(
            "Invalid input for field/attribute tag. Value: {t}. A tag is 1 to 60 characters, without '/' or ','."
        )));
    }
    Ok(())
}

async fn save_tags(c: &crate::Compute, id: &str, tags: &[String]) -> ApiResult<()> {
    Ok(c.set_server_tags(id, tags).await?)
}

pub async fn tags(c: Shared, Caller(ctx): Caller, v: ApiVersion, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    v.require(V2_26)?;
    Ok(Json(json!({"tags": tags_of(&c.instance(&ctx, &id).await?)})))
}

pub async fn replace_tags(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    v.require(V2_26)?;
    c.instance_to_change(&ctx, &id).await?;
    let tags: Vec<String> = serde_json::from_value(body.get("tags").cloned().unwrap_or(Value::Null))
        .map_err(|_| bad("Invalid input for field/attribute tags."))?;
    let mut uniq: Vec<String> = vec![];
    for t in tags {
        check_tag(&t)?;
        if !uniq.contains(&t) {
            uniq.push(t);
        }
    }
    save_tags(&c, &id, &uniq).await?;
    Ok(Json(json!({"tags": uniq})))
}

pub async fn clear_tags(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    v.require(V2_26)?;
    c.instance_to_change(&ctx, &id).await?;
    save_tags(&c, &id, &[]).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn has_tag(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    v.require(V2_26)?;
    if tags_of(&c.instance(&ctx, &id).await?).contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(NovaFault(Error::NotFound(format!("Tag {tag} could not be found."))))
    }
}

pub async fn add_tag(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<axum::response::Response> {
    v.require(V2_26)?;
    check_tag(&tag)?;
    let mut tags = tags_of(&c.instance_to_change(&ctx, &id).await?);
    if tags.contains(&tag) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let location = format!("{}/servers/{id}/tags/{tag}", super::base(&c));
    tags.push(tag);
    save_tags(&c, &id, &tags).await?;
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, location)]).into_response())
}

pub async fn remove_tag(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    v.require(V2_26)?;
    let mut tags = tags_of(&c.instance_to_change(&ctx, &id).await?);
    let before = tags.len();
    tags.retain(|t| *t != tag);
    if tags.len() == before {
        return Err(NovaFault(Error::NotFound(format!("Tag {tag} could not be found."))));
    }
    save_tags(&c, &id, &tags).await?;
    Ok(StatusCode::NO_CONTENT)
}
