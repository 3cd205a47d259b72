//! Groups and their members: who may list and see them (readers of their
//! domain), and the changes admins make.

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::store::{self, Domain, Filter, Group, User};
use crate::{new_id, policy, Identity, DEFAULT_DOMAIN_ID};

/// A group to create, or (with `None` for what stays) a change to one.
#[derive(Debug, Default)]
pub struct GroupFields<'a> {
    pub name: Option<&'a str>,
    /// At creation; the default domain's when none is given.
    pub domain_id: Option<&'a str>,
    pub description: Option<&'a str>,
}

fn not_member(gid: &str, uid: &str) -> Error {
    Error::NotFound(format!("User '{uid}' not found in group {gid}"))
}

impl Identity {
    /// The groups the caller may list (a domain reader sees its domain's).
    pub async fn list_groups(&self, ctx: &Context, name: Option<&str>, domain_id: Option<&str>) -> Result<Vec<Group>> {
        let only = policy::list_scope(ctx, "identity:list_groups")?;
        let filter = Filter::default().eq("name", name).eq("domain_id", only.as_deref().or(domain_id));
        store::list::<Group>(&self.pool, "groups", filter).await
    }

    /// Group `gid`, for a reader of its domain under `rule`.
    pub async fn group(&self, ctx: &Context, gid: &str, rule: &str) -> Result<Group> {
        let g: Group = store::get(&self.pool, "groups", "group", gid).await?;
        policy::reader(ctx, rule, Some(&g.domain_id))?;
        Ok(g)
    }

    /// Creates the group the request describes (read as for
    /// [`Identity::create_user`]).
    pub async fn create_group<E: From<Error>>(
        &self,
        ctx: &Context,
        asked: std::result::Result<GroupFields<'_>, E>,
    ) -> std::result::Result<Group, E> {
        policy::admin(ctx, "identity:create_group")?;
        let new = asked?;
        let domain_id = new.domain_id.unwrap_or(DEFAULT_DOMAIN_ID).to_owned();
        let _: Domain = store::get(&self.pool, "domains", "domain", &domain_id).await?;
        let g = Group {
            id: new_id(),
            name: new.name.unwrap_or_default().into(),
            domain_id,
            description: new.description.unwrap_or("").into(),
        };
        store::insert_group(&self.pool, &g).await?;
        Ok(g)
    }

    pub async fn update_group<E: From<Error>>(
        &self,
        ctx: &Context,
        gid: &str,
        asked: std::result::Result<GroupFields<'_>, E>,
    ) -> std::result::Result<Group, E> {
        policy::admin(ctx, "identity:update_group")?;
        let change = asked?;
        let mut g: Group = store::get(&self.pool, "groups", "group", gid).await?;
        if let Some(name) = change.name {
            g.name = name.into();
        }
        if let Some(d) = change.description {
            g.description = d.into();
        }
        store::update_group(&self.pool, &g).await?;
        Ok(g)
    }

    pub async fn delete_group(&self, ctx: &Context, gid: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_group")?;
        store::delete_group(&self.pool, gid).await
    }

    /// The members of group `gid`, for a reader of its domain.
    pub async fn group_users(&self, ctx: &Context, gid: &str) -> Result<Vec<User>> {
        self.group(ctx, gid, "identity:list_users_in_group").await?;
        store::group_users(&self.pool, gid).await
    }

    /// The groups of user `uid`, for a reader of its domain or the user.
    pub async fn user_groups(&self, ctx: &Context, uid: &str) -> Result<Vec<Group>> {
        self.user(ctx, uid, "identity:list_groups_for_user").await?;
        store::user_groups(&self.pool, uid).await
    }

    /// Both exist: a group and a user of a membership.
    async fn group_and_user(&self, gid: &str, uid: &str) -> Result<()> {
        let _: Group = store::get(&self.pool, "groups", "group", gid).await?;
        let _: User = store::get(&self.pool, "users", "user", uid).await?;
        Ok(())
    }

    pub async fn add_member(&self, ctx: &Context, gid: &str, uid: &str) -> Result<()> {
        policy::admin(ctx, "identity:add_user_to_group")?;
        self.group_and_user(gid, uid).await?;
        store::add_member(&self.pool, gid, uid).await
    }

    /// Whether `uid` is in `gid` (a 404 when it is not, as Keystone answers).
    pub async fn check_member(&self, ctx: &Context, gid: &str, uid: &str) -> Result<()> {
        self.group(ctx, gid, "identity:check_user_in_group").await?;
        self.group_and_user(gid, uid).await?;
        if !store::is_member(&self.pool, gid, uid).await? {
            return Err(not_member(gid, uid));
        }
        Ok(())
    }

    pub async fn remove_member(&self, ctx: &Context, gid: &str, uid: &str) -> Result<()> {
        policy::admin(ctx, "identity:remove_user_from_group")?;
        self.group_and_user(gid, uid).await?;
        if !store::remove_member(&self.pool, gid, uid).await? {
            return Err(not_member(gid, uid));
        }
        Ok(())
    }
}
