//! Flavors: who sees which (public ones, private ones shared with a
//! project, all for admins), their extra specs and access lists.

use serde_json::{Map, Value};

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::store::{self, Flavor};
use crate::Compute;

/// What a flavor list narrows to (`is_public`, `minRam`, `minDisk`).
#[derive(Debug, Default)]
pub struct FlavorFilter {
    /// `none` or `false` (admins only; others always see the public ones
    /// and those shared with their project), lower case.
    pub is_public: Option<String>,
    pub min_ram: i64,
    pub min_disk: i64,
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("Flavor {id} could not be found."))
}

impl Compute {
    pub async fn flavor(&self, id: &str) -> Result<Flavor> {
        store::find_flavor(&self.pool, id).await?.ok_or_else(|| not_found(id))
    }

    /// A flavor `project` may use and see: public, or private and shared
    /// with it (admins see all). Others are 404, as if absent.
    pub async fn usable_flavor(&self, ctx: &Context, project: Option<&str>, id: &str) -> Result<Flavor> {
        let flavor = self.flavor(id).await?;
        if flavor.is_public || ctx.is_admin() {
            return Ok(flavor);
        }
        match project {
            Some(p) if store::flavors_shared_with(&self.pool, p).await?.contains(&flavor.id) => Ok(flavor),
            _ => Err(not_found(id)),
        }
    }

    /// The flavors the caller sees, narrowed by `filter`.
    pub async fn flavors(&self, ctx: &Context, filter: &FlavorFilter) -> Result<Vec<Flavor>> {
        let shared = match ctx.project_id() {
            Some(p) => store::flavors_shared_with(&self.pool, p).await?,
            None => vec![],
        };
        Ok(store::flavors(&self.pool)
            .await?
            .into_iter()
            .filter(|f| match (ctx.is_admin(), filter.is_public.as_deref()) {
                (true, Some("none")) => true,
                (true, Some("false")) => !f.is_public,
                _ => f.is_public || shared.contains(&f.id),
            })
            .filter(|f| f.ram >= filter.min_ram && f.disk >= filter.min_disk)
            .collect())
    }

    pub async fn create_flavor(&self, flavor: &Flavor) -> Result<()> {
        if flavor.vcpus < 1 || flavor.ram < 1 {
            return Err(Error::BadRequest(
                "Invalid input for field/attribute: vcpus and ram must be at least 1.".into(),
            ));
        }
        store::insert_flavor(&self.pool, flavor).await
    }

    pub async fn delete_flavor(&self, id: &str) -> Result<()> {
        if !store::delete_flavor(&self.pool, id).await? {
            return Err(not_found(id));
        }
        Ok(())
    }

    /// Replaces the flavor's extra specs.
    pub async fn set_extra_specs(&self, id: &str, specs: &Map<String, Value>) -> Result<()> {
        store::set_extra_specs(&self.pool, id, specs).await
    }

    /// The projects a private flavor is shared with; a public one has no list.
    pub async fn flavor_access(&self, id: &str) -> Result<Vec<String>> {
        if self.flavor(id).await?.is_public {
            return Err(Error::NotFound("Access list not available for public flavors.".into()));
        }
        store::flavor_access(&self.pool, id).await
    }

    /// Shares a private flavor with `project`, or (`grant` false) stops
    /// sharing it; the access list after the change.
    pub async fn change_flavor_access(&self, id: &str, project: &str, grant: bool) -> Result<Vec<String>> {
        if self.flavor(id).await?.is_public {
            return Err(Error::Conflict("Can not add access to a public flavor.".into()));
        }
        if grant {
            store::add_flavor_access(&self.pool, id, project).await?;
        } else if !store::remove_flavor_access(&self.pool, id, project).await? {
            return Err(Error::NotFound(format!("Flavor access not found for {id} / {project} combination.")));
        }
        store::flavor_access(&self.pool, id).await
    }
}
