//! Users: who may list and see them (Keystone's default policies), their
//! creation, changes and deletion, and the tokens a change revokes.

use serde_json::{Map, Value};

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::store::{self, Domain, Filter, User};
use crate::{new_id, password, policy, Identity, DEFAULT_DOMAIN_ID};

/// What a user list narrows to.
#[derive(Debug, Default)]
pub struct UserFilter<'a> {
    pub name: Option<&'a str>,
    pub domain_id: Option<&'a str>,
    pub enabled: Option<bool>,
}

/// A user to create, as the request gave it.
#[derive(Debug, Default)]
pub struct NewUser<'a> {
    pub name: &'a str,
    /// The default domain's when none is given.
    pub domain_id: Option<&'a str>,
    pub enabled: Option<bool>,
    pub password: Option<&'a str>,
    pub default_project_id: Option<&'a str>,
    /// Attributes without a column of their own, kept as given.
    pub extra: Map<String, Value>,
}

/// What an update changes; `None` leaves an attribute as it is.
#[derive(Debug, Default)]
pub struct UserChange<'a> {
    pub name: Option<&'a str>,
    pub enabled: Option<bool>,
    pub password: Option<&'a str>,
    /// `Some(None)` clears it.
    pub default_project_id: Option<Option<&'a str>>,
    /// Merged into the attributes kept as given.
    pub extra: Map<String, Value>,
}

impl Identity {
    /// The users the caller may list (a domain reader sees its domain's).
    pub async fn list_users(&self, ctx: &Context, filter: &UserFilter<'_>) -> Result<Vec<User>> {
        let only = policy::list_scope(ctx, "identity:list_users")?;
        let filter = Filter::default()
            .eq("name", filter.name)
            .eq("domain_id", only.as_deref().or(filter.domain_id))
            .flag("enabled", filter.enabled);
        store::list::<User>(&self.pool, "users", filter).await
    }

    /// User `uid`, if the caller may see it under `rule` (a reader of its
    /// domain, or the user itself).
    pub async fn user(&self, ctx: &Context, uid: &str, rule: &str) -> Result<User> {
        let u: User = store::get(&self.pool, "users", "user", uid).await?;
        policy::reader_or(ctx, rule, Some(&u.domain_id), ctx.user_id == uid)?;
        Ok(u)
    }

    /// Creates the user the request describes. The request's reading comes
    /// in as it ended (`asked`), so that a caller the policy refuses learns
    /// that first, as from Keystone, whatever its body holds.
    pub async fn create_user<E: From<Error>>(
        &self,
        ctx: &Context,
        asked: std::result::Result<NewUser<'_>, E>,
    ) -> std::result::Result<User, E> {
        policy::admin(ctx, "identity:create_user")?;
        let new = asked?;
        let domain_id = new.domain_id.unwrap_or(DEFAULT_DOMAIN_ID).to_owned();
        let _: Domain = store::get(&self.pool, "domains", "domain", &domain_id).await?;
        let u = User {
            id: new_id(),
            name: new.name.into(),
            domain_id,
            enabled: new.enabled.unwrap_or(true),
            password_hash: match new.password {
                Some(pw) => Some(self.new_password(None, pw, false).await?),
                None => None,
            },
            default_project_id: new.default_project_id.map(String::from),
            extra: Value::Object(new.extra).to_string(),
        };
        store::insert_user(&self.pool, &u).await?;
        if let Some(hash) = &u.password_hash {
            self.remember_password(&u.id, hash).await?;
        }
        Ok(u)
    }

    /// Changes user `uid` as the request asks (read as for
    /// [`Self::create_user`]); disabling it or setting its password revokes
    /// its tokens, enabling it lifts a lockout.
    pub async fn update_user<E: From<Error>>(
        &self,
        ctx: &Context,
        uid: &str,
        asked: std::result::Result<UserChange<'_>, E>,
    ) -> std::result::Result<User, E> {
        policy::admin(ctx, "identity:update_user")?;
        let change = asked?;
        let mut u: User = store::get(&self.pool, "users", "user", uid).await?;
        if let Some(name) = change.name {
            u.name = name.into();
        }
        let mut revoke = false;
        if let Some(e) = change.enabled {
            revoke |= u.enabled && !e;
            u.enabled = e;
            if e {
                self.unlock(uid).await?;
            }
        }
        let mut new_hash = None;
        if let Some(pw) = change.password {
            new_hash = Some(self.new_password(Some(uid), pw, false).await?);
            u.password_hash = new_hash.clone();
            revoke = true;
        }
        if let Some(p) = change.default_project_id {
            u.default_project_id = p.map(String::from);
        }
        let mut extra: Map<String, Value> = serde_json::from_str(&u.extra).unwrap_or_default();
        extra.extend(change.extra);
        u.extra = Value::Object(extra).to_string();
        store::update_user(&self.pool, &u).await?;
        if let Some(hash) = &new_hash {
            self.remember_password(uid, hash).await?;
        }
        if revoke {
            self.revoke_user_tokens(uid).await?;
        }
        Ok(u)
    }

    pub async fn delete_user(&self, ctx: &Context, uid: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_user")?;
        store::delete_user(&self.pool, uid).await?;
        self.revoke_user_tokens(uid).await
    }

    /// A user's own password change, proven by the original password (no
    /// token): a wrong one counts toward a lockout; the user's tokens go.
    pub async fn change_password(&self, uid: &str, original: &str, new: &str) -> Result<()> {
        let mut u: User = store::get(&self.pool, "users", "user", uid).await?;
        self.refuse_locked(uid).await?;
        let ok = password::matches(original, u.password_hash.as_deref()).await?;
        self.record_login(uid, ok).await?;
        if !ok {
            return Err(Error::Unauthorized("The request you have made requires authentication.".into()));
        }
        let hash = self.new_password(Some(uid), new, true).await?;
        u.password_hash = Some(hash.clone());
        store::update_user(&self.pool, &u).await?;
        self.remember_password(uid, &hash).await?;
        self.revoke_user_tokens(uid).await
    }
}
