//! Identity's tables and every SQL statement that touches them. No rules live
//! here (who may do what, what a change revokes): those are the service's.

use oxistack_core::db::{self, Pool};
use oxistack_core::error::{Error, OnUnique, Result};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub tags: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub description: String,
    pub enabled: bool,
    pub tags: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub password_hash: Option<String>,
    pub default_project_id: Option<String>,
    pub extra: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct Region {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
}

#[derive(Clone, Debug, FromRow)]
pub struct Service {
    pub id: String,
    #[sqlx(rename = "type")]
    pub service_type: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

#[derive(Clone, Debug, FromRow)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub region_id: Option<String>,
    pub url: String,
    pub enabled: bool,
}

#[derive(Clone, Debug, FromRow)]
pub struct AppCred {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub project_id: String,
    pub secret_hash: String,
    pub description: String,
    pub expires_at: Option<String>,
    pub unrestricted: bool,
    pub roles: String,
}

/// A credential: a blob of a user's, for a project (`type` `ec2`: an
/// access and a secret, as JSON).
#[derive(Clone, Debug, FromRow)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub blob: String,
}

/// One row of the assignments table.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct Assignment {
    pub actor_type: String,
    pub actor_id: String,
    pub target_type: String,
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
}

/// Filters of a list: equality on columns, applied in SQL.
#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    binds: Vec<String>,
}

impl Filter {
    pub fn eq(mut self, column: &str, value: Option<&str>) -> Self {
        if let Some(v) = value {
            self.clauses.push(format!("{column} = ?"));
            self.binds.push(v.to_owned());
        }
        self
    }

    pub fn flag(mut self, column: &str, value: Option<bool>) -> Self {
        if let Some(v) = value {
            self.clauses.push(format!("{column} = {}", if v { "TRUE" } else { "FALSE" }));
        }
        self
    }

    /// A column that is NULL when `value` is `Some(None)`.
    pub fn eq_or_null(mut self, column: &str, value: Option<Option<&str>>) -> Self {
        match value {
            Some(Some(v)) => return self.eq(column, Some(v)),
            Some(None) => self.clauses.push(format!("{column} IS NULL")),
            None => {}
        }
        self
    }

    fn sql(&self, table: &str, order: &str) -> String {
        let mut sql = format!("SELECT * FROM {table}");
        if !self.clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY ");
        sql.push_str(order);
        sql
    }
}

/// Lists rows of `table` matching `filter`.
pub async fn list<T>(pool: &Pool, table: &str, filter: Filter) -> Result<Vec<T>>
where
    T: db::Record,
{
    let sql = filter.sql(table, pool.inserted());
    let mut q = db::query_as::<T>(&sql);
    for b in &filter.binds {
        q = q.bind(b);
    }
    Ok(q.fetch_all(pool).await?)
}

/// One row of `table` by id, or `NotFound` with Keystone's sentence for `kind`.
pub async fn get<T>(pool: &Pool, table: &str, kind: &str, id: &str) -> Result<T>
where
    T: db::Record,
{
    find(pool, table, id).await?.ok_or_else(|| not_found(kind, id))
}

pub async fn find<T>(pool: &Pool, table: &str, id: &str) -> Result<Option<T>>
where
    T: db::Record,
{
    Ok(db::query_as::<T>(&format!("SELECT * FROM {table} WHERE id = ?")).bind(id).fetch_optional(pool).await?)
}

/// One text column of a row of `table` by id (both names from this crate,
/// never from a request).
pub async fn column_of(pool: &Pool, table: &str, column: &str, id: &str) -> Result<Option<String>> {
    Ok(db::query_scalar(&format!("SELECT {column} FROM {table} WHERE id = ?")).bind(id).fetch_optional(pool).await?)
}

pub fn not_found(kind: &str, id: &str) -> Error {
    Error::NotFound(format!("Could not find {kind}: {id}."))
}

pub async fn delete(pool: &Pool, table: &str, kind: &str, id: &str) -> Result<()> {
    let done = db::query(&format!("DELETE FROM {table} WHERE id = ?")).bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(not_found(kind, id));
    }
    Ok(())
}

fn conflict(kind: &str, name: &str) -> impl FnOnce() -> Error {
    let msg = format!("Conflict occurred attempting to store {kind} - Duplicate entry found with name {name}.");
    move || Error::Conflict(msg)
}

pub async fn insert_domain(pool: &Pool, d: &Domain) -> Result<()> {
    db::query("INSERT INTO domains (id, name, description, enabled, tags) VALUES (?, ?, ?, ?, ?)")
        .bind(&d.id)
        .bind(&d.name)
        .bind(&d.description)
        .bind(d.enabled)
        .bind(&d.tags)
        .execute(pool)
        .await
        .on_unique(conflict("domain", &d.name))?;
    Ok(())
}

pub async fn update_domain(pool: &Pool, d: &Domain) -> Result<()> {
    db::query("UPDATE domains SET name = ?, description = ?, enabled = ?, tags = ? WHERE id = ?")
        .bind(&d.name)
        .bind(&d.description)
        .bind(d.enabled)
        .bind(&d.tags)
        .bind(&d.id)
        .execute(pool)
        .await
        .on_unique(conflict("domain", &d.name))?;
    Ok(())
}

/// Deletes a domain and everything that lives in it, in one transaction.
pub async fn delete_domain_cascade(pool: &Pool, id: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    for sql in [
        "DELETE FROM assignments WHERE target_type = 'domain' AND target_id = ?1",
        "DELETE FROM assignments WHERE target_type = 'project' AND target_id IN (SELECT id FROM projects WHERE domain_id = ?1)",
        "DELETE FROM assignments WHERE actor_type = 'user' AND actor_id IN (SELECT id FROM users WHERE domain_id = ?1)",
        "DELETE FROM assignments WHERE actor_type = 'group' AND actor_id IN (SELECT id FROM groups WHERE domain_id = ?1)",
        "DELETE FROM users WHERE domain_id = ?1",
        "DELETE FROM groups WHERE domain_id = ?1",
        "DELETE FROM roles WHERE domain_id = ?1",
        // Unlink the hierarchy first so that projects can go in any order.
        "UPDATE projects SET parent_id = NULL WHERE domain_id = ?1",
        "DELETE FROM projects WHERE domain_id = ?1",
        "DELETE FROM domains WHERE id = ?1",
    ] {
        db::query(sql).bind(id).execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn insert_project(pool: &Pool, p: &Project) -> Result<()> {
    db::query(
        "INSERT INTO projects (id, name, domain_id, parent_id, description, enabled, tags) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.domain_id)
    .bind(&p.parent_id)
    .bind(&p.description)
    .bind(p.enabled)
    .bind(&p.tags)
    .execute(pool)
    .await
    .on_unique(conflict("project", &p.name))?;
    Ok(())
}

pub async fn update_project(pool: &Pool, p: &Project) -> Result<()> {
    db::query("UPDATE projects SET name = ?, description = ?, enabled = ?, tags = ? WHERE id = ?")
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.enabled)
        .bind(&p.tags)
        .bind(&p.id)
        .execute(pool)
        .await
        .on_unique(conflict("project", &p.name))?;
    Ok(())
}

pub async fn project_has_children(pool: &Pool, id: &str) -> Result<bool> {
    Ok(db::query_scalar::<i64>("SELECT COUNT(*) FROM projects WHERE parent_id = ?").bind(id).fetch_one(pool).await? > 0)
}

/// Deletes a project and the assignments on it, in one transaction.
pub async fn delete_project(pool: &Pool, id: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    db::query("DELETE FROM assignments WHERE target_type = 'project' AND target_id = ?")
        .bind(id)
        .execute(&mut tx)
        .await?;
    db::query("DELETE FROM application_credentials WHERE project_id = ?").bind(id).execute(&mut tx).await?;
    db::query("DELETE FROM credentials WHERE project_id = ?").bind(id).execute(&mut tx).await?;
    let done = db::query("DELETE FROM projects WHERE id = ?").bind(id).execute(&mut tx).await?;
    if done.rows_affected() == 0 {
        return Err(not_found("project", id));
    }
    tx.commit().await?;
    Ok(())
}

/// The ids of `id`'s ancestors, nearest first.
pub async fn project_ancestors(pool: &Pool, id: &str) -> Result<Vec<String>> {
    Ok(db::query_scalar(
        "WITH RECURSIVE up(id, parent_id, n) AS (
            SELECT id, parent_id, 0 FROM projects WHERE id = ?
            UNION ALL SELECT p.id, p.parent_id, up.n + 1 FROM projects p JOIN up ON p.id = up.parent_id)
         SELECT id FROM up WHERE n > 0 ORDER BY n",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

pub async fn insert_user(pool: &Pool, u: &User) -> Result<()> {
    db::query(
        "INSERT INTO users (id, name, domain_id, enabled, password_hash, default_project_id, extra)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&u.id)
    .bind(&u.name)
    .bind(&u.domain_id)
    .bind(u.enabled)
    .bind(&u.password_hash)
    .bind(&u.default_project_id)
    .bind(&u.extra)
    .execute(pool)
    .await
    .on_unique(conflict("user", &u.name))?;
    Ok(())
}

pub async fn update_user(pool: &Pool, u: &User) -> Result<()> {
    db::query(
        "UPDATE users SET name = ?, enabled = ?, password_hash = ?, default_project_id = ?, extra = ? WHERE id = ?",
    )
    .bind(&u.name)
    .bind(u.enabled)
    .bind(&u.password_hash)
    .bind(&u.default_project_id)
    .bind(&u.extra)
    .bind(&u.id)
    .execute(pool)
    .await
    .on_unique(conflict("user", &u.name))?;
    Ok(())
}

pub async fn delete_user(pool: &Pool, id: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    db::query("DELETE FROM assignments WHERE actor_type = 'user' AND actor_id = ?").bind(id).execute(&mut tx).await?;
    let done = db::query("DELETE FROM users WHERE id = ?").bind(id).execute(&mut tx).await?;
    if done.rows_affected() == 0 {
        return Err(not_found("user", id));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn find_user_by_name(pool: &Pool, domain_id: &str, name: &str) -> Result<Option<User>> {
    Ok(db::query_as("SELECT * FROM users WHERE domain_id = ? AND name = ?")
        .bind(domain_id)
        .bind(name)
        .fetch_optional(pool)
        .await?)
}

pub async fn find_project_by_name(pool: &Pool, domain_id: &str, name: &str) -> Result<Option<Project>> {
    Ok(db::query_as("SELECT * FROM projects WHERE domain_id = ? AND name = ?")
        .bind(domain_id)
        .bind(name)
        .fetch_optional(pool)
        .await?)
}

pub async fn find_domain_by_name(pool: &Pool, name: &str) -> Result<Option<Domain>> {
    Ok(db::query_as("SELECT * FROM domains WHERE name = ?").bind(name).fetch_optional(pool).await?)
}

pub async fn insert_group(pool: &Pool, g: &Group) -> Result<()> {
    db::query("INSERT INTO groups (id, name, domain_id, description) VALUES (?, ?, ?, ?)")
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.domain_id)
        .bind(&g.description)
        .execute(pool)
        .await
        .on_unique(conflict("group", &g.name))?;
    Ok(())
}

pub async fn update_group(pool: &Pool, g: &Group) -> Result<()> {
    db::query("UPDATE groups SET name = ?, description = ? WHERE id = ?")
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.id)
        .execute(pool)
        .await
        .on_unique(conflict("group", &g.name))?;
    Ok(())
}

pub async fn delete_group(pool: &Pool, id: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    db::query("DELETE FROM assignments WHERE actor_type = 'group' AND actor_id = ?").bind(id).execute(&mut tx).await?;
    let done = db::query("DELETE FROM groups WHERE id = ?").bind(id).execute(&mut tx).await?;
    if done.rows_affected() == 0 {
        return Err(not_found("group", id));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn group_users(pool: &Pool, group_id: &str) -> Result<Vec<User>> {
    Ok(db::query_as(&format!(
        "SELECT u.* FROM users u JOIN group_members m ON m.user_id = u.id WHERE m.group_id = ? ORDER BY u.{}",
        pool.inserted()
    ))
    .bind(group_id)
    .fetch_all(pool)
    .await?)
}

pub async fn user_groups(pool: &Pool, user_id: &str) -> Result<Vec<Group>> {
    Ok(db::query_as(&format!(
        "SELECT g.* FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.{}",
        pool.inserted()
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

pub async fn add_member(pool: &Pool, group_id: &str, user_id: &str) -> Result<()> {
    db::query("INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(group_id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether the membership existed.
pub async fn remove_member(pool: &Pool, group_id: &str, user_id: &str) -> Result<bool> {
    let done = db::query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
        .bind(group_id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn is_member(pool: &Pool, group_id: &str, user_id: &str) -> Result<bool> {
    Ok(db::query_scalar::<i64>("SELECT COUNT(*) FROM group_members WHERE group_id = ? AND user_id = ?")
        .bind(group_id)
        .bind(user_id)
        .fetch_one(pool)
        .await?
        > 0)
}

pub async fn insert_role(pool: &Pool, r: &Role) -> Result<()> {
    db::query("INSERT INTO roles (id, name, domain_id, description) VALUES (?, ?, ?, ?)")
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.domain_id)
        .bind(&r.description)
        .execute(pool)
        .await
        .on_unique(conflict("role", &r.name))?;
    Ok(())
}

pub async fn update_role(pool: &Pool, r: &Role) -> Result<()> {
    db::query("UPDATE roles SET name = ?, description = ? WHERE id = ?")
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.id)
        .execute(pool)
        .await
        .on_unique(conflict("role", &r.name))?;
    Ok(())
}

pub async fn find_role_by_name(pool: &Pool, name: &str) -> Result<Option<Role>> {
    Ok(db::query_as("SELECT * FROM roles WHERE name = ? AND domain_id = ''").bind(name).fetch_optional(pool).await?)
}

/// All inference rules, as (prior, implied) pairs.
pub async fn implied_roles(pool: &Pool) -> Result<Vec<(String, String)>> {
    let sql = format!("SELECT prior_role_id, implied_role_id FROM implied_roles ORDER BY {}", pool.inserted());
    Ok(db::query_as(&sql).fetch_all(pool).await?)
}

pub async fn insert_implied_role(pool: &Pool, prior: &str, implied: &str) -> Result<()> {
    db::query("INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(prior)
        .bind(implied)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_implied_role(pool: &Pool, prior: &str, implied: &str) -> Result<bool> {
    let done = db::query("DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?")
        .bind(prior)
        .bind(implied)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn all_assignments(pool: &Pool) -> Result<Vec<Assignment>> {
    Ok(db::query_as(&format!("SELECT * FROM assignments ORDER BY {}", pool.inserted())).fetch_all(pool).await?)
}

/// The assignments whose actor is `user_id` or one of its groups.
pub async fn assignments_of_user(pool: &Pool, user_id: &str) -> Result<Vec<Assignment>> {
    Ok(db::query_as(&format!(
        "SELECT * FROM assignments WHERE (actor_type = 'user' AND actor_id = ?1)
            OR (actor_type = 'group' AND actor_id IN (SELECT group_id FROM group_members WHERE user_id = ?1))
         ORDER BY {}",
        pool.inserted()
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

pub async fn insert_assignment(pool: &Pool, a: &Assignment) -> Result<()> {
    db::query(
        "INSERT INTO assignments (actor_type, actor_id, target_type, target_id, role_id, inherited)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&a.actor_type)
    .bind(&a.actor_id)
    .bind(&a.target_type)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(a.inherited)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_assignment(pool: &Pool, a: &Assignment) -> Result<bool> {
    let done = db::query(
        "DELETE FROM assignments WHERE actor_type = ? AND actor_id = ? AND target_type = ? AND target_id = ?
         AND role_id = ? AND inherited = ?",
    )
    .bind(&a.actor_type)
    .bind(&a.actor_id)
    .bind(&a.target_type)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(a.inherited)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn insert_region(pool: &Pool, r: &Region) -> Result<()> {
    db::query("INSERT INTO regions (id, description, parent_region_id) VALUES (?, ?, ?)")
        .bind(&r.id)
        .bind(&r.description)
        .bind(&r.parent_region_id)
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Duplicate ID, {}.", r.id)))?;
    Ok(())
}

pub async fn update_region(pool: &Pool, r: &Region) -> Result<()> {
    db::query("UPDATE regions SET description = ?, parent_region_id = ? WHERE id = ?")
        .bind(&r.description)
        .bind(&r.parent_region_id)
        .bind(&r.id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn insert_service(pool: &Pool, s: &Service) -> Result<()> {
    db::query("INSERT INTO services (id, type, name, description, enabled) VALUES (?, ?, ?, ?, ?)")
        .bind(&s.id)
        .bind(&s.service_type)
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.enabled)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn update_service(pool: &Pool, s: &Service) -> Result<()> {
    db::query("UPDATE services SET type = ?, name = ?, description = ?, enabled = ? WHERE id = ?")
        .bind(&s.service_type)
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.enabled)
        .bind(&s.id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn insert_endpoint(pool: &Pool, e: &Endpoint) -> Result<()> {
    db::query("INSERT INTO endpoints (id, service_id, interface, region_id, url, enabled) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&e.id)
        .bind(&e.service_id)
        .bind(&e.interface)
        .bind(&e.region_id)
        .bind(&e.url)
        .bind(e.enabled)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn update_endpoint(pool: &Pool, e: &Endpoint) -> Result<()> {
    db::query("UPDATE endpoints SET service_id = ?, interface = ?, region_id = ?, url = ?, enabled = ? WHERE id = ?")
        .bind(&e.service_id)
        .bind(&e.interface)
        .bind(&e.region_id)
        .bind(&e.url)
        .bind(e.enabled)
        .bind(&e.id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn insert_credential(pool: &Pool, c: &Credential) -> Result<()> {
    db::query("INSERT INTO credentials (id, user_id, project_id, type, blob) VALUES (?, ?, ?, ?, ?)")
        .bind(&c.id)
        .bind(&c.user_id)
        .bind(&c.project_id)
        .bind(&c.kind)
        .bind(&c.blob)
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Duplicate entry found with ID {}.", c.id)))?;
    Ok(())
}

pub async fn update_credential(pool: &Pool, c: &Credential) -> Result<()> {
    db::query("UPDATE credentials SET user_id = ?, project_id = ?, type = ?, blob = ? WHERE id = ?")
        .bind(&c.user_id)
        .bind(&c.project_id)
        .bind(&c.kind)
        .bind(&c.blob)
        .bind(&c.id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn insert_app_cred(pool: &Pool, a: &AppCred) -> Result<()> {
    db::query(
        "INSERT INTO application_credentials
            (id, name, user_id, project_id, secret_hash, description, expires_at, unrestricted, roles)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&a.id)
    .bind(&a.name)
    .bind(&a.user_id)
    .bind(&a.project_id)
    .bind(&a.secret_hash)
    .bind(&a.description)
    .bind(&a.expires_at)
    .bind(a.unrestricted)
    .bind(&a.roles)
    .execute(pool)
    .await
    .on_unique(|| {
        Error::Conflict(format!(
            "Conflict occurred attempting to store application_credential - Duplicate entry found with name {}.",
            a.name
        ))
    })?;
    Ok(())
}

pub async fn find_app_cred_by_name(pool: &Pool, user_id: &str, name: &str) -> Result<Option<AppCred>> {
    Ok(db::query_as("SELECT * FROM application_credentials WHERE user_id = ? AND name = ?")
        .bind(user_id)
        .bind(name)
        .fetch_optional(pool)
        .await?)
}

/// Records a revocation event. `expires_at` bounds how long it must be kept.
pub async fn revoke(
    pool: &Pool,
    audit_id: Option<&str>,
    user_id: Option<&str>,
    project_id: Option<&str>,
    issued_before: i64,
    expires_at: i64,
) -> Result<()> {
    db::query(
        "INSERT INTO revocation_events (audit_id, user_id, project_id, issued_before, expires_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(audit_id)
    .bind(user_id)
    .bind(project_id)
    .bind(issued_before)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether a revocation event matches a token with these attributes.
pub async fn is_revoked(
    pool: &Pool,
    audit_ids: &[String],
    user_id: &str,
    project_id: Option<&str>,
    issued_at: i64,
) -> Result<bool> {
    let chain = audit_ids.last().map(String::as_str).unwrap_or("");
    let own = audit_ids.first().map(String::as_str).unwrap_or("");
    let hit: Option<i64> = db::query_scalar(
        "SELECT id FROM revocation_events WHERE
            ((audit_id = ?1 OR audit_id = ?2) AND issued_before >= ?5)
            OR (audit_id IS NULL AND user_id = ?3 AND project_id IS NULL AND issued_before >= ?5)
            OR (audit_id IS NULL AND user_id IS NULL AND project_id = ?4 AND issued_before >= ?5)
         LIMIT 1",
    )
    .bind(own)
    .bind(chain)
    .bind(user_id)
    .bind(project_id)
    .bind(issued_at)
    .fetch_optional(pool)
    .await?;
    Ok(hit.is_some())
}

/// Drops the events that can no longer match an unexpired token.
pub async fn prune_revocations(pool: &Pool, now: i64) -> Result<u64> {
    Ok(db::query("DELETE FROM revocation_events WHERE expires_at < ?").bind(now).execute(pool).await?.rows_affected())
}

/// Keeps `hash` as the user's newest password, and only the `keep` newest.
pub async fn record_password(pool: &Pool, user_id: &str, hash: &str, at_micros: i64, keep: u32) -> Result<()> {
    let mut tx = pool.begin().await?;
    db::query("INSERT INTO password_history (user_id, hash, created_at) VALUES (?, ?, ?)")
        .bind(user_id)
        .bind(hash)
        .bind(at_micros)
        .execute(&mut tx)
        .await?;
    db::query(
        "DELETE FROM password_history WHERE user_id = ? AND created_at < (SELECT MIN(created_at) FROM
            (SELECT created_at FROM password_history WHERE user_id = ? ORDER BY created_at DESC LIMIT ?) AS kept)",
    )
    .bind(user_id)
    .bind(user_id)
    .bind(i64::from(keep.max(1)))
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The user's `n` newest passwords, newest first: hash and when it was set.
pub async fn password_history(pool: &Pool, user_id: &str, n: u32) -> Result<Vec<(String, i64)>> {
    Ok(db::query_as("SELECT hash, created_at FROM password_history WHERE user_id = ? ORDER BY created_at DESC LIMIT ?")
        .bind(user_id)
        .bind(i64::from(n))
        .fetch_all(pool)
        .await?)
}

/// Failed logins in a row, and when the last was.
pub async fn login_failures(pool: &Pool, user_id: &str) -> Result<Option<(i64, i64)>> {
    Ok(db::query_as("SELECT failures, last_failure_at FROM login_failures WHERE user_id = ?")
        .bind(user_id)
        .fetch_optional(pool)
        .await?)
}

pub async fn record_login_failure(pool: &Pool, user_id: &str, at_micros: i64) -> Result<()> {
    db::query(
        "INSERT INTO login_failures (user_id, failures, last_failure_at) VALUES (?, 1, ?)
         ON CONFLICT (user_id) DO UPDATE SET failures = login_failures.failures + 1, last_failure_at = excluded.last_failure_at",
    )
    .bind(user_id)
    .bind(at_micros)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn clear_login_failures(pool: &Pool, user_id: &str) -> Result<()> {
    db::query("DELETE FROM login_failures WHERE user_id = ?").bind(user_id).execute(pool).await?;
    Ok(())
}

/// Moves every endpoint under the public URL `old` to `new`, keeping the
/// rest of each URL.
pub async fn move_endpoints(pool: &Pool, old: &str, new: &str) -> Result<()> {
    db::query(
        "UPDATE endpoints SET url = ? || substr(url, CAST(? AS INTEGER)) WHERE substr(url, 1, CAST(? AS INTEGER)) = ?",
    )
    .bind(new)
    .bind(old.len() as i64 + 1)
    .bind(old.len() as i64)
    .bind(old)
    .execute(pool)
    .await?;
    Ok(())
}
