//! Topologies made for users: DevStack's at bootstrap (`public`, `private`
//! and a router between them) and Neutron's auto-allocated one per project.

use serde_json::{json, Value};

use oxistack_core::context::{Context, Scope};

use crate::store::{self, NetworkRow};
use crate::{owns, Network, NeutronError, Result};

pub const AUTO_ALLOCATED: &str = "auto_allocated_network";

/// The service acting for `project` with admin rights.
pub fn acting_for(project: &str) -> Context {
    Context {
        user_id: String::new(),
        user_name: "network-service".into(),
        user_domain_id: "default".into(),
        scope: Scope::Project {
            id: project.into(),
            name: String::new(),
            domain_id: "default".into(),
            domain_name: "Default".into(),
        },
        roles: vec!["admin".into(), "member".into(), "reader".into()],
        audit_ids: vec![],
        request_id: "req-network-service".into(),
        restricted: false,
    }
}

fn body(v: Value) -> crate::attrs::Body {
    v.as_object().cloned().unwrap_or_default()
}

impl Network {
    /// On a cloud with no network yet: DevStack's `public` (external, its
    /// subnet the public range), the admin project's `private` with
    /// `private-subnet`, and `router1` joining them.
    pub async fn bootstrap(&self, admin_project: &str) -> Result<()> {
        let existing: Vec<NetworkRow> = store::all(&self.pool, "networks").await?;
        if !existing.is_empty() {
            return Ok(());
        }
        let ctx = acting_for(admin_project);
        let public = self
            .create_network(
                &ctx,
                &body(json!({"name": "public", "router:external": true, "is_default": true,
                "provider:network_type": "flat", "provider:physical_network": "public"})),
            )
            .await?;
        self.create_subnet(
            &ctx,
            &body(json!({"name": "public-subnet", "network_id": public["id"],
            "cidr": self.config.public_cidr, "ip_version": 4, "enable_dhcp": false})),
        )
        .await?;
        let private = self.create_network(&ctx, &body(json!({"name": "private"}))).await?;
        let subnet = self
            .create_subnet(
                &ctx,
                &body(json!({"name": "private-subnet", "network_id": private["id"],
                "cidr": self.config.private_cidr, "ip_version": 4})),
            )
            .await?;
        let router = self
            .create_router(
                &ctx,
                &body(json!({"name": "router1",
                "external_gateway_info": {"network_id": public["id"]}})),
            )
            .await?;
        self.add_interface(&ctx, router["id"].as_str().unwrap_or_default(), &body(json!({"subnet_id": subnet["id"]})))
            .await?;
        // What every DevStack guide does next, so the walk-through's SSH works:
        // the admin project's default group lets in SSH and ping.
        let group = self.default_security_group(admin_project).await?;
        for rule in
            [json!({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}), json!({"protocol": "icmp"})]
        {
            let mut rule = body(rule);
            rule.insert("security_group_id".into(), json!(group));
            rule.insert("remote_ip_prefix".into(), json!("0.0.0.0/0"));
            self.create_rule(&ctx, &rule).await?;
        }
        tracing::info!(public = %self.config.public_cidr, private = %self.config.private_cidr,
            "created the networks public and private, router1 between them, and SSH and ping rules in the admin project's default security group");
        Ok(())
    }

    /// The default external network: the one marked default, else the first.
    pub async fn default_external(&self) -> Result<Option<NetworkRow>> {
        let all: Vec<NetworkRow> = store::all(&self.pool, "networks").await?;
        let external: Vec<NetworkRow> = all.into_iter().filter(|n| n.external).collect();
        Ok(external.iter().find(|n| n.is_default).or(external.first()).cloned())
    }

    /// `GET /v2.0/auto-allocated-topology/{project}`: the project's network
    /// for `networks: "auto"`, made with a subnet and a router to the
    /// default external network on first use.
    pub async fn auto_allocate(&self, ctx: &Context, project: &str) -> Result<String> {
        if !owns(ctx, project) {
            return Err(NeutronError::policy("get", "auto_allocated_topology"));
        }
        let found = store::networks::network_ids_named(&self.pool, project, AUTO_ALLOCATED).await?.into_iter().next();
        if let Some(id) = found {
            return Ok(id);
        }
        let external = self.default_external().await?.ok_or_else(|| {
            NeutronError::conflict("AutoAllocationFailure", "Deployment error: No default router:external network.")
        })?;
        let acting = acting_for(project);
        let net = self.create_network(&acting, &body(json!({"name": AUTO_ALLOCATED}))).await?;
        let subnet = self
            .create_subnet(
                &acting,
                &body(json!({"name": "auto_allocated_subnet_v4", "network_id": net["id"],
                "cidr": "10.128.0.0/24", "ip_version": 4})),
            )
            .await?;
        let router = self
            .create_router(
                &acting,
                &body(json!({"name": "auto_allocated_router",
                "external_gateway_info": {"network_id": external.id}})),
            )
            .await?;
        self.add_interface(
            &acting,
            router["id"].as_str().unwrap_or_default(),
            &body(json!({"subnet_id": subnet["id"]})),
        )
        .await?;
        Ok(net["id"].as_str().unwrap_or_default().to_owned())
    }

    pub async fn delete_auto_allocated(&self, ctx: &Context, project: &str) -> Result<()> {
        if !owns(ctx, project) {
            return Err(NeutronError::policy("delete", "auto_allocated_topology"));
        }
        let acting = acting_for(project);
        let routers = store::routers::auto_allocated_routers(&self.pool, project).await?;
        let nets = store::networks::network_ids_named(&self.pool, project, AUTO_ALLOCATED).await?;
        for r in &routers {
            for n in &nets {
                for s in self.subnets_of(n).await? {
                    let _ = self.remove_interface(&acting, r, &body(json!({"subnet_id": s.id}))).await;
                }
            }
            self.delete_router(&acting, r).await?;
        }
        for n in nets {
            self.delete_network(&acting, &n).await?;
        }
        Ok(())
    }
}
