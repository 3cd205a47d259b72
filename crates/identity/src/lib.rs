//! Identity: a Keystone-compatible v3 API (and the v2.0 token call), the token
//! provider, the catalog, and the bootstrap of a new cloud.
//!
//! Owns the users, projects, domains, groups, roles, assignments, catalog,
//! application credentials and credentials tables. Other services never read them: they ask
//! through [`oxistack_core::context::TokenValidator`].

pub mod api;
pub mod app_creds;
pub mod assignments;
pub mod auth;
pub mod catalog;
pub mod catalog_admin;
pub mod compliance;
pub mod credentials;
pub mod domains;
pub mod groups;
pub mod password;
pub mod policy;
pub mod projects;
pub mod roles;
// The one module of the crate with SQL (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod store;
pub mod token;
pub mod users;

use std::sync::Arc;

use oxistack_core::context::{BoxFuture, Context, TokenValidator};
use oxistack_core::db::{self, Migration, Migrations, Pool};
use oxistack_core::error::{Error, Result};

use crate::token::TokenKey;

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &[
        Migration { version: 1, sql: include_str!("../migrations/sqlite/0001_identity.sql") },
        Migration { version: 2, sql: include_str!("../migrations/sqlite/0002_security_compliance.sql") },
        Migration { version: 3, sql: include_str!("../migrations/sqlite/0003_credentials.sql") },
    ],
    postgres: &[
        Migration { version: 1, sql: include_str!("../migrations/postgres/0001_identity.sql") },
        Migration { version: 2, sql: include_str!("../migrations/postgres/0002_credentials.sql") },
    ],
};

/// The id Keystone gives the default domain.
pub const DEFAULT_DOMAIN_ID: &str = "default";
pub const DEFAULT_REGION: &str = "RegionOne";

#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// How long a token lives.
    pub token_ttl_secs: i64,
    /// The base URL clients reach this server at, e.g. `http://127.0.0.1:5000`.
    pub public_url: String,
    pub security_compliance: compliance::SecurityCompliance,
}

impl IdentityConfig {
    /// Where Identity is served: `{public_url}/identity`.
    pub fn identity_url(&self) -> String {
        format!("{}/identity", self.public_url.trim_end_matches('/'))
    }
}

/// The Identity service.
pub struct Identity {
    pub pool: Pool,
    pub config: IdentityConfig,
    key: TokenKey,
}

impl Identity {
    /// Opens Identity on a migrated store, creating the token signing key the
    /// first time (kept in the store so that every server of the cloud shares it).
    pub async fn open(pool: Pool, config: IdentityConfig) -> anyhow::Result<Arc<Self>> {
        db::migrate(&pool, "identity", &MIGRATIONS).await?;
        let key = match db::get_setting(&pool, "identity.token_key").await?.and_then(|k| TokenKey::from_encoded(&k)) {
            Some(k) => k,
            None => {
                let k = TokenKey::generate();
                db::set_setting(&pool, "identity.token_key", &k.encoded()).await?;
                k
            }
        };
        Ok(Arc::new(Identity { pool, config, key }))
    }

    /// Drops revocation events that can no longer match a live token.
    pub async fn prune(&self) -> Result<u64> {
        store::prune_revocations(&self.pool, oxistack_core::time::micros(oxistack_core::time::now())).await
    }
}

impl TokenValidator for Identity {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Context>> {
        Box::pin(async move {
            match Identity::validate(self, token).await {
                Ok(v) => Ok(v.context()),
                Err(Error::Internal(e)) => Err(Error::Internal(e)),
                Err(_) => Err(Error::Unauthorized("The request you have made requires authentication.".into())),
            }
        })
    }

    fn ec2_credential<'a>(&'a self, access: &'a str) -> BoxFuture<'a, Result<Option<(String, Context)>>> {
        Box::pin(self.ec2_context(access))
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
