//! Credentials (`/v3/credentials`) and their EC2 form
//! (`/v3/users/{id}/credentials/OS-EC2`, what `openstack ec2 credentials`
//! calls): blobs a user keeps with Identity. An EC2 credential is an access
//! key and a secret for one project; Object Storage's S3 API checks request
//! signatures with the secret and acts as the credential's user on its
//! project, with the roles the user holds there at that moment.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{self as core_policy, Target};
use oxistack_core::time;

use crate::roles::{self, Target as RoleTarget};
use crate::store::{self, Credential, Filter, Project};
use crate::token::{new_audit_id, TokenPayload, TokenScope};
use crate::{new_id, policy, Identity};

/// A credential to make, or the fields of one to change.
#[derive(Debug, Default)]
pub struct CredentialFields<'a> {
    pub user_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub blob: Option<&'a str>,
}

/// An EC2 credential, its blob read.
#[derive(Clone, Debug)]
pub struct Ec2 {
    pub user_id: String,
    pub project_id: String,
    pub access: String,
    pub secret: String,
}

fn not_found(id: &str) -> Error {
    store::not_found("credential", id)
}

/// An EC2 credential's id: the hex SHA-256 of its access key, as Keystone
/// makes it.
fn ec2_id(access: &str) -> String {
    Sha256::digest(access.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The access and secret of an EC2 blob; 400 when it has no access key.
fn ec2_blob(blob: &str) -> Result<(String, String)> {
    let v: Value = serde_json::from_str(blob).map_err(|_| Error::BadRequest("Invalid blob in credential".into()))?;
    let access = v.get("access").and_then(Value::as_str).filter(|a| !a.is_empty());
    let access = access.ok_or_else(|| Error::BadRequest("Invalid blob in credential".into()))?;
    let secret = v.get("secret").and_then(Value::as_str).unwrap_or_default();
    Ok((access.to_owned(), secret.to_owned()))
}

impl Ec2 {
    fn from_credential(c: &Credential) -> Option<Ec2> {
        if c.kind != "ec2" {
            return None;
        }
        let (access, secret) = ec2_blob(&c.blob).ok()?;
        Some(Ec2 { user_id: c.user_id.clone(), project_id: c.project_id.clone()?, access, secret })
    }
}

impl Identity {
    /// `POST /v3/credentials`, for the caller itself (or anyone, by an
    /// admin). An EC2 blob must name its access key and a project.
    pub async fn create_credential(&self, ctx: &Context, new: CredentialFields<'_>) -> Result<Credential> {
        let (Some(user_id), Some(kind), Some(blob)) = (new.user_id, new.kind, new.blob) else {
            return Err(Error::BadRequest("'blob', 'type' and 'user_id' are required properties".into()));
        };
        policy::user(ctx, "identity:create_credential", user_id)?;
        refuse_restricted(ctx)?;
        store::get::<store::User>(&self.pool, "users", "user", user_id).await?;
        let id = if kind == "ec2" {
            let (access, _) = ec2_blob(blob)?;
            let project =
                new.project_id.ok_or_else(|| Error::BadRequest("Credential must have a project_id".into()))?;
            self.usable_project(project).await?;
            ec2_id(&access)
        } else {
            new_id()
        };
        let c = Credential {
            id,
            user_id: user_id.to_owned(),
            project_id: new.project_id.map(str::to_owned),
            kind: kind.to_owned(),
            blob: blob.to_owned(),
        };
        store::insert_credential(&self.pool, &c).await?;
        Ok(c)
    }

    /// `GET /v3/credentials`: all of them for admins and system readers,
    /// the caller's own for anyone else.
    pub async fn credentials(
        &self,
        ctx: &Context,
        user_id: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Credential>> {
        let everyone = core_policy::allows(ctx, "identity:list_credentials", &Target::default());
        let user_id = if everyone { user_id } else { Some(ctx.user_id.as_str()) };
        if !everyone && user_id.is_some_and(|u| u != ctx.user_id) {
            return Ok(vec![]);
        }
        store::list(&self.pool, "credentials", Filter::default().eq("user_id", user_id).eq("type", kind)).await
    }

    /// A credential its owner, an admin or a system reader may see.
    pub async fn credential(&self, ctx: &Context, id: &str) -> Result<Credential> {
        let c = store::find::<Credential>(&self.pool, "credentials", id).await?.ok_or_else(|| not_found(id))?;
        policy::reader_or(ctx, "identity:get_credential", None, c.user_id == ctx.user_id)?;
        Ok(c)
    }

    pub async fn update_credential(
        &self,
        ctx: &Context,
        id: &str,
        changes: CredentialFields<'_>,
    ) -> Result<Credential> {
        let mut c = store::find::<Credential>(&self.pool, "credentials", id).await?.ok_or_else(|| not_found(id))?;
        policy::user(ctx, "identity:update_credential", &c.user_id)?;
        refuse_restricted(ctx)?;
        if let Some(u) = changes.user_id {
            policy::user(ctx, "identity:update_credential", u)?;
            c.user_id = u.to_owned();
        }
        if let Some(p) = changes.project_id {
            c.project_id = Some(p.to_owned());
        }
        if let Some(k) = changes.kind {
            c.kind = k.to_owned();
        }
        if let Some(b) = changes.blob {
            c.blob = b.to_owned();
        }
        // An EC2 credential's id names its access key: the key stays.
        if c.kind == "ec2" {
            let (access, _) = ec2_blob(&c.blob)?;
            if ec2_id(&access) != c.id {
                return Err(Error::BadRequest("Credential ID does not match the access key of its blob".into()));
            }
            let project =
                c.project_id.as_deref().ok_or_else(|| Error::BadRequest("Credential must have a project_id".into()))?;
            self.usable_project(project).await?;
        }
        store::update_credential(&self.pool, &c).await?;
        Ok(c)
    }

    pub async fn delete_credential(&self, ctx: &Context, id: &str) -> Result<()> {
        let c = store::find::<Credential>(&self.pool, "credentials", id).await?.ok_or_else(|| not_found(id))?;
        policy::user(ctx, "identity:delete_credential", &c.user_id)?;
        store::delete(&self.pool, "credentials", "credential", id).await
    }

    /// `POST /v3/users/{uid}/credentials/OS-EC2`: a new access and secret
    /// for `uid` on a project where it holds a role.
    pub async fn create_ec2(&self, ctx: &Context, uid: &str, project_id: &str) -> Result<Ec2> {
        policy::user(ctx, "identity:ec2_create_credential", uid)?;
        refuse_restricted(ctx)?;
        store::get::<store::User>(&self.pool, "users", "user", uid).await?;
        let project = self.usable_project(project_id).await?;
        let target = RoleTarget::Project { id: &project.id, domain_id: &project.domain_id };
        if roles::effective_roles(&self.pool, uid, &target).await?.is_empty() {
            return Err(Error::Unauthorized(format!("User {uid} has no access to project {project_id}.")));
        }
        let ec2 = Ec2 { user_id: uid.to_owned(), project_id: project.id.clone(), access: new_id(), secret: new_id() };
        let blob = json!({"access": ec2.access, "secret": ec2.secret, "trust_id": null}).to_string();
        let c = Credential {
            id: ec2_id(&ec2.access),
            user_id: uid.to_owned(),
            project_id: Some(project.id),
            kind: "ec2".into(),
            blob,
        };
        store::insert_credential(&self.pool, &c).await?;
        Ok(ec2)
    }

    pub async fn ec2_credentials(&self, ctx: &Context, uid: &str) -> Result<Vec<Ec2>> {
        policy::reader_or(ctx, "identity:ec2_list_credentials", None, ctx.user_id == uid)?;
        let filter = Filter::default().eq("user_id", Some(uid)).eq("type", Some("ec2"));
        let all = store::list::<Credential>(&self.pool, "credentials", filter).await?;
        Ok(all.iter().filter_map(Ec2::from_credential).collect())
    }

    pub async fn ec2_credential(&self, ctx: &Context, uid: &str, access: &str) -> Result<Ec2> {
        policy::reader_or(ctx, "identity:ec2_get_credential", None, ctx.user_id == uid)?;
        self.own_ec2(uid, access).await
    }

    pub async fn delete_ec2(&self, ctx: &Context, uid: &str, access: &str) -> Result<()> {
        policy::user(ctx, "identity:ec2_delete_credential", uid)?;
        self.own_ec2(uid, access).await?;
        store::delete(&self.pool, "credentials", "credential", &ec2_id(access)).await
    }

    async fn own_ec2(&self, uid: &str, access: &str) -> Result<Ec2> {
        let c = store::find::<Credential>(&self.pool, "credentials", &ec2_id(access)).await?;
        match c.as_ref().and_then(Ec2::from_credential) {
            Some(e) if e.user_id == uid && e.access == access => Ok(e),
            _ => Err(store::not_found("credential", access)),
        }
    }

    /// The secret of EC2 access key `access` and who a request signed with
    /// it stands for: its user on its project, with the roles held there
    /// now, checked as a token of theirs would be (user and project
    /// enabled, a role held). `None` for an unknown key.
    pub async fn ec2_context(&self, access: &str) -> Result<Option<(String, Context)>> {
        let c = store::find::<Credential>(&self.pool, "credentials", &ec2_id(access)).await?;
        let Some(ec2) = c.as_ref().and_then(Ec2::from_credential).filter(|e| e.access == access) else {
            return Ok(None);
        };
        let now = time::micros(time::now());
        let payload = TokenPayload {
            user_id: ec2.user_id.clone(),
            methods: vec!["ec2credential".into()],
            scope: TokenScope::Project(ec2.project_id.clone()),
            issued_at: now,
            expires_at: now + 60_000_000,
            audit_ids: vec![new_audit_id()],
            app_cred_id: None,
        };
        match self.resolve(String::new(), payload).await {
            Ok(v) => Ok(Some((ec2.secret, v.context()))),
            Err(Error::Internal(e)) => Err(Error::Internal(e)),
            Err(_) => Ok(None),
        }
    }

    async fn usable_project(&self, id: &str) -> Result<Project> {
        let p = store::find::<Project>(&self.pool, "projects", id)
            .await?
            .ok_or_else(|| Error::BadRequest(format!("Could not find project: {id}.")))?;
        if !p.enabled {
            return Err(Error::BadRequest(format!("Project {id} is disabled.")));
        }
        Ok(p)
    }
}

/// A token from a restricted application credential makes no credentials
/// (no more than it makes application credentials).
fn refuse_restricted(ctx: &Context) -> Result<()> {
    if ctx.restricted {
        return Err(Error::Forbidden(
            "Using method 'application_credential' is not allowed for managing credentials.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ec2_credentials_id_is_the_hash_of_its_access_key() {
        assert_eq!(ec2_id("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(ec2_blob(r#"{"access": "a", "secret": "s"}"#).unwrap(), ("a".into(), "s".into()));
        assert!(ec2_blob(r#"{"secret": "s"}"#).is_err());
        assert!(ec2_blob("not json").is_err());
    }
}
