//! The catalog's regions, services and endpoints as admins change them and
//! readers list them.

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::catalog::INTERFACES;
use crate::store::{self, Endpoint, Filter, Region, Service};
use crate::{new_id, policy, Identity};

/// A region to create, or a change to one (`None`: as it is).
#[derive(Debug, Default)]
pub struct RegionFields<'a> {
    /// At creation: the region's id, or one is made.
    pub id: Option<&'a str>,
    pub description: Option<&'a str>,
    /// `Some(None)` clears it.
    pub parent_region_id: Option<Option<&'a str>>,
}

/// A service to create, or a change to one.
#[derive(Debug, Default)]
pub struct ServiceFields<'a> {
    pub service_type: Option<&'a str>,
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
}

/// An endpoint to create, or a change to one.
#[derive(Debug, Default)]
pub struct EndpointFields<'a> {
    pub interface: Option<&'a str>,
    pub service_id: Option<&'a str>,
    pub region_id: Option<&'a str>,
    pub url: Option<&'a str>,
    pub enabled: Option<bool>,
}

impl Identity {
    pub async fn list_regions(&self, parent_region_id: Option<&str>) -> Result<Vec<Region>> {
        store::list::<Region>(&self.pool, "regions", Filter::default().eq("parent_region_id", parent_region_id)).await
    }

    pub async fn region(&self, rid: &str) -> Result<Region> {
        store::get(&self.pool, "regions", "region", rid).await
    }

    async fn check_parent(&self, parent: Option<&str>) -> Result<()> {
        if let Some(p) = parent {
            let _: Region = store::get(&self.pool, "regions", "region", p).await?;
        }
        Ok(())
    }

    /// Creates the region the request describes (read as for
    /// [`Identity::create_user`]).
    pub async fn create_region<E: From<Error>>(
        &self,
        ctx: &Context,
        asked: std::result::Result<RegionFields<'_>, E>,
    ) -> std::result::Result<Region, E> {
        policy::admin(ctx, "identity:create_region")?;
        let new = asked?;
        let r = Region {
            id: new.id.map(String::from).unwrap_or_else(new_id),
            description: new.description.unwrap_or("").into(),
            parent_region_id: new.parent_region_id.flatten().map(String::from),
        };
        self.check_parent(r.parent_region_id.as_deref()).await?;
        store::insert_region(&self.pool, &r).await?;
        Ok(r)
    }

    pub async fn update_region<E: From<Error>>(
        &self,
        ctx: &Context,
        rid: &str,
        asked: std::result::Result<RegionFields<'_>, E>,
    ) -> std::result::Result<Region, E> {
        policy::admin(ctx, "identity:update_region")?;
        let change = asked?;
        let mut r: Region = store::get(&self.pool, "regions", "region", rid).await?;
        if let Some(d) = change.description {
            r.description = d.into();
        }
        if let Some(parent) = change.parent_region_id {
            if parent == Some(rid) {
                return Err(Error::BadRequest("A region cannot be its own parent.".into()).into());
            }
            self.check_parent(parent).await?;
            r.parent_region_id = parent.map(String::from);
        }
        store::update_region(&self.pool, &r).await?;
        Ok(r)
    }

    /// Deletes a region no endpoint or child region uses.
    pub async fn delete_region(&self, ctx: &Context, rid: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_region")?;
        store::delete(&self.pool, "regions", "region", rid).await.map_err(|e| match e {
            Error::Internal(_) => Error::Forbidden(format!("Region {rid} is in use by endpoints or child regions.")),
            other => other,
        })
    }

    pub async fn list_services(
        &self,
        ctx: &Context,
        service_type: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<Service>> {
        policy::reader(ctx, "identity:list_services", None)?;
        let filter = Filter::default().eq("type", service_type).eq("name", name);
        store::list::<Service>(&self.pool, "services", filter).await
    }

    pub async fn service(&self, ctx: &Context, sid: &str) -> Result<Service> {
        policy::reader(ctx, "identity:get_service", None)?;
        store::get(&self.pool, "services", "service", sid).await
    }

    pub async fn create_service<E: From<Error>>(
        &self,
        ctx: &Context,
        asked: std::result::Result<ServiceFields<'_>, E>,
    ) -> std::result::Result<Service, E> {
        policy::admin(ctx, "identity:create_service")?;
        let new = asked?;
        let s = Service {
            id: new_id(),
            service_type: new.service_type.unwrap_or_default().into(),
            name: new.name.unwrap_or("").into(),
            description: new.description.unwrap_or("").into(),
            enabled: new.enabled.unwrap_or(true),
        };
        store::insert_service(&self.pool, &s).await?;
        Ok(s)
    }

    pub async fn update_service<E: From<Error>>(
        &self,
        ctx: &Context,
        sid: &str,
        asked: std::result::Result<ServiceFields<'_>, E>,
    ) -> std::result::Result<Service, E> {
        policy::admin(ctx, "identity:update_service")?;
        let change = asked?;
        let mut s: Service = store::get(&self.pool, "services", "service", sid).await?;
        if let Some(t) = change.service_type {
            s.service_type = t.into();
        }
        if let Some(n) = change.name {
            s.name = n.into();
        }
        if let Some(d) = change.description {
            s.description = d.into();
        }
        if let Some(e) = change.enabled {
            s.enabled = e;
        }
        store::update_service(&self.pool, &s).await?;
        Ok(s)
    }

    pub async fn delete_service(&self, ctx: &Context, sid: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_service")?;
        store::delete(&self.pool, "services", "service", sid).await
    }

    pub async fn list_endpoints(
        &self,
        ctx: &Context,
        service_id: Option<&str>,
        interface: Option<&str>,
        region_id: Option<&str>,
    ) -> Result<Vec<Endpoint>> {
        policy::reader(ctx, "identity:list_endpoints", None)?;
        let filter =
            Filter::default().eq("service_id", service_id).eq("interface", interface).eq("region_id", region_id);
        store::list::<Endpoint>(&self.pool, "endpoints", filter).await
    }

    pub async fn endpoint(&self, ctx: &Context, eid: &str) -> Result<Endpoint> {
        policy::reader(ctx, "identity:get_endpoint", None)?;
        store::get(&self.pool, "endpoints", "endpoint", eid).await
    }

    /// Applies `f` onto `e`: an interface of Keystone's three, a service and
    /// a region that exist.
    async fn apply_endpoint(&self, f: EndpointFields<'_>, e: &mut Endpoint) -> Result<()> {
        if let Some(i) = f.interface {
            if !INTERFACES.contains(&i) {
                return Err(Error::BadRequest(format!(
                    "Invalid input for field/attribute: interface. '{i}' does not match '^(?:admin|internal|public)*$'"
                )));
            }
            e.interface = i.into();
        }
        if let Some(s) = f.service_id {
            let _: Service = store::get(&self.pool, "services", "service", s).await?;
            e.service_id = s.into();
        }
        if let Some(r) = f.region_id {
            let _: Region = store::get(&self.pool, "regions", "region", r).await?;
            e.region_id = Some(r.into());
        }
        if let Some(u) = f.url {
            e.url = u.into();
        }
        if let Some(en) = f.enabled {
            e.enabled = en;
        }
        Ok(())
    }

    pub async fn create_endpoint<E: From<Error>>(
        &self,
        ctx: &Context,
        asked: std::result::Result<EndpointFields<'_>, E>,
    ) -> std::result::Result<Endpoint, E> {
        policy::admin(ctx, "identity:create_endpoint")?;
        let new = asked?;
        let mut e = Endpoint {
            id: new_id(),
            service_id: String::new(),
            interface: String::new(),
            region_id: None,
            url: String::new(),
            enabled: true,
        };
        self.apply_endpoint(new, &mut e).await?;
        store::insert_endpoint(&self.pool, &e).await?;
        Ok(e)
    }

    pub async fn update_endpoint<E: From<Error>>(
        &self,
        ctx: &Context,
        eid: &str,
        asked: std::result::Result<EndpointFields<'_>, E>,
    ) -> std::result::Result<Endpoint, E> {
        policy::admin(ctx, "identity:update_endpoint")?;
        let change = asked?;
        let mut e: Endpoint = store::get(&self.pool, "endpoints", "endpoint", eid).await?;
        self.apply_endpoint(change, &mut e).await?;
        store::update_endpoint(&self.pool, &e).await?;
        Ok(e)
    }

    pub async fn delete_endpoint(&self, ctx: &Context, eid: &str) -> Result<()> {
        policy::admin(ctx, "identity:delete_endpoint")?;
        store::delete(&self.pool, "endpoints", "endpoint", eid).await
    }
}
