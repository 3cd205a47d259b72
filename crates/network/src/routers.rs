//! Routers (gateway on an external network, interfaces on subnets) and
//! floating IPs (an address of an external network's subnet, associated
//! with a port's fixed address).

use std::collections::HashMap;

use serde_json::{json, Value};

use oxistack_core::context::Context;

use crate::attrs::{self, Body};
use crate::ports::{FLOATING_IP, ROUTER_GATEWAY, ROUTER_INTERFACE};
use crate::store::{self, Allocation, FloatingIpRow, NetworkRow, PortRow, RouterRow, SubnetRow};
use crate::{new_id, now, owner, owns, Network, NeutronError, Result};

pub fn router_not_found(id: &str) -> NeutronError {
    NeutronError::not_found("RouterNotFound", format!("Router {id} could not be found."))
}

pub fn floating_ip_not_found(id: &str) -> NeutronError {
    NeutronError::not_found("FloatingIPNotFound", format!("Floating IP {id} could not be found"))
}

fn router_view(r: &RouterRow, gateway_ips: &[&Allocation]) -> Value {
    let gateway = r.gw_network_id.as_ref().map(|n| {
        json!({"network_id": n, "enable_snat": r.enable_snat,
               "external_fixed_ips": gateway_ips.iter().map(|a| json!({"subnet_id": a.subnet_id, "ip_address": a.ip_address})).collect::<Vec<_>>()})
    });
    json!({
        "id": r.id, "name": r.name, "description": r.description, "project_id": r.project_id,
        "tenant_id": r.project_id, "admin_state_up": r.admin_state_up, "status": r.status,
        "external_gateway_info": gateway, "routes": store::json_list(&r.routes),
        "availability_zone_hints": [], "availability_zones": ["nova"], "flavor_id": null,
        "tags": store::string_list(&r.tags), "revision_number": r.revision_number,
        "created_at": r.created_at, "updated_at": r.updated_at,
    })
}

fn floating_ip_view(f: &FloatingIpRow, port: Option<&PortRow>) -> Value {
    let details = port.map(|p| {
        json!({"name": p.name, "network_id": p.network_id, "mac_address": p.mac_address,
               "admin_state_up": p.admin_state_up, "status": p.status, "device_id": p.device_id,
               "device_owner": p.device_owner})
    });
    json!({
        "id": f.id, "project_id": f.project_id, "tenant_id": f.project_id, "description": f.description,
        "floating_network_id": f.floating_network_id, "floating_ip_address": f.floating_ip_address,
        "fixed_ip_address": f.fixed_ip_address, "port_id": f.port_id, "router_id": f.router_id,
        "status": f.status, "port_details": details, "dns_domain": "", "dns_name": "",
        "qos_policy_id": null, "port_forwardings": [],
        "tags": store::string_list(&f.tags), "revision_number": f.revision_number,
        "created_at": f.created_at, "updated_at": f.updated_at,
    })
}

impl Network {
    async fn external_network(&self, ctx: &Context, id: &str) -> Result<NetworkRow> {
        let n = self.network(ctx, id).await?;
        if !n.external {
            return Err(NeutronError::bad_request(format!(
                "Bad floatingip request: Network {id} is not a valid external network."
            )));
        }
        Ok(n)
    }

    /// A port of the service itself on `network` (owned by no project, as
    /// Neutron's gateway and floating IP ports are).
    async fn service_port(
        &self,
        network: &NetworkRow,
        owner: &str,
        device: &str,
        ip: Option<String>,
    ) -> Result<PortRow> {
        let now = now();
        let mut p = PortRow {
            id: new_id(),
            network_id: network.id.clone(),
            name: String::new(),
            description: String::new(),
            project_id: String::new(),
            mac_address: String::new(),
            admin_state_up: true,
            status: "ACTIVE".into(),
            device_id: device.to_owned(),
            device_owner: owner.to_owned(),
            port_security_enabled: false,
            security_groups: "[]".into(),
            allowed_address_pairs: "[]".into(),
            binding_host_id: String::new(),
            binding_vnic_type: "normal".into(),
            binding_profile: "{}".into(),
            dns_name: String::new(),
            tags: "[]".into(),
            revision_number: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        let wanted = ip.map(|ip| vec![crate::ports::Wanted { subnet_id: None, ip_address: Some(ip) }]);
        self.insert_port(&mut p, network, wanted).await?;
        Ok(p)
    }

    async fn router_row(&self, ctx: &Context, id: &str) -> Result<RouterRow> {
        match store::get::<RouterRow>(&self.pool, "routers", id).await? {
            Some(r) if owns(ctx, &r.project_id) => Ok(r),
            _ => Err(router_not_found(id)),
        }
    }

    async fn render_router(&self, r: &RouterRow) -> Result<Value> {
        let ips = match &r.gw_port_id {
            Some(p) => store::port_allocations(&self.pool, p).await?,
            None => vec![],
        };
        Ok(router_view(r, &ips.iter().collect::<Vec<_>>()))
    }

    pub async fn list_routers(&self, ctx: &Context) -> Result<Vec<Value>> {
        let mut out = vec![];
        for r in store::all::<RouterRow>(&self.pool, "routers").await?.iter().filter(|r| owns(ctx, &r.project_id)) {
            out.push(self.render_router(r).await?);
        }
        Ok(out)
    }

    pub async fn show_router(&self, ctx: &Context, id: &str) -> Result<Value> {
        let r = self.router_row(ctx, id).await?;
        self.render_router(&r).await
    }

    /// Sets (or, with `None`, clears) a router's gateway.
    async fn set_gateway(&self, ctx: &Context, r: &RouterRow, info: Option<&Body>) -> Result<()> {
        if let Some(old) = &r.gw_port_id {
            if let Some(p) = store::get::<PortRow>(&self.pool, "ports", old).await? {
                self.remove_port(&p).await?;
            }
        }
        let (mut network, mut port, mut snat) = (None, None, true);
        // `{}` means no gateway, as `null` does (Neutron's converter).
        if let Some(info) = info.filter(|i| !i.is_empty()) {
            attrs::only(info, &["network_id", "enable_snat", "external_fixed_ips"])?;
            let id = attrs::string(info, "network_id")?.ok_or_else(|| {
                NeutronError::bad_request("Invalid input for external_gateway_info: network_id is required.")
            })?;
            let net = self.network(ctx, &id).await?;
            if !net.external {
                return Err(NeutronError::bad_request(format!(
                    "Bad router request: Network {id} is not an external network."
                )));
            }
            let ip = attrs::list(info, "external_fixed_ips")?
                .and_then(|l| l.first().and_then(|f| f.get("ip_address")).and_then(Value::as_str).map(String::from));
            let p = self.service_port(&net, ROUTER_GATEWAY, &r.id, ip).await?;
            snat = attrs::boolean(info, "enable_snat")?.unwrap_or(true);
            network = Some(id);
            port = Some(p.id);
        }
        store::routers::set_gateway(&self.pool, &r.id, network.as_deref(), port.as_deref(), snat).await
    }

    pub async fn create_router(&self, ctx: &Context, body: &Body) -> Result<Value> {
        attrs::only(
            body,
            &[
                "name",
                "description",
                "admin_state_up",
                "external_gateway_info",
                "project_id",
                "tenant_id",
                "availability_zone_hints",
                "distributed",
                "ha",
                "flavor_id",
                "tags",
            ],
        )?;
        let project = owner(ctx, body)?;
        self.check_quota(&project, "routers", "router").await?;
        let now = now();
        let r = RouterRow {
            id: new_id(),
            name: attrs::string(body, "name")?.unwrap_or_default(),
            description: attrs::string(body, "description")?.unwrap_or_default(),
            project_id: project,
            admin_state_up: attrs::boolean(body, "admin_state_up")?.unwrap_or(true),
            status: "ACTIVE".into(),
            gw_network_id: None,
            gw_port_id: None,
            enable_snat: true,
            routes: "[]".into(),
            tags: serde_json::to_string(&attrs::strings(body, "tags")?.unwrap_or_default()).unwrap_or_default(),
            revision_number: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        store::routers::insert_router(&self.pool, &r).await?;
        if let Some(Value::Object(info)) = body.get("external_gateway_info") {
            if let Err(e) = self.set_gateway(ctx, &r, Some(info)).await {
                store::delete(&self.pool, "routers", &r.id).await?;
                return Err(e);
            }
        }
        self.show_router(ctx, &r.id).await
    }

    pub async fn update_router(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let r = self.router_row(ctx, id).await?;
        attrs::only(body, &["name", "description", "admin_state_up", "external_gateway_info", "routes"])?;
        match body.get("external_gateway_info") {
            Some(Value::Object(info)) if !info.is_empty() => self.set_gateway(ctx, &r, Some(info)).await?,
            Some(Value::Null) | Some(Value::Object(_)) => self.set_gateway(ctx, &r, None).await?,
            Some(_) => return Err(NeutronError::bad_request("Invalid input for external_gateway_info.")),
            None => {}
        }
        let routes = match attrs::list(body, "routes")? {
            Some(routes) => {
                self.check_routes(id, &routes).await?;
                serde_json::to_string(&routes).unwrap_or_default()
            }
            None => r.routes.clone(),
        };
        let changed = RouterRow {
            name: attrs::string(body, "name")?.unwrap_or(r.name),
            description: attrs::string(body, "description")?.unwrap_or(r.description),
            admin_state_up: attrs::boolean(body, "admin_state_up")?.unwrap_or(r.admin_state_up),
            routes,
            ..r
        };
        store::routers::update_router(&self.pool, &changed).await?;
        store::touch(&self.pool, "routers", id, &now()).await?;
        self.show_router(ctx, id).await
    }

    /// Neutron's checks of extra routes: a CIDR and an address each, and a
    /// next hop on one of the subnets the router is attached to.
    async fn check_routes(&self, router: &str, routes: &[Value]) -> Result<()> {
        // (The router's own ports: its interfaces and its gateway.)
        let mut attached = vec![];
        for port in store::by::<PortRow>(&self.pool, "ports", "device_id", router).await? {
            for a in store::port_allocations(&self.pool, &port.id).await? {
                if let Some(s) = store::get::<SubnetRow>(&self.pool, "subnets", &a.subnet_id).await? {
                    attached.extend(crate::ipam::Cidr::parse(&s.cidr).ok());
                }
            }
        }
        for route in routes {
            let invalid = |why: &str| {
                NeutronError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "InvalidRoutes",
                    format!("Invalid format for routes: [{route}], {why}."),
                )
            };
            let destination = route.get("destination").and_then(Value::as_str).unwrap_or_default();
            let nexthop = route.get("nexthop").and_then(Value::as_str).unwrap_or_default();
            if crate::ipam::Cidr::parse(destination).is_err() {
                return Err(invalid(&format!("'{destination}' is not a valid IP subnet")));
            }
            let Ok(hop) = nexthop.parse::<std::net::IpAddr>() else {
                return Err(invalid(&format!("'{nexthop}' is not a valid IP address")));
            };
            let (version, n) = crate::ipam::to_number(hop);
            if !attached.iter().any(|c| c.version == version && c.contains(n)) {
                return Err(invalid("the nexthop is not connected with router"));
            }
        }
        Ok(())
    }

    pub async fn delete_router(&self, ctx: &Context, id: &str) -> Result<()> {
        let r = self.router_row(ctx, id).await?;
        let ports: Vec<PortRow> = store::by(&self.pool, "ports", "device_id", id).await?;
        if ports.iter().any(|p| p.device_owner == ROUTER_INTERFACE) {
            return Err(NeutronError::conflict("RouterInUse", format!("Router {id} still has ports")));
        }
        store::routers::unroute_floating_ips(&self.pool, id).await?;
        self.set_gateway(ctx, &r, None).await?;
        store::delete(&self.pool, "routers", id).await?;
        Ok(())
    }

    fn interface_info(r: &RouterRow, port: &PortRow, subnet: &str) -> Value {
        json!({"id": r.id, "project_id": r.project_id, "tenant_id": r.project_id, "port_id": port.id,
               "network_id": port.network_id, "subnet_id": subnet, "subnet_ids": [subnet], "tags": []})
    }

    /// `add_router_interface` with a subnet (the router takes its gateway
    /// address) or a port.
    pub async fn add_interface(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let r = self.router_row(ctx, id).await?;
        match (attrs::string(body, "subnet_id")?, attrs::string(body, "port_id")?) {
            (Some(subnet_id), None) => {
                let subnet = self.subnet(ctx, &subnet_id).await?;
                let gateway = subnet.gateway_ip.clone().ok_or_else(|| {
                    NeutronError::bad_request(format!(
                        "Bad router request: Subnet {subnet_id} does not have a gateway IP."
                    ))
                })?;
                let existing: Vec<PortRow> = store::by(&self.pool, "ports", "device_id", id).await?;
                for p in existing.iter().filter(|p| p.device_owner == ROUTER_INTERFACE) {
                    if store::port_allocations(&self.pool, &p.id).await?.iter().any(|a| a.subnet_id == subnet_id) {
                        return Err(NeutronError::bad_request(format!(
                            "Bad router request: Router already has a port on subnet {subnet_id}."
                        )));
                    }
                }
                let network = store::get::<NetworkRow>(&self.pool, "networks", &subnet.network_id)
                    .await?
                    .ok_or_else(|| crate::networks::network_not_found(&subnet.network_id))?;
                let mut port = self.service_port(&network, ROUTER_INTERFACE, id, Some(gateway)).await?;
                port.project_id = r.project_id.clone();
                store::ports::set_port_project(&self.pool, &port.id, &r.project_id).await?;
                store::touch(&self.pool, "routers", id, &now()).await?;
                Ok(Self::interface_info(&r, &port, &subnet_id))
            }
            (None, Some(port_id)) => {
                let port = self.port(ctx, &port_id).await?;
                if !port.device_id.is_empty() {
                    return Err(NeutronError::conflict("PortInUse", format!(
                        "Unable to complete operation on port {port_id} for network {}. Port already has an attached device {}.",
                        port.network_id, port.device_id
                    )));
                }
                let subnet = store::port_allocations(&self.pool, &port_id)
                    .await?
                    .first()
                    .map(|a| a.subnet_id.clone())
                    .ok_or_else(|| {
                        NeutronError::bad_request("Bad router request: Router port must have at least one fixed IP.")
                    })?;
                store::ports::attach_port(&self.pool, &port_id, id, ROUTER_INTERFACE).await?;
                store::touch(&self.pool, "routers", id, &now()).await?;
                Ok(Self::interface_info(&r, &port, &subnet))
            }
            _ => Err(NeutronError::bad_request("Bad router request: Either subnet_id or port_id must be specified.")),
        }
    }

    pub async fn remove_interface(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let r = self.router_row(ctx, id).await?;
        let ports: Vec<PortRow> = store::by(&self.pool, "ports", "device_id", id).await?;
        let (subnet, port_id) = (attrs::string(body, "subnet_id")?, attrs::string(body, "port_id")?);
        for p in ports.iter().filter(|p| p.device_owner == ROUTER_INTERFACE) {
            let allocations = store::port_allocations(&self.pool, &p.id).await?;
            let on_subnet = subnet.as_ref().is_some_and(|s| allocations.iter().any(|a| &a.subnet_id == s));
            if on_subnet || port_id.as_deref() == Some(p.id.as_str()) {
                let subnet_id = allocations.first().map(|a| a.subnet_id.clone()).unwrap_or_default();
                let info = Self::interface_info(&r, p, &subnet_id);
                self.remove_port(p).await?;
                store::touch(&self.pool, "routers", id, &now()).await?;
                return Ok(info);
            }
        }
        match (subnet, port_id) {
            (Some(s), _) => Err(NeutronError::not_found(
                "RouterInterfaceNotFoundForSubnet",
                format!("Router {id} has no interface on subnet {s}"),
            )),
            (None, Some(p)) => Err(NeutronError::not_found(
                "RouterInterfaceNotFound",
                format!("Router {id} does not have an interface with id {p}"),
            )),
            (None, None) => {
                Err(NeutronError::bad_request("Bad router request: Either subnet_id or port_id must be specified."))
            }
        }
    }

    async fn floating_ip_row(&self, ctx: &Context, id: &str) -> Result<FloatingIpRow> {
        match store::get::<FloatingIpRow>(&self.pool, "floatingips", id).await? {
            Some(f) if owns(ctx, &f.project_id) => Ok(f),
            _ => Err(floating_ip_not_found(id)),
        }
    }

    async fn render_floating_ip(&self, f: &FloatingIpRow) -> Result<Value> {
        let port = match &f.port_id {
            Some(p) => store::get::<PortRow>(&self.pool, "ports", p).await?,
            None => None,
        };
        Ok(floating_ip_view(f, port.as_ref()))
    }

    pub async fn list_floating_ips(&self, ctx: &Context) -> Result<Vec<Value>> {
        let ports: HashMap<String, PortRow> =
            store::all::<PortRow>(&self.pool, "ports").await?.into_iter().map(|p| (p.id.clone(), p)).collect();
        Ok(store::all::<FloatingIpRow>(&self.pool, "floatingips")
            .await?
            .iter()
            .filter(|f| owns(ctx, &f.project_id))
            .map(|f| floating_ip_view(f, f.port_id.as_ref().and_then(|p| ports.get(p))))
            .collect())
    }

    pub async fn show_floating_ip(&self, ctx: &Context, id: &str) -> Result<Value> {
        let f = self.floating_ip_row(ctx, id).await?;
        self.render_floating_ip(&f).await
    }

    /// Where a floating IP on `network` would send traffic for `port`:
    /// the port's first IPv4 address (or the one asked), and the router
    /// joining the port's subnet to that network, when there is one.
    async fn association(
        &self,
        ctx: &Context,
        floating: &FloatingIpRow,
        port_id: &str,
        fixed: Option<String>,
    ) -> Result<(PortRow, String, Option<String>)> {
        let port = self.port(ctx, port_id).await?;
        let allocations = store::port_allocations(&self.pool, port_id).await?;
        let chosen = allocations
            .iter()
            .find(|a| match &fixed {
                Some(f) => &a.ip_address == f,
                None => a.ip_address.contains('.'),
            })
            .ok_or_else(|| {
                NeutronError::bad_request(format!(
                    "Bad floatingip request: Port {port_id} does not have a fixed IPv4 address."
                ))
            })?;
        let taken = store::routers::floating_ip_on(&self.pool, port_id, &chosen.ip_address, &floating.id).await?;
        if taken.is_some() {
            return Err(NeutronError::conflict(
                "FloatingIPPortAlreadyAssociated",
                format!(
                    "Cannot associate floating IP {} ({}) with port {port_id} using fixed IP {}, as that fixed IP already has a floating IP on external network {}.",
                    floating.floating_ip_address, floating.id, chosen.ip_address, floating.floating_network_id
                ),
            ));
        }
        // The router: an interface on the port's subnet, a gateway on the floating network.
        let router = self
            .routers_on_subnet(&chosen.subnet_id)
            .await?
            .into_iter()
            .find(|r| r.gw_network_id.as_deref() == Some(floating.floating_network_id.as_str()))
            .map(|r| r.id);
        Ok((port, chosen.ip_address.clone(), router))
    }

    async fn associate(
        &self,
        ctx: &Context,
        f: &FloatingIpRow,
        port: Option<String>,
        fixed: Option<String>,
    ) -> Result<()> {
        let previous = match &f.port_id {
            Some(p) => store::get::<PortRow>(&self.pool, "ports", p).await?.map(|p| p.device_id),
            None => None,
        };
        let (port_id, fixed_ip, router, status, device) = match port {
            Some(port_id) => {
                let (port, fixed_ip, router) = self.association(ctx, f, &port_id, fixed).await?;
                (Some(port_id), Some(fixed_ip), router, "ACTIVE", Some(port.device_id))
            }
            None => (None, None, None, "DOWN", None),
        };
        store::routers::associate_floating_ip(
            &self.pool,
            &f.id,
            port_id.as_deref(),
            fixed_ip.as_deref(),
            router.as_deref(),
            status,
        )
        .await?;
        store::touch(&self.pool, "floatingips", &f.id, &now()).await?;
        for d in previous.iter().chain(device.iter()) {
            self.port_changed(d);
        }
        Ok(())
    }

    pub async fn create_floating_ip(&self, ctx: &Context, body: &Body) -> Result<Value> {
        attrs::only(
            body,
            &[
                "floating_network_id",
                "floating_ip_address",
                "subnet_id",
                "port_id",
                "fixed_ip_address",
                "description",
                "project_id",
                "tenant_id",
                "dns_domain",
                "dns_name",
                "qos_policy_id",
                "tags",
            ],
        )?;
        let network_id = attrs::string(body, "floating_network_id")?.ok_or_else(|| {
            NeutronError::bad_request("Failed to parse request. Required attribute 'floating_network_id' not specified")
        })?;
        let network = self.external_network(ctx, &network_id).await?;
        let project = owner(ctx, body)?;
        self.check_quota(&project, "floatingips", "floatingip").await?;
        let id = new_id();
        let port = self.service_port(&network, FLOATING_IP, &id, attrs::string(body, "floating_ip_address")?).await?;
        let address = store::port_allocations(&self.pool, &port.id)
            .await?
            .into_iter()
            .find(|a| a.ip_address.contains('.'))
            .map(|a| a.ip_address);
        let Some(address) = address else {
            self.remove_port(&port).await?;
            return Err(NeutronError::conflict(
                "IpAddressGenerationFailure",
                format!("No more IP addresses available on network {network_id}."),
            ));
        };
        let now = now();
        let f = FloatingIpRow {
            id,
            project_id: project,
            description: attrs::string(body, "description")?.unwrap_or_default(),
            floating_network_id: network_id,
            floating_ip_address: address,
            floating_port_id: port.id.clone(),
            port_id: None,
            fixed_ip_address: None,
            router_id: None,
            status: "DOWN".into(),
            tags: serde_json::to_string(&attrs::strings(body, "tags")?.unwrap_or_default()).unwrap_or_default(),
            revision_number: 0,
            created_at: now.clone(),
            updated_at: now,
        };
        store::routers::insert_floating_ip(&self.pool, &f).await?;
        if let Some(port_id) = attrs::string(body, "port_id")? {
            if let Err(e) = self.associate(ctx, &f, Some(port_id), attrs::string(body, "fixed_ip_address")?).await {
                store::delete(&self.pool, "floatingips", &f.id).await?;
                self.remove_port(&port).await?;
                return Err(e);
            }
        }
        self.show_floating_ip(ctx, &f.id).await
    }

    pub async fn update_floating_ip(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let f = self.floating_ip_row(ctx, id).await?;
        attrs::only(body, &["port_id", "fixed_ip_address", "description", "qos_policy_id"])?;
        if body.contains_key("port_id") {
            self.associate(ctx, &f, attrs::string(body, "port_id")?, attrs::string(body, "fixed_ip_address")?).await?;
        }
        if let Some(d) = attrs::string(body, "description")? {
            store::routers::set_floating_ip_description(&self.pool, id, &d).await?;
            store::touch(&self.pool, "floatingips", id, &now()).await?;
        }
        self.show_floating_ip(ctx, id).await
    }

    pub async fn delete_floating_ip(&self, ctx: &Context, id: &str) -> Result<()> {
        let f = self.floating_ip_row(ctx, id).await?;
        let device = match &f.port_id {
            Some(p) => store::get::<PortRow>(&self.pool, "ports", p).await?.map(|p| p.device_id),
            None => None,
        };
        store::delete(&self.pool, "floatingips", id).await?;
        if let Some(p) = store::get::<PortRow>(&self.pool, "ports", &f.floating_port_id).await? {
            self.remove_port(&p).await?;
        }
        if let Some(d) = device {
            self.port_changed(&d);
        }
        Ok(())
    }

    /// Gives `port` a floating address when its subnet is routed to an
    /// external network (nova-network's `auto_assign_floating_ip`, which
    /// makes a booted server reachable at once); `None` when it is not.
    pub async fn auto_floating_ip(&self, ctx: &Context, port: &str, description: &str) -> Result<Option<String>> {
        let Some(v4) =
            store::port_allocations(&self.pool, port).await?.into_iter().find(|a| a.ip_address.contains('.'))
        else {
            return Ok(None);
        };
        let routed = self.routers_on_subnet(&v4.subnet_id).await?.into_iter().find_map(|r| r.gw_network_id);
        let Some(external) = routed else { return Ok(None) };
        let body = json!({"floating_network_id": external, "port_id": port, "description": description});
        let created = self.create_floating_ip(ctx, body.as_object().unwrap_or(&Body::new())).await?;
        Ok(created["floating_ip_address"].as_str().map(String::from))
    }

    /// The routers with an interface on `subnet`, in the order they were plugged.
    async fn routers_on_subnet(&self, subnet: &str) -> Result<Vec<RouterRow>> {
        store::routers::routers_on_subnet(&self.pool, subnet, ROUTER_INTERFACE).await
    }

    /// Releases a port a server let go of: the floating IPs given to it
    /// automatically (`auto_description`) go, then the port is deleted, or
    /// only unbound when `keep` (a port the user made and handed to the
    /// server, as Nova's `preserve_on_delete`).
    pub async fn release_port(&self, port: &str, auto_description: &str, keep: bool) -> Result<()> {
        let Some(p) = store::get::<PortRow>(&self.pool, "ports", port).await? else { return Ok(()) };
        let given: Vec<FloatingIpRow> = store::by(&self.pool, "floatingips", "port_id", port).await?;
        for f in given.iter().filter(|f| f.description == auto_description) {
            store::delete(&self.pool, "floatingips", &f.id).await?;
            if let Some(fp) = store::get::<PortRow>(&self.pool, "ports", &f.floating_port_id).await? {
                self.remove_port(&fp).await?;
            }
        }
        if keep {
            store::ports::unbind_port(&self.pool, port, &now()).await?;
            return Ok(());
        }
        self.remove_port(&p).await
    }
}
