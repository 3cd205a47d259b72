//! Who is calling: what the token middleware learned from `X-Auth-Token`.

use std::sync::Arc;

/// The scope a token was issued for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    Unscoped,
    Project { id: String, name: String, domain_id: String, domain_name: String },
    Domain { id: String, name: String },
    System,
}

/// The caller of one request, built from a validated token. It travels
/// with work one server hands to another, which acts with the caller's
/// rights as the first one would have.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Context {
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub scope: Scope,
    /// Role names after implied roles were expanded (admin ⇒ member ⇒ reader).
    pub roles: Vec<String>,
    pub audit_ids: Vec<String>,
    pub request_id: String,
    /// The token came from an application credential that is not
    /// `unrestricted`: it may not make application credentials or trusts
    /// (Keystone's check for restricted application credentials).
    pub restricted: bool,
}

impl Context {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Project { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn domain_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Domain { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn is_system(&self) -> bool {
        self.scope == Scope::System
    }
}

/// Turns a token into a context. Identity implements it; every service's token
/// middleware calls it, so no other service reads Identity's tables.
pub trait TokenValidator: Send + Sync {
    /// Validates `token` and returns its caller; `Unauthorized` when the token is
    /// malformed, expired or revoked.
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, crate::Result<Context>>;

    /// The secret of an EC2 credential and who a request signed with it
    /// stands for (its user on its project), for S3's signatures; `None`
    /// for an access key Identity does not know.
    fn ec2_credential<'a>(&'a self, access: &'a str) -> BoxFuture<'a, crate::Result<Option<(String, Context)>>> {
        let _ = access;
        Box::pin(async { Ok(None) })
    }
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub type SharedValidator = Arc<dyn TokenValidator>;
