//! `/os-keypairs`

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{bad, ApiResult, Body, Caller, Params, Shared};
use crate::microversion::{ApiVersion, V2_2, V2_92};
use crate::views;

pub async fn create(c: Shared, Caller(ctx): Caller, v: ApiVersion, Body(body): Body) -> ApiResult<Response> {
    let k = body
        .get("keypair")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute keypair."))?;
    let name = k.get("name").and_then(Value::as_str).ok_or_else(|| bad("Invalid input for field/attribute name."))?;
    let key_type = if v >= V2_2 { k.get("type").and_then(Value::as_str).unwrap_or("ssh") } else { "ssh" };
    let user_id = k.get("user_id").and_then(Value::as_str);
    // Before 2.92 a keypair without a public key is generated, and its
    // private key answered once and never kept.
    let public_key = k.get("public_key").and_then(Value::as_str);
    if public_key.is_none() && v >= V2_92 {
        return Err(bad("Invalid input for field/attribute keypair. Value: {}. 'public_key' is a required property"));
    }
    let (kp, private_key) = c.create_keypair(&ctx, user_id, name, key_type, public_key).await?;
    // 2.2: created answers 201.
    let status = if v >= V2_2 { StatusCode::CREATED } else { StatusCode::OK };
    let mut view = views::keypair(&kp, v, false);
    view["user_id"] = json!(kp.user_id);
    if let Some(private) = private_key {
        view["private_key"] = json!(private);
    }
    Ok((status, Json(json!({"keypair": view}))).into_response())
}

pub async fn list(c: Shared, Caller(ctx): Caller, v: ApiVersion, params: Params) -> ApiResult<Json<Value>> {
    let keypairs = c.keypairs(&ctx, params.get("user_id").map(String::as_str)).await?;
    let items: Vec<Value> = keypairs.iter().map(|k| json!({"keypair": views::keypair(k, v, false)})).collect();
    Ok(Json(json!({"keypairs": items})))
}

pub async fn show(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let k = c.keypair(&ctx, params.get("user_id").map(String::as_str), &name).await?;
    Ok(Json(json!({"keypair": views::keypair(&k, v, true)})))
}

pub async fn delete(
    c: Shared,
    Caller(ctx): Caller,
    v: ApiVersion,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<StatusCode> {
    c.delete_keypair(&ctx, params.get("user_id").map(String::as_str), &name).await?;
    Ok(if v >= V2_2 { StatusCode::NO_CONTENT } else { StatusCode::ACCEPTED })
}
