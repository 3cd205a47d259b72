//! Ports and their addresses. IPAM hands out the lowest free address of a
//! subnet's pools from the free ranges the store keeps; the primary key of
//! `ip_allocations` is what guarantees an address is never given twice.

use std::collections::HashMap;

use serde_json::{json, Value};

use oxistack_core::context::Context;
use oxistack_core::db::Param;

use crate::attrs::{self, Body};
use crate::ipam::{self, Cidr};
use crate::listing::{self, ApiColumn, Kind, Rows};
use crate::store::listing::ListQuery;
use crate::store::ports::PortColumn;
use crate::store::{self, Allocation, NetworkRow, PortRow, SubnetRow};
use crate::{new_id, now, owner, owns, Listed, Network, NeutronError, Result};

/// The port attributes that are columns, by their API names.
impl ApiColumn for PortColumn {
    fn of_attribute(key: &str) -> Option<PortColumn> {
        Some(match key {
            "id" => PortColumn::Id,
            "name" => PortColumn::Name,
            "description" => PortColumn::Description,
            "network_id" => PortColumn::NetworkId,
            "project_id" | "tenant_id" => PortColumn::ProjectId,
            "mac_address" => PortColumn::MacAddress,
            "admin_state_up" => PortColumn::AdminStateUp,
            "status" => PortColumn::Status,
            "device_id" => PortColumn::DeviceId,
            "device_owner" => PortColumn::DeviceOwner,
            "created_at" => PortColumn::CreatedAt,
            "updated_at" => PortColumn::UpdatedAt,
            _ => return None,
        })
    }

    fn kind(self) -> Kind {
        if self == PortColumn::AdminStateUp {
            Kind::Bool
        } else {
            Kind::Text
        }
    }
}

/// Device owners of ports the network service manages itself.
pub const ROUTER_INTERFACE: &str = "network:router_interface";
pub const ROUTER_GATEWAY: &str = "network:router_gateway";
pub const FLOATING_IP: &str = "network:floatingip";

pub fn port_not_found(id: &str) -> NeutronError {
    NeutronError::not_found("PortNotFound", format!("Port {id} could not be found."))
}

/// A port as `ctx` may see it: binding details are for admins only.
pub fn port_view(ctx: &Context, p: &PortRow, allocations: &[&Allocation]) -> Value {
    let bound = !p.binding_host_id.is_empty();
    let mut v = json!({
        "id": p.id, "name": p.name, "description": p.description, "network_id": p.network_id,
        "project_id": p.project_id, "tenant_id": p.project_id, "mac_address": p.mac_address,
        "admin_state_up": p.admin_state_up, "status": p.status,
        "device_id": p.device_id, "device_owner": p.device_owner,
        "fixed_ips": allocations.iter().map(|a| json!({"subnet_id": a.subnet_id, "ip_address": a.ip_address})).collect::<Vec<_>>(),
        "security_groups": store::string_list(&p.security_groups),
        "port_security_enabled": p.port_security_enabled,
        "allowed_address_pairs": address_pairs_view(&p.allowed_address_pairs, &p.mac_address),
        "extra_dhcp_opts": [],
        "binding:host_id": p.binding_host_id, "binding:vnic_type": p.binding_vnic_type,
        "binding:profile": serde_json::from_str::<Value>(&p.binding_profile).unwrap_or(json!({})),
        "binding:vif_type": if bound { "ovs" } else { "unbound" },
        "binding:vif_details": if bound { json!({"port_filter": true}) } else { json!({}) },
        "dns_name": p.dns_name, "dns_assignment": [],
        "ip_allocation": "immediate", "propagate_uplink_status": false,
        "qos_policy_id": null, "qos_network_policy_id": null, "resource_request": null,
        "tags": store::string_list(&p.tags), "revision_number": p.revision_number,
        "created_at": p.created_at, "updated_at": p.updated_at,
    });
    if !ctx.is_admin() {
        if let Value::Object(o) = &mut v {
            for hidden in
                ["binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details", "resource_request"]
            {
                o.remove(hidden);
            }
        }
    }
    v
}

fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok())
}

/// A fixed IP a request asks for: a subnet, an address, or both.
pub(crate) struct Wanted {
    pub(crate) subnet_id: Option<String>,
    pub(crate) ip_address: Option<String>,
}

fn wanted_ips(list: Vec<Value>) -> Result<Vec<Wanted>> {
    list.into_iter()
        .map(|v| {
            let o = v.as_object().ok_or_else(|| NeutronError::bad_request("Invalid input for fixed_ips."))?;
            attrs::only(o, &["subnet_id", "ip_address"])?;
            Ok(Wanted { subnet_id: attrs::string(o, "subnet_id")?, ip_address: attrs::string(o, "ip_address")? })
        })
        .collect()
}

/// What only an admin or the network's owner may claim on a port, as
/// Neutron's `create_port:fixed_ips:ip_address`, `create_port:mac_address`
/// and `create_port:device_owner` (for `network:*` owners) say: nobody
/// picks addresses on a shared or external network of another project, and
/// a port that says it is a router's interface or DHCP port comes from the
/// service itself (`add_router_interface`), never from a tenant.
fn guard_port_claims(
    ctx: &Context,
    network: &NetworkRow,
    action: &str,
    body: &Body,
    wanted: Option<&[Wanted]>,
) -> Result<()> {
    if ctx.is_admin() {
        return Ok(());
    }
    let owns_network = ctx.project_id() == Some(network.project_id.as_str());
    if !owns_network && wanted.is_some_and(|w| w.iter().any(|w| w.ip_address.is_some())) {
        return Err(NeutronError::policy(action, "fixed_ips:ip_address"));
    }
    if !owns_network && body.contains_key("mac_address") {
        return Err(NeutronError::policy(action, "mac_address"));
    }
    if attrs::string(body, "device_owner")?.is_some_and(|o| o.starts_with("network:")) {
        return Err(NeutronError::policy(action, "device_owner"));
    }
    Ok(())
}

const PORT_ATTRS: &[&str] = &[
    "name",
    "description",
    "network_id",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "dns_name",
    "project_id",
    "tenant_id",
    "extra_dhcp_opts",
    "qos_policy_id",
    "tags",
    "propagate_uplink_status",
];

impl Network {
    /// The ports `ctx` sees: its project's (all of them for admins).
    pub async fn list_ports(&self, ctx: &Context) -> Result<Vec<Value>> {
        match self.list_ports_where(ctx, &[]).await? {
            Listed::All(items) | Listed::Page(items) => Ok(items),
        }
    }

    /// A port list query, in SQL as far as it goes (see `listing`), reading
    /// only the listed ports' addresses.
    pub async fn list_ports_where(&self, ctx: &Context, query: &[(String, String)]) -> Result<Listed> {
        let mut scope = ListQuery::default();
        if !ctx.is_admin() {
            scope.scope = Some(("project_id = ?", vec![Param::Text(ctx.project_id().unwrap_or_default().to_owned())]));
        }
        Ok(match listing::list::<PortColumn>(&self.pool, query, scope).await? {
            Rows::Filtered(rows) => Listed::All(self.port_views(ctx, &rows).await?),
            Rows::Page(rows) => Listed::Page(self.port_views(ctx, &rows).await?),
        })
    }

    /// `rows` as the API shows them, with their addresses.
    async fn port_views(&self, ctx: &Context, rows: &[PortRow]) -> Result<Vec<Value>> {
        let ids: Vec<&str> = rows.iter().map(|p| p.id.as_str()).collect();
        let allocations = store::ports::allocations_of(&self.pool, &ids).await?;
        let mut by_port: HashMap<&str, Vec<&Allocation>> = HashMap::new();
        for a in &allocations {
            by_port.entry(a.port_id.as_str()).or_default().push(a);
        }
        Ok(rows
            .iter()
            .map(|p| port_view(ctx, p, by_port.get(p.id.as_str()).map(Vec::as_slice).unwrap_or_default()))
            .collect())
    }

    pub async fn port(&self, ctx: &Context, id: &str) -> Result<PortRow> {
        match store::get::<PortRow>(&self.pool, "ports", id).await? {
            Some(p) if owns(ctx, &p.project_id) => Ok(p),
            _ => Err(port_not_found(id)),
        }
    }

    pub async fn show_port(&self, ctx: &Context, id: &str) -> Result<Value> {
        let p = self.port(ctx, id).await?;
        let a = store::port_allocations(&self.pool, id).await?;
        Ok(port_view(ctx, &p, &a.iter().collect::<Vec<_>>()))
    }

    pub async fn create_port(&self, ctx: &Context, body: &Body) -> Result<Value> {
        attrs::only(body, PORT_ATTRS)?;
        attrs::admin_only(ctx, body, "create_port", &["binding:host_id", "binding:profile"])?;
        let network_id = attrs::string(body, "network_id")?.ok_or_else(|| {
            NeutronError::bad_request("Failed to parse request. Required attribute 'network_id' not specified")
        })?;
        let network = self.network(ctx, &network_id).await?;
        let project = owner(ctx, body)?;
        if !ctx.is_admin() && network.project_id != project && !network.shared {
            return Err(NeutronError::policy("create_port", "network"));
        }
        self.check_quota(&project, "ports", "port").await?;
        let port_security = attrs::boolean(body, "port_security_enabled")?.unwrap_or(network.port_security_enabled);
        let groups = match attrs::strings(body, "security_groups")? {
            Some(g) => {
                for id in &g {
                    self.security_group_of(ctx, id).await?;
                }
                g
            }
            None if port_security => vec![self.default_security_group(&project).await?],
            None => vec![],
        };
        if !port_security && !groups.is_empty() {
            return Err(NeutronError::conflict(
                "PortSecurityAndIPRequiredForSecurityGroups",
                "Port security must be enabled and port must have an IP address in order to use security groups.",
            ));
        }
        let mac = match attrs::string(body, "mac_address")? {
            Some(m) if valid_mac(&m) => m.to_ascii_lowercase(),
            Some(m) => {
                return Err(NeutronError::bad_request(format!(
                    "Invalid input for mac_address. Reason: '{m}' is not a valid MAC address."
                )))
            }
            None => String::new(),
        };
        let wanted = match attrs::list(body, "fixed_ips")? {
            Some(list) => Some(wanted_ips(list)?),
            None => None,
        };
        guard_port_claims(ctx, &network, "create_port", body, wanted.as_deref())?;
        let now = now();
        let mut p = PortRow {
            id: new_id(),
            network_id: network_id.clone(),
            name: attrs::string(body, "name")?.unwrap_or_default(),
            description: attrs::string(body, "description")?.unwrap_or_default(),
            project_id: project,
            mac_address: mac,
            admin_state_up: attrs::boolean(body, "admin_state_up")?.unwrap_or(true),
            status: "DOWN".into(),
            device_id: attrs::string(body, "device_id")?.unwrap_or_default(),
            device_owner: attrs::string(body, "device_owner")?.unwrap_or_default(),
            port_security_enabled: port_security,
            security_groups: serde_json::to_string(&groups).unwrap_or_default(),
            allowed_address_pairs: address_pairs(attrs::list(body, "allowed_address_pairs")?.unwrap_or_default())?,
            binding_host_id: attrs::string(body, "binding:host_id")?.unwrap_or_default(),
            binding_vnic_type: attrs::string(body, "binding:vnic_type")?.unwrap_or_else(|| "normal".into()),
            binding_profile: body.get("binding:profile").map(Value::to_string).unwrap_or_else(|| "{}".into()),
            dns_name: attrs::string(body, "dns_name")?.unwrap_or_default(),
            tags: serde_json::to_string(&attrs::strings(body, "tags")?.unwrap_or_default()).unwrap_or_default(),
            revision_number: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        self.insert_port(&mut p, &network, wanted).await?;
        self.show_port(ctx, &p.id).await
    }

    /// Writes the port, then its addresses; a port whose addresses cannot be
    /// had is removed again, so a failed create leaves nothing. An empty
    /// `mac_address` is generated, again when it meets one in use on the
    /// network (Neutron's `mac_generation_retries`).
    pub(crate) async fn insert_port(
        &self,
        p: &mut PortRow,
        network: &NetworkRow,
        wanted: Option<Vec<Wanted>>,
    ) -> Result<()> {
        let generated = p.mac_address.is_empty();
        for attempt in 0..16 {
            if generated {
                p.mac_address = random_mac();
            }
            match self.write_port(p).await {
                Err(e) if generated && e.kind == "MacAddressInUse" && attempt < 15 => continue,
                other => {
                    other?;
                    break;
                }
            }
        }
        if let Err(e) = self.allocate(p, network, wanted).await {
            store::ipam::release_addresses(&self.pool, &p.id).await?;
            store::delete(&self.pool, "ports", &p.id).await?;
            return Err(e);
        }
        Ok(())
    }

    async fn write_port(&self, p: &PortRow) -> Result<()> {
        let status =
            if !p.binding_host_id.is_empty() || p.device_owner.starts_with("network:") { "ACTIVE" } else { "DOWN" };
        store::ports::insert_port(&self.pool, p, status).await.map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => NeutronError::conflict(
                "MacAddressInUse",
                format!(
                    "Unable to complete operation for network {}. The mac address {} is in use.",
                    p.network_id, p.mac_address
                ),
            ),
            other => other.into(),
        })?;
        Ok(())
    }

    /// The port's addresses: those asked for, else one from the first IPv4
    /// subnet with room and one from each IPv6 subnet.
    async fn allocate(&self, p: &PortRow, network: &NetworkRow, wanted: Option<Vec<Wanted>>) -> Result<()> {
        let subnets: Vec<SubnetRow> = store::by(&self.pool, "subnets", "network_id", &network.id).await?;
        let wanted = match wanted {
            Some(w) => w,
            None => {
                let mut w = vec![];
                let mut v4 = subnets.iter().filter(|s| s.ip_version == 4).peekable();
                if v4.peek().is_some() {
                    w.push(Wanted { subnet_id: None, ip_address: None });
                }
                for s in subnets.iter().filter(|s| s.ip_version == 6) {
                    w.push(Wanted { subnet_id: Some(s.id.clone()), ip_address: None });
                }
                w
            }
        };
        for want in wanted {
            self.allocate_one(p, network, &subnets, want).await?;
        }
        Ok(())
    }

    async fn allocate_one(&self, p: &PortRow, network: &NetworkRow, subnets: &[SubnetRow], want: Wanted) -> Result<()> {
        let address = match &want.ip_address {
            Some(a) => Some(a.parse::<std::net::IpAddr>().map_err(|_| {
                NeutronError::bad_request(format!(
                    "Invalid input for fixed_ips. Reason: '{a}' is not a valid IP address."
                ))
            })?),
            None => None,
        };
        // The candidate subnets: the one named, the one holding the address,
        // or (neither given) every IPv4 subnet in order.
        let candidates: Vec<&SubnetRow> = match (&want.subnet_id, address) {
            (Some(id), _) => {
                let s = subnets.iter().find(|s| &s.id == id).ok_or_else(|| {
                    NeutronError::bad_request(format!("Invalid input for operation: Failed to create port on network {}, because fixed_ips included invalid subnet {id}.", network.id))
                })?;
                vec![s]
            }
            (None, Some(ip)) => {
                let (_, n) = ipam::to_number(ip);
                let s = subnets.iter().find(|s| Cidr::parse(&s.cidr).is_ok_and(|c| c.contains(n))).ok_or_else(|| {
                    NeutronError::bad_request(format!("Invalid input for operation: IP address {ip} is not a valid IP for any of the subnets on the specified network."))
                })?;
                vec![s]
            }
            (None, None) => subnets.iter().filter(|s| s.ip_version == 4).collect(),
        };
        for subnet in &candidates {
            let cidr = Cidr::parse(&subnet.cidr).map_err(NeutronError::bad_request)?;
            // SLAAC and stateless DHCPv6: the address is the port's EUI-64.
            if subnet.ipv6_address_mode.as_deref().is_some_and(crate::networks::automatic_addresses) {
                let auto = crate::networks::eui64(&cidr, &p.mac_address)
                    .ok_or_else(|| NeutronError::bad_request("The port's MAC address makes no EUI-64 address."))?;
                if address.is_some_and(|ip| ipam::to_number(ip).1 != auto) {
                    return Err(NeutronError::bad_request(format!(
                        "IPv6 address {} cannot be directly assigned to a port on subnet {} since the subnet is configured for automatic addresses",
                        address.map(|a| a.to_string()).unwrap_or_default(),
                        subnet.id
                    )));
                }
                let ip = ipam::to_ip(6, auto).to_string();
                if !self.claim(&subnet.id, &ip, &p.id, &network.id).await? {
                    return Err(NeutronError::conflict(
                        "IpAddressAlreadyAllocated",
                        format!("IP address {ip} already allocated in subnet {}", subnet.id),
                    ));
                }
                return Ok(());
            }
            if let Some(ip) = address {
                let (v, n) = ipam::to_number(ip);
                if v != cidr.version || !cidr.contains(n) {
                    return Err(NeutronError::bad_request(format!(
                        "Invalid input for operation: IP address {ip} is not a valid IP for the specified subnet."
                    )));
                }
                if !self.claim(&subnet.id, &ip.to_string(), &p.id, &network.id).await? {
                    return Err(NeutronError::conflict(
                        "IpAddressAlreadyAllocated",
                        format!("IP address {ip} already allocated in subnet {}", subnet.id),
                    ));
                }
                return Ok(());
            }
            if store::ipam::claim_next(&self.pool, &subnet.id, &p.id).await?.is_some() {
                return Ok(());
            }
        }
        Err(NeutronError::conflict(
            "IpAddressGenerationFailure",
            format!("No more IP addresses available on network {}.", network.id),
        ))
    }

    /// Gives `address` of `subnet` to `port`; false when another port has it.
    /// The primary key decides, so two ports never share an address.
    async fn claim(&self, subnet: &str, address: &str, port: &str, network: &str) -> Result<bool> {
        store::ipam::claim_address(&self.pool, subnet, address, port, network).await
    }

    pub async fn update_port(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let p = self.port(ctx, id).await?;
        attrs::only(
            body,
            &[
                "name",
                "description",
                "admin_state_up",
                "device_id",
                "device_owner",
                "security_groups",
                "port_security_enabled",
                "allowed_address_pairs",
                "binding:host_id",
                "binding:profile",
                "binding:vnic_type",
                "dns_name",
                "mac_address",
                "fixed_ips",
                "extra_dhcp_opts",
                "qos_policy_id",
                "propagate_uplink_status",
            ],
        )?;
        attrs::admin_only(ctx, body, "update_port", &["binding:host_id", "binding:profile", "mac_address"])?;
        let port_security = attrs::boolean(body, "port_security_enabled")?.unwrap_or(p.port_security_enabled);
        let groups = match attrs::strings(body, "security_groups")? {
            Some(g) => {
                for sg in &g {
                    self.security_group_of(ctx, sg).await?;
                }
                serde_json::to_string(&g).unwrap_or_default()
            }
            None => p.security_groups.clone(),
        };
        if !port_security && !store::string_list(&groups).is_empty() {
            return Err(NeutronError::conflict(
                "PortSecurityPortHasSecurityGroup",
                "Port has security group associated. Cannot disable port security or ip address until security group is removed",
            ));
        }
        let host = attrs::string(body, "binding:host_id")?.unwrap_or(p.binding_host_id.clone());
        let device_owner = attrs::string(body, "device_owner")?.unwrap_or(p.device_owner.clone());
        let status = if !host.is_empty() || device_owner.starts_with("network:") { "ACTIVE" } else { "DOWN" };
        let pairs = match attrs::list(body, "allowed_address_pairs")? {
            Some(a) => address_pairs(a)?,
            None => p.allowed_address_pairs.clone(),
        };
        if body.contains_key("device_owner") || body.contains_key("fixed_ips") {
            let network = store::get::<NetworkRow>(&self.pool, "networks", &p.network_id).await?;
            let wanted = match attrs::list(body, "fixed_ips")? {
                Some(list) => Some(wanted_ips(list)?),
                None => None,
            };
            if let Some(network) = &network {
                guard_port_claims(ctx, network, "update_port", body, wanted.as_deref())?;
            }
        }
        if let Some(list) = attrs::list(body, "fixed_ips")? {
            let network = store::get::<NetworkRow>(&self.pool, "networks", &p.network_id)
                .await?
                .ok_or_else(|| crate::networks::network_not_found(&p.network_id))?;
            let old = store::port_allocations(&self.pool, id).await?;
            store::ipam::release_addresses(&self.pool, id).await?;
            if let Err(e) = self.allocate(&p, &network, Some(wanted_ips(list)?)).await {
                // Put the old addresses back; nobody else can have taken them meanwhile but a racer.
                store::ipam::release_addresses(&self.pool, id).await?;
                for a in old {
                    self.claim(&a.subnet_id, &a.ip_address, &a.port_id, &a.network_id).await?;
                }
                return Err(e);
            }
        }
        let changed = PortRow {
            name: attrs::string(body, "name")?.unwrap_or(p.name.clone()),
            description: attrs::string(body, "description")?.unwrap_or(p.description.clone()),
            admin_state_up: attrs::boolean(body, "admin_state_up")?.unwrap_or(p.admin_state_up),
            device_id: attrs::string(body, "device_id")?.unwrap_or(p.device_id.clone()),
            device_owner,
            security_groups: groups,
            port_security_enabled: port_security,
            allowed_address_pairs: pairs,
            binding_host_id: host,
            binding_profile: body.get("binding:profile").map(Value::to_string).unwrap_or(p.binding_profile.clone()),
            binding_vnic_type: attrs::string(body, "binding:vnic_type")?.unwrap_or(p.binding_vnic_type.clone()),
            dns_name: attrs::string(body, "dns_name")?.unwrap_or(p.dns_name.clone()),
            mac_address: attrs::string(body, "mac_address")?.unwrap_or(p.mac_address.clone()),
            status: status.to_owned(),
            ..p.clone()
        };
        store::ports::update_port(&self.pool, &changed).await?;
        store::touch(&self.pool, "ports", id, &now()).await?;
        self.port_changed(&p.device_id);
        self.show_port(ctx, id).await
    }

    /// Ports of routers and floating IPs go with them, not through this call.
    pub async fn delete_port(&self, ctx: &Context, id: &str) -> Result<()> {
        let p = self.port(ctx, id).await?;
        if matches!(p.device_owner.as_str(), ROUTER_INTERFACE | ROUTER_GATEWAY | FLOATING_IP) {
            return Err(NeutronError::conflict(
                "ServicePortInUse",
                format!("Port {id} cannot be deleted directly via the port API: has device owner {}.", p.device_owner),
            ));
        }
        self.remove_port(&p).await
    }

    /// Deletes a port, disassociating the floating IPs on it.
    pub(crate) async fn remove_port(&self, p: &PortRow) -> Result<()> {
        store::ports::delete_port(&self.pool, &p.id, &now()).await
    }
}

/// Allowed address pairs as given: each an address or a CIDR, and a MAC
/// when one is given (else the port's own, filled in when shown: a new
/// port's MAC is only made when it is written).
fn address_pairs(pairs: Vec<Value>) -> Result<String> {
    let mut kept = vec![];
    for pair in pairs {
        let ip = pair.get("ip_address").and_then(Value::as_str).unwrap_or_default();
        let valid = ip.parse::<std::net::IpAddr>().is_ok() || crate::ipam::Cidr::parse(ip).is_ok();
        if !valid {
            return Err(NeutronError::invalid(format!("'{ip}' is not a valid IP address or CIDR")));
        }
        let mut kept_pair = json!({ "ip_address": ip });
        match pair.get("mac_address") {
            None | Some(Value::Null) => {}
            Some(Value::String(m)) if m.is_empty() => {}
            Some(Value::String(m)) if valid_mac(m) => kept_pair["mac_address"] = json!(m.to_ascii_lowercase()),
            Some(other) => return Err(NeutronError::invalid(format!("'{other}' is not a valid MAC address"))),
        }
        kept.push(kept_pair);
    }
    Ok(serde_json::to_string(&kept).unwrap_or_default())
}

/// The pairs as Neutron shows them: the port's MAC where none was given.
fn address_pairs_view(stored: &str, port_mac: &str) -> Vec<Value> {
    let mut pairs = store::json_list(stored);
    for pair in &mut pairs {
        if pair.get("mac_address").and_then(Value::as_str).is_none_or(str::is_empty) {
            pair["mac_address"] = json!(port_mac);
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_openstack_style_and_checked() {
        let m = random_mac();
        assert!(m.starts_with("fa:16:3e:") && valid_mac(&m));
        assert!(!valid_mac("fa:16:3e:00:00"));
        assert!(!valid_mac("zz:16:3e:00:00:00"));
    }
}
