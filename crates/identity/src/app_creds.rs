//! Application credentials: a user delegates roles it holds on a project to
//! a secret that logs in without the user's password.

use serde_json::{json, Value};

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::store::{self, AppCred, Filter, Role};
use crate::{new_id, password, policy, Identity};

/// A credential to create, as the request gave it.
#[derive(Debug, Default)]
pub struct NewAppCred<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// As the client wrote it (it is answered so), checked as a date-time.
    pub expires_at: Option<&'a str>,
    pub unrestricted: Option<bool>,
    /// The secret, or one is made.
    pub secret: Option<&'a str>,
    /// The roles asked for (each `{"id": ...}` or `{"name": ...}`); none or
    /// an empty list: all of the token's.
    pub roles: Vec<Value>,
    /// Whether access rules were asked for (not supported).
    pub access_rules: bool,
}

fn not_found(cid: &str) -> Error {
    store::not_found("application credential", cid)
}

impl Identity {
    /// Makes a credential of `uid` (the caller itself) on the project of the
    /// caller's token; the credential and its secret, shown once.
    pub async fn create_app_cred<E: From<Error>>(
        &self,
        ctx: &Context,
        uid: &str,
        asked: std::result::Result<NewAppCred<'_>, E>,
    ) -> std::result::Result<(AppCred, String), E> {
        policy::user(ctx, "identity:create_application_credential", uid)?;
        if ctx.restricted {
            return Err(Error::Forbidden(
                "Using method 'application_credential' is not allowed for managing additional application credentials."
                    .into(),
            )
            .into());
        }
        let project_id = ctx
            .project_id()
            .ok_or_else(|| {
                Error::BadRequest("An application credential must be created with a project-scoped token.".into())
            })?
            .to_owned();
        let new = asked?;
        // Access rules narrow what a credential may call; they are not
        // enforced here, so a credential asking for them is refused rather
        // than made broader than its user meant.
        if new.access_rules {
            return Err(Error::BadRequest(
                "Application credential access rules are not supported by this cloud.".into(),
            )
            .into());
        }
        if let Some(s) = new.expires_at {
            crate::auth::parse_expires_at(s).ok_or_else(|| {
                Error::BadRequest(format!(
                    "Invalid input for field/attribute: expires_at. '{s}' is not a valid date-time"
                ))
            })?;
        }
        // Each role asked for must be one the caller holds in this token.
        let all = store::list::<Role>(&self.pool, "roles", Filter::default()).await?;
        let held: Vec<&Role> = all.iter().filter(|r| ctx.roles.contains(&r.name)).collect();
        let roles: Vec<String> = if new.roles.is_empty() {
            held.iter().map(|r| r.id.clone()).collect()
        } else {
            let mut out = vec![];
            for a in &new.roles {
                let found = held.iter().find(|r| {
                    a.get("id").and_then(Value::as_str) == Some(&r.id)
                        || a.get("name").and_then(Value::as_str) == Some(&r.name)
                });
                match found {
                    Some(r) => out.push(r.id.clone()),
                    None => {
                        return Err(Error::Forbidden(format!("You do not hold the role {a} on this project.")).into())
                    }
                }
            }
            out
        };
        let secret = match new.secret {
            Some(s) => s.to_owned(),
            None => {
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, rand::random::<[u8; 32]>())
            }
        };
        let c = AppCred {
            id: new_id(),
            name: new.name.into(),
            user_id: uid.to_owned(),
            project_id,
            secret_hash: password::hash(&secret).await.map_err(Error::Internal)?,
            description: new.description.unwrap_or("").into(),
            expires_at: new.expires_at.map(String::from),
            unrestricted: new.unrestricted.unwrap_or(false),
            roles: json!(roles).to_string(),
        };
        store::insert_app_cred(&self.pool, &c).await?;
        Ok((c, secret))
    }

    /// The credentials of `uid`, for a reader or the user itself.
    pub async fn app_creds(&self, ctx: &Context, uid: &str, name: Option<&str>) -> Result<Vec<AppCred>> {
        policy::reader_or(ctx, "identity:list_application_credentials", None, ctx.user_id == uid)?;
        let filter = Filter::default().eq("user_id", Some(uid)).eq("name", name);
        store::list::<AppCred>(&self.pool, "application_credentials", filter).await
    }

    async fn own_app_cred(&self, uid: &str, cid: &str) -> Result<AppCred> {
        match store::find::<AppCred>(&self.pool, "application_credentials", cid).await? {
            Some(c) if c.user_id == uid => Ok(c),
            _ => Err(not_found(cid)),
        }
    }

    pub async fn app_cred(&self, ctx: &Context, uid: &str, cid: &str) -> Result<AppCred> {
        policy::reader_or(ctx, "identity:get_application_credential", None, ctx.user_id == uid)?;
        self.own_app_cred(uid, cid).await
    }

    pub async fn delete_app_cred(&self, ctx: &Context, uid: &str, cid: &str) -> Result<()> {
        policy::user(ctx, "identity:delete_application_credential", uid)?;
        self.own_app_cred(uid, cid).await?;
        store::delete(&self.pool, "application_credentials", "application credential", cid).await
    }

    /// The roles a credential delegates (those that still exist).
    pub async fn app_cred_roles(&self, c: &AppCred) -> Result<Vec<Role>> {
        let ids: Vec<String> = serde_json::from_str(&c.roles).unwrap_or_default();
        let mut roles = vec![];
        for rid in ids {
            if let Some(r) = store::find::<Role>(&self.pool, "roles", &rid).await? {
                roles.push(r);
            }
        }
        Ok(roles)
    }
}
