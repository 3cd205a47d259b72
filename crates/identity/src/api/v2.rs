//! `POST /v2.0/tokens`: the legacy login that openrc files of the Keystone v2.0
//! era still use. Upstream Keystone removed it; it is kept here on top of the v3
//! authentication, in the default domain, as v2.0 had no domains.

use axum::Json;
use serde_json::{json, Map, Value};

use oxistack_core::time;

use super::{ApiResult, Body, KeystoneError, Shared};
use crate::auth::ResolvedScope;
use crate::DEFAULT_DOMAIN_ID;

pub async fn create_token(id: Shared, body: Body) -> ApiResult<Json<Value>> {
    let auth = body.member("auth")?;
    let v3 = v3_auth(auth)?;
    let v = id.authenticate(&v3).await?;
    let p = &v.payload;
    let mut token = json!({
        "id": v.token,
        "issued_at": time::iso_seconds(time::from_micros(p.issued_at)),
        "expires": time::iso_seconds(time::from_micros(p.expires_at)),
        "audit_ids": p.audit_ids,
    });
    let mut catalog = json!([]);
    if let ResolvedScope::Project(project, _) = &v.scope {
        token["tenant"] = json!({
            "id": project.id, "name": project.name, "enabled": project.enabled, "description": project.description,
        });
        catalog = id.catalog_v2(&project.id).await?;
    }
    Ok(Json(json!({"access": {
        "token": token,
        "serviceCatalog": catalog,
        "user": {
            "id": v.user.id,
            "name": v.user.name,
            "username": v.user.name,
            "roles": v.roles.iter().map(|r| json!({"name": r.name})).collect::<Vec<_>>(),
            "roles_links": [],
        },
        "metadata": {
            "is_admin": 0,
            "roles": v.roles.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        },
    }})))
}

/// Translates a v2.0 `auth` object into the v3 one.
fn v3_auth(auth: &Map<String, Value>) -> Result<Value, KeystoneError> {
    let domain = json!({"id": DEFAULT_DOMAIN_ID});
    let identity = if let Some(pc) = auth.get("passwordCredentials") {
        let mut user = json!({"password": pc.get("password").cloned().unwrap_or(Value::Null), "domain": domain});
        match (pc.get("userId"), pc.get("username")) {
            (Some(uid), _) => user["id"] = uid.clone(),
            (None, Some(name)) => user["name"] = name.clone(),
            _ => return Err(super::invalid("'username' is a required property")),
        }
        json!({"methods": ["password"], "password": {"user": user}})
    } else if let Some(t) = auth.get("token") {
        json!({"methods": ["token"], "token": {"id": t.get("id").cloned().unwrap_or(Value::Null)}})
    } else {
        return Err(super::invalid("'passwordCredentials' or 'token' is required"));
    };
    let mut v3 = json!({ "identity": identity });
    if let Some(tid) = auth.get("tenantId") {
        v3["scope"] = json!({"project": {"id": tid}});
    } else if let Some(name) = auth.get("tenantName") {
        v3["scope"] = json!({"project": {"name": name, "domain": domain}});
    }
    Ok(v3)
}
