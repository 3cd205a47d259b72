//! Authentication: turning credentials into a token, and a token back into who
//! it stands for. Validation recomputes roles and checks revocation each time, so
//! a token stops working as soon as its user, project or role is taken away.

use serde_json::{json, Value};

use oxistack_core::context::{Context, Scope};
use oxistack_core::error::{Error, Result};
use oxistack_core::time;

use crate::roles::{self, Target};
use crate::store::{self, AppCred, Domain, Project, Role, User};
use crate::token::{new_audit_id, TokenPayload, TokenScope};
use crate::{password, Identity};

/// The scope of a validated token, with its records loaded.
#[derive(Clone, Debug)]
pub enum ResolvedScope {
    Unscoped,
    Project(Project, Domain),
    Domain(Domain),
    System,
}

/// A token that passed every check, with what it stands for.
#[derive(Clone, Debug)]
pub struct Validated {
    pub token: String,
    pub payload: TokenPayload,
    pub user: User,
    pub user_domain: Domain,
    pub scope: ResolvedScope,
    pub roles: Vec<Role>,
    pub app_cred: Option<AppCred>,
}

impl Validated {
    pub fn context(&self) -> Context {
        Context {
            user_id: self.user.id.clone(),
            user_name: self.user.name.clone(),
            user_domain_id: self.user.domain_id.clone(),
            scope: match &self.scope {
                ResolvedScope::Unscoped => Scope::Unscoped,
                ResolvedScope::Project(p, d) => Scope::Project {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    domain_id: d.id.clone(),
                    domain_name: d.name.clone(),
                },
                ResolvedScope::Domain(d) => Scope::Domain { id: d.id.clone(), name: d.name.clone() },
                ResolvedScope::System => Scope::System,
            },
            roles: self.roles.iter().map(|r| r.name.clone()).collect(),
            audit_ids: self.payload.audit_ids.clone(),
            request_id: String::new(),
            restricted: self.app_cred.as_ref().is_some_and(|c| !c.unrestricted),
        }
    }
}

fn unauthorized() -> Error {
    Error::Unauthorized("The request you have made requires authentication.".into())
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

impl Identity {
    /// Resolves `{"id": ..}` or `{"name": .., "domain": {"id"|"name": ..}}` to a user.
    async fn user_from_ref(&self, user: &Value) -> Result<User> {
        let found = if let Some(id) = str_at(user, "id") {
            store::find::<User>(&self.pool, "users", id).await?
        } else if let Some(name) = str_at(user, "name") {
            let domain =
                self.domain_from_ref(user.get("domain").unwrap_or(&Value::Null)).await.map_err(|_| unauthorized())?;
            store::find_user_by_name(&self.pool, &domain.id, name).await?
        } else {
            return Err(Error::BadRequest("Expecting to find id or name in user - the server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.".into()));
        };
        found.ok_or_else(unauthorized)
    }

    pub(crate) async fn domain_from_ref(&self, domain: &Value) -> Result<Domain> {
        if let Some(id) = str_at(domain, "id") {
            store::get(&self.pool, "domains", "domain", id).await
        } else if let Some(name) = str_at(domain, "name") {
            store::find_domain_by_name(&self.pool, name).await?.ok_or_else(|| store::not_found("domain", name))
        } else {
            Err(Error::BadRequest("Expecting to find domain id or name.".into()))
        }
    }

    async fn project_from_ref(&self, project: &Value) -> Result<Project> {
        if let Some(id) = str_at(project, "id") {
            store::get(&self.pool, "projects", "project", id).await
        } else if let Some(name) = str_at(project, "name") {
            let domain = self.domain_from_ref(project.get("domain").unwrap_or(&Value::Null)).await?;
            store::find_project_by_name(&self.pool, &domain.id, name)
                .await?
                .ok_or_else(|| store::not_found("project", name))
        } else {
            Err(Error::BadRequest("Expecting to find project id or name.".into()))
        }
    }

    /// Checks a user and its domain are enabled.
    async fn usable_user(&self, user: User) -> Result<(User, Domain)> {
        let domain: Domain = store::get(&self.pool, "domains", "domain", &user.domain_id).await?;
        if !user.enabled || !domain.enabled {
            return Err(unauthorized());
        }
        Ok((user, domain))
    }

    /// `POST /v3/auth/tokens`: checks the credentials in `auth` and issues a token.
    pub async fn authenticate(&self, auth: &Value) -> Result<Validated> {
        let identity =
            auth.get("identity").ok_or_else(|| Error::BadRequest("'identity' is a required property".into()))?;
        let methods: Vec<String> = identity
            .get("methods")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let now = time::micros(time::now());
        let mut expires_at = now + self.config.token_ttl_secs * 1_000_000;
        let mut audit_ids = vec![new_audit_id()];
        let mut app_cred = None;
        let mut scope_ref = auth.get("scope").cloned();

        let user = match methods.first().map(String::as_str) {
            Some("password") => {
                let p = identity.get("password").and_then(|p| p.get("user")).ok_or_else(unauthorized)?;
                let user = self.user_from_ref(p).await?;
                let secret = str_at(p, "password").unwrap_or("");
                self.refuse_locked(&user.id).await?;
                let ok = password::matches(secret, user.password_hash.as_deref()).await?;
                self.record_login(&user.id, ok).await?;
                if !ok {
                    tracing::info!(user_id = %user.id, "password authentication failed");
                    return Err(unauthorized());
                }
                user
            }
            Some("token") => {
                let id = identity.get("token").and_then(|t| str_at(t, "id")).ok_or_else(unauthorized)?;
                let old = self.validate(id).await.map_err(|_| unauthorized())?;
                if old.app_cred.is_some() {
                    return Err(Error::Forbidden(
                        "Cannot rescope a token created with an application credential.".into(),
                    ));
                }
                // A rescoped token lives no longer than the one it came from and
                // stays in its audit chain.
                expires_at = old.payload.expires_at;
                audit_ids.push(old.payload.audit_ids.last().cloned().unwrap_or_default());
                old.user
            }
            Some("application_credential") => {
                let ac = identity.get("application_credential").ok_or_else(unauthorized)?;
                let cred = if let Some(id) = str_at(ac, "id") {
                    store::find::<AppCred>(&self.pool, "application_credentials", id).await?
                } else {
                    let name = str_at(ac, "name").ok_or_else(unauthorized)?;
                    let owner = self.user_from_ref(ac.get("user").ok_or_else(unauthorized)?).await?;
                    store::find_app_cred_by_name(&self.pool, &owner.id, name).await?
                }
                .ok_or_else(unauthorized)?;
                if !password::verify(str_at(ac, "secret").unwrap_or(""), &cred.secret_hash).await? {
                    return Err(unauthorized());
                }
                if scope_ref.is_some() {
                    return Err(Error::Unauthorized("Application credentials cannot request a scope.".into()));
                }
                if let Some(exp) = app_cred_expiry(&cred) {
                    if exp <= now {
                        return Err(unauthorized());
                    }
                    expires_at = expires_at.min(exp);
                }
                scope_ref = Some(json!({"project": {"id": cred.project_id}}));
                let user = store::get(&self.pool, "users", "user", &cred.user_id).await?;
                app_cred = Some(cred);
                user
            }
            Some(other) => {
                return Err(Error::Unauthorized(format!(
                    "Attempted to authenticate with an unsupported method: {other}."
                )))
            }
            None => return Err(Error::BadRequest("'methods' is a required property".into())),
        };
        let (user, _) = self.usable_user(user).await?;

        // Keystone scopes a request without a scope to the user's default project,
        // when the user has a role there.
        if scope_ref.is_none() && methods[0] == "password" {
            if let Some(pid) = &user.default_project_id {
                if let Some(p) = store::find::<Project>(&self.pool, "projects", pid).await? {
                    let target = Target::Project { id: &p.id, domain_id: &p.domain_id };
                    if !roles::effective_roles(&self.pool, &user.id, &target).await?.is_empty() {
                        scope_ref = Some(json!({"project": {"id": p.id}}));
                    }
                }
            }
        }
        let scope = match &scope_ref {
            // `"scope": "unscoped"` asks for no scope, not even the default project's.
            None => TokenScope::Unscoped,
            Some(Value::String(s)) if s == "unscoped" => TokenScope::Unscoped,
            Some(s) if s.get("project").is_some() => {
                let p = self.project_from_ref(&s["project"]).await.map_err(scope_error)?;
                TokenScope::Project(p.id)
            }
            Some(s) if s.get("domain").is_some() => {
                let d = self.domain_from_ref(&s["domain"]).await.map_err(scope_error)?;
                TokenScope::Domain(d.id)
            }
            Some(s) if s.get("system").is_some() => TokenScope::System,
            Some(s) if s.get("OS-TRUST:trust").is_some() => {
                return Err(Error::NotImplemented("Trusts are not supported by this cloud.".into()))
            }
            Some(_) => return Err(Error::BadRequest("Invalid scope: expecting project, domain or system.".into())),
        };
        let mut methods = methods;
        methods.dedup();
        let payload = TokenPayload {
            user_id: user.id.clone(),
            methods,
            scope,
            issued_at: now,
            expires_at,
            audit_ids,
            app_cred_id: app_cred.as_ref().map(|c| c.id.clone()),
        };
        let token = self.key.sign(&payload);
        self.resolve(token, payload).await.map_err(|e| match e {
            Error::NotFound(m) | Error::Unauthorized(m) => Error::Unauthorized(m),
            other => other,
        })
    }

    /// Checks a token presented by a client: signature, expiry, revocation, and
    /// that its user, scope and roles still exist.
    pub async fn validate(&self, token: &str) -> Result<Validated> {
        let not_found = || Error::NotFound(format!("Could not find token: {token}."));
        let payload = self.key.verify(token).ok_or_else(not_found)?;
        if payload.expires_at <= time::micros(time::now()) {
            return Err(not_found());
        }
        let project = match &payload.scope {
            TokenScope::Project(p) => Some(p.as_str()),
            _ => None,
        };
        if store::is_revoked(&self.pool, &payload.audit_ids, &payload.user_id, project, payload.issued_at).await? {
            return Err(not_found());
        }
        self.resolve(token.to_owned(), payload).await.map_err(|e| match e {
            Error::Internal(e) => Error::Internal(e),
            _ => not_found(),
        })
    }

    /// Loads what a token stands for and checks it is all still usable.
    pub(crate) async fn resolve(&self, token: String, payload: TokenPayload) -> Result<Validated> {
        let user = store::find::<User>(&self.pool, "users", &payload.user_id).await?.ok_or_else(unauthorized)?;
        let (user, user_domain) = self.usable_user(user).await?;
        let app_cred = match &payload.app_cred_id {
            Some(id) => Some(
                store::find::<AppCred>(&self.pool, "application_credentials", id).await?.ok_or_else(unauthorized)?,
            ),
            None => None,
        };
        let (scope, mut roles) = match &payload.scope {
            TokenScope::Unscoped => (ResolvedScope::Unscoped, vec![]),
            TokenScope::Project(pid) => {
                let project: Project = store::get(&self.pool, "projects", "project", pid).await?;
                let domain: Domain = store::get(&self.pool, "domains", "domain", &project.domain_id).await?;
                if !project.enabled || !domain.enabled {
                    return Err(Error::Unauthorized(format!("Project {pid} is disabled.")));
                }
                let target = Target::Project { id: &project.id, domain_id: &project.domain_id };
                let roles = roles::effective_roles(&self.pool, &user.id, &target).await?;
                if roles.is_empty() {
                    return Err(Error::Unauthorized(format!("User {} has no access to project {pid}.", user.id)));
                }
                (ResolvedScope::Project(project, domain), roles)
            }
            TokenScope::Domain(did) => {
                let domain: Domain = store::get(&self.pool, "domains", "domain", did).await?;
                let roles = roles::effective_roles(&self.pool, &user.id, &Target::Domain(did)).await?;
                if !domain.enabled || roles.is_empty() {
                    return Err(Error::Unauthorized(format!("User {} has no access to domain {did}.", user.id)));
                }
                (ResolvedScope::Domain(domain), roles)
            }
            TokenScope::System => {
                let roles = roles::effective_roles(&self.pool, &user.id, &Target::System).await?;
                if roles.is_empty() {
                    return Err(Error::Unauthorized(format!("User {} has no access to the system.", user.id)));
                }
                (ResolvedScope::System, roles)
            }
        };
        if let Some(cred) = &app_cred {
            // An application credential delegates at most the roles it was made
            // with, and only while its owner still holds them.
            let delegated: Vec<String> = serde_json::from_str(&cred.roles).unwrap_or_default();
            let rules = store::implied_roles(&self.pool).await?;
            let allowed = roles::expand_implied(delegated, &rules);
            roles.retain(|r| allowed.contains(&r.id));
            if roles.is_empty() {
                return Err(unauthorized());
            }
        }
        Ok(Validated { token, payload, user, user_domain, scope, roles, app_cred })
    }

    /// Revokes one token (and, through its audit id, nothing else).
    pub async fn revoke_token(&self, v: &Validated) -> Result<()> {
        let own = v.payload.audit_ids.first().map(String::as_str);
        store::revoke(&self.pool, own, None, None, v.payload.issued_at, v.payload.expires_at).await
    }

    /// Revokes every token of a user issued until now.
    pub async fn revoke_user_tokens(&self, user_id: &str) -> Result<()> {
        let now = time::micros(time::now());
        store::revoke(&self.pool, None, Some(user_id), None, now, now + self.config.token_ttl_secs * 1_000_000).await
    }

    /// Revokes every token scoped to a project issued until now.
    pub async fn revoke_project_tokens(&self, project_id: &str) -> Result<()> {
        let now = time::micros(time::now());
        store::revoke(&self.pool, None, None, Some(project_id), now, now + self.config.token_ttl_secs * 1_000_000).await
    }

    /// The v3 `token` body of `GET`/`POST /v3/auth/tokens`.
    pub async fn token_body(&self, v: &Validated, with_catalog: bool) -> Result<Value> {
        let p = &v.payload;
        let mut t = json!({
            "methods": p.methods,
            "user": {
                "domain": {"id": v.user_domain.id, "name": v.user_domain.name},
                "id": v.user.id,
                "name": v.user.name,
                "password_expires_at": null,
            },
            "audit_ids": p.audit_ids,
            "expires_at": time::keystone(time::from_micros(p.expires_at)),
            "issued_at": time::keystone(time::from_micros(p.issued_at)),
        });
        match &v.scope {
            ResolvedScope::Unscoped => {}
            ResolvedScope::Project(project, domain) => {
                t["project"] = json!({
                    "domain": {"id": domain.id, "name": domain.name},
                    "id": project.id,
                    "name": project.name,
                });
                t["is_domain"] = json!(false);
            }
            ResolvedScope::Domain(d) => t["domain"] = json!({"id": d.id, "name": d.name}),
            ResolvedScope::System => t["system"] = json!({"all": true}),
        }
        if v.scope_is_set() {
            t["roles"] = v.roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect();
            if with_catalog {
                let project = match &v.scope {
                    ResolvedScope::Project(project, _) => Some(project.id.as_str()),
                    _ => None,
                };
                t["catalog"] = self.catalog_v3(project).await?;
            }
        }
        if let Some(c) = &v.app_cred {
            t["application_credential"] = json!({"id": c.id, "name": c.name, "restricted": !c.unrestricted});
        }
        Ok(json!({ "token": t }))
    }
}

impl Validated {
    fn scope_is_set(&self) -> bool {
        !matches!(self.scope, ResolvedScope::Unscoped)
    }
}

/// A scope the user cannot have is a 401, as Keystone answers it.
fn scope_error(e: Error) -> Error {
    match e {
        Error::NotFound(m) => Error::Unauthorized(m),
        other => other,
    }
}

fn app_cred_expiry(c: &AppCred) -> Option<i64> {
    parse_expires_at(c.expires_at.as_deref()?).map(time::micros)
}

/// An `expires_at` as clients send it: ISO 8601 with an offset, or without
/// one meaning UTC (as Keystone reads it).
pub(crate) fn parse_expires_at(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(&format!("{s}Z")))
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}
