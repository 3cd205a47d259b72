//! The service catalog: what tokens carry, and the bootstrap of a new cloud
//! (`keystone-manage bootstrap`): default domain, admin project and user, the
//! admin ⇒ member ⇒ reader roles, the region, and one catalog entry per service.

use serde_json::{json, Value};

use oxistack_core::db;
use oxistack_core::error::Result;

use crate::store::{self, Assignment, Domain, Endpoint, Filter, Project, Region, Role, Service, User};
use crate::{new_id, password, Identity, DEFAULT_DOMAIN_ID, DEFAULT_REGION};

/// A service this server serves, for the catalog.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub service_type: String,
    pub name: String,
    pub url: String,
}

pub const INTERFACES: [&str; 3] = ["public", "internal", "admin"];

/// An endpoint's URL for a token of `project`, as Keystone formats it:
/// `$(project_id)s`, `%(project_id)s` and their `tenant_id` forms become
/// the project's id (Swift's `.../v1/AUTH_%(project_id)s`); a URL that
/// names the project is left out of a token without one.
fn url_for(url: &str, project: Option<&str>) -> Option<String> {
    const NAMES: [&str; 4] = ["$(project_id)s", "%(project_id)s", "$(tenant_id)s", "%(tenant_id)s"];
    if !NAMES.iter().any(|n| url.contains(n)) {
        return Some(url.to_owned());
    }
    let project = project?;
    Some(NAMES.iter().fold(url.to_owned(), |u, n| u.replace(n, project)))
}

impl Identity {
    /// The v3 catalog for a token of `project`: enabled services with
    /// their enabled endpoints.
    pub async fn catalog_v3(&self, project: Option<&str>) -> Result<Value> {
        let (services, endpoints) = self.enabled_catalog(project).await?;
        Ok(services
            .iter()
            .map(|s| {
                let eps: Vec<Value> = endpoints
                    .iter()
                    .filter(|e| e.service_id == s.id)
                    .map(|e| {
                        json!({"id": e.id, "interface": e.interface, "region": e.region_id,
                               "region_id": e.region_id, "url": e.url})
                    })
                    .collect();
                json!({"endpoints": eps, "id": s.id, "type": s.service_type, "name": s.name})
            })
            .collect())
    }

    /// The v2.0 `serviceCatalog` for a token of `project`: one entry per
    /// service and region, with the three interfaces as `publicURL`,
    /// `internalURL` and `adminURL`.
    pub async fn catalog_v2(&self, project: &str) -> Result<Value> {
        let (services, endpoints) = self.enabled_catalog(Some(project)).await?;
        Ok(services
            .iter()
            .map(|s| {
                let mut regions: Vec<Option<String>> = vec![];
                for e in endpoints.iter().filter(|e| e.service_id == s.id) {
                    if !regions.contains(&e.region_id) {
                        regions.push(e.region_id.clone());
                    }
                }
                let eps: Vec<Value> = regions
                    .iter()
                    .map(|r| {
                        let mut ep = json!({"region": r, "id": s.id});
                        for e in endpoints.iter().filter(|e| e.service_id == s.id && &e.region_id == r) {
                            ep[format!("{}URL", e.interface)] = json!(e.url);
                        }
                        ep
                    })
                    .collect();
                json!({"endpoints": eps, "endpoints_links": [], "type": s.service_type, "name": s.name})
            })
            .collect())
    }

    /// The enabled services and their enabled endpoints, with the URLs as
    /// a token of `project` has them (those it cannot have are left out).
    async fn enabled_catalog(&self, project: Option<&str>) -> Result<(Vec<Service>, Vec<Endpoint>)> {
        let services =
            store::list::<Service>(&self.pool, "services", Filter::default().flag("enabled", Some(true))).await?;
        let endpoints =
            store::list::<Endpoint>(&self.pool, "endpoints", Filter::default().flag("enabled", Some(true))).await?;
        let endpoints =
            endpoints.into_iter().filter_map(|e| Some(Endpoint { url: url_for(&e.url, project)?, ..e })).collect();
        Ok((services, endpoints))
    }

    /// Creates what a new cloud needs, and nothing that exists already. When
    /// `admin_password` is given it becomes the admin's password, as
    /// `keystone-manage bootstrap --bootstrap-password` does.
    pub async fn bootstrap(&self, admin_password: Option<&str>, services: &[CatalogEntry]) -> anyhow::Result<()> {
        let pool = &self.pool;
        if store::find::<Domain>(pool, "domains", DEFAULT_DOMAIN_ID).await?.is_none() {
            store::insert_domain(
                pool,
                &Domain {
                    id: DEFAULT_DOMAIN_ID.into(),
                    name: "Default".into(),
                    description: "The default domain".into(),
                    enabled: true,
                    tags: "[]".into(),
                },
            )
            .await?;
        }
        let project = match store::find_project_by_name(pool, DEFAULT_DOMAIN_ID, "admin").await? {
            Some(p) => p,
            None => {
                let p = Project {
                    id: new_id(),
                    name: "admin".into(),
                    domain_id: DEFAULT_DOMAIN_ID.into(),
                    parent_id: None,
                    description: "Bootstrap project for initializing the cloud.".into(),
                    enabled: true,
                    tags: "[]".into(),
                };
                store::insert_project(pool, &p).await?;
                p
            }
        };
        let mut role_ids = vec![];
        for name in ["admin", "member", "reader"] {
            let role = match store::find_role_by_name(pool, name).await? {
                Some(r) => r,
                None => {
                    let r =
                        Role { id: new_id(), name: name.into(), domain_id: String::new(), description: String::new() };
                    store::insert_role(pool, &r).await?;
                    r
                }
            };
            role_ids.push(role.id);
        }
        store::insert_implied_role(pool, &role_ids[0], &role_ids[1]).await?;
        store::insert_implied_role(pool, &role_ids[1], &role_ids[2]).await?;

        let admin_user = match store::find_user_by_name(pool, DEFAULT_DOMAIN_ID, "admin").await? {
            Some(mut u) => {
                if let Some(pw) = admin_password {
                    if !password::matches(pw, u.password_hash.as_deref()).await.unwrap_or(false) {
                        u.password_hash = Some(password::hash(pw).await?);
                        store::update_user(pool, &u).await?;
                        self.revoke_user_tokens(&u.id).await?;
                    }
                }
                u
            }
            None => {
                let u = User {
                    id: new_id(),
                    name: "admin".into(),
                    domain_id: DEFAULT_DOMAIN_ID.into(),
                    enabled: true,
                    password_hash: match admin_password {
                        Some(pw) => Some(password::hash(pw).await?),
                        None => None,
                    },
                    default_project_id: None,
                    extra: "{}".into(),
                };
                store::insert_user(pool, &u).await?;
                u
            }
        };
        for (target_type, target_id) in [("project", project.id.as_str()), ("system", "all")] {
            store::insert_assignment(
                pool,
                &Assignment {
                    actor_type: "user".into(),
                    actor_id: admin_user.id.clone(),
                    target_type: target_type.into(),
                    target_id: target_id.into(),
                    role_id: role_ids[0].clone(),
                    inherited: false,
                },
            )
            .await?;
        }
        if store::find::<Region>(pool, "regions", DEFAULT_REGION).await?.is_none() {
            store::insert_region(
                pool,
                &Region { id: DEFAULT_REGION.into(), description: String::new(), parent_region_id: None },
            )
            .await?;
        }
        self.ensure_catalog(services).await
    }

    /// Adds the catalog entries of the served services that are missing, and moves
    /// the existing ones when the public URL changed since the last start.
    async fn ensure_catalog(&self, services: &[CatalogEntry]) -> anyhow::Result<()> {
        let pool = &self.pool;
        let public = self.config.public_url.trim_end_matches('/').to_owned();
        if let Some(old) = db::get_setting(pool, "identity.catalog_public_url").await? {
            if old != public {
                store::move_endpoints(pool, &old, &public).await?;
                tracing::info!(from = %old, to = %public, "moved catalog endpoints to the new public URL");
            }
        }
        db::set_setting(pool, "identity.catalog_public_url", &public).await?;
        let existing = store::list::<Service>(pool, "services", Filter::default()).await?;
        for entry in services {
            let service = match existing.iter().find(|s| s.service_type == entry.service_type) {
                Some(s) => s.clone(),
                None => {
                    let s = Service {
                        id: new_id(),
                        service_type: entry.service_type.clone(),
                        name: entry.name.clone(),
                        description: String::new(),
                        enabled: true,
                    };
                    store::insert_service(pool, &s).await?;
                    s
                }
            };
            let eps = store::list::<Endpoint>(pool, "endpoints", Filter::default().eq("service_id", Some(&service.id)))
                .await?;
            for interface in INTERFACES {
                if !eps.iter().any(|e| e.interface == interface) {
                    store::insert_endpoint(
                        pool,
                        &Endpoint {
                            id: new_id(),
                            service_id: service.id.clone(),
                            interface: interface.into(),
                            region_id: Some(DEFAULT_REGION.into()),
                            url: entry.url.clone(),
                            enabled: true,
                        },
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::url_for;

    #[test]
    fn a_url_naming_the_project_is_formatted_for_it() {
        assert_eq!(
            url_for("http://h/object/v1/AUTH_%(project_id)s", Some("p1")).unwrap(),
            "http://h/object/v1/AUTH_p1"
        );
        assert_eq!(url_for("http://h/v2/$(tenant_id)s", Some("p1")).unwrap(), "http://h/v2/p1");
        assert_eq!(url_for("http://h/object/v1/AUTH_%(project_id)s", None), None);
        assert_eq!(url_for("http://h/compute/v2.1", None).unwrap(), "http://h/compute/v2.1");
    }
}
