//! Networks and subnets: who sees them, what may be created on them, and
//! the subnet rules (CIDR, gateway, pools, no overlap on one network).

use std::collections::HashMap;

use serde_json::{json, Value};

use oxistack_core::context::Context;
use oxistack_core::db::Param;

use crate::attrs::{self, Body};
use crate::ipam::{self, Cidr, Pool};
use crate::listing::{self, ApiColumn, Kind, Rows};
use crate::store::listing::ListQuery;
use crate::store::networks::NetworkColumn;
use crate::store::{self, NetworkRow, SubnetRow};
use crate::{new_id, now, owner, owns, Listed, Network, NeutronError, Result};

pub fn network_not_found(id: &str) -> NeutronError {
    NeutronError::not_found("NetworkNotFound", format!("Network {id} could not be found."))
}

pub fn subnet_not_found(id: &str) -> NeutronError {
    NeutronError::not_found("SubnetNotFound", format!("Subnet {id} could not be found."))
}

/// Whether `ctx` sees network `n`: its own, shared ones and external ones.
pub fn visible(ctx: &Context, n: &NetworkRow) -> bool {
    owns(ctx, &n.project_id) || n.shared || n.external
}

/// Subnets are seen on networks the caller owns or that are shared, not on
/// every external one (Neutron's `get_subnet`: owner, or `rule:shared`).
fn subnets_visible(ctx: &Context, n: &NetworkRow) -> bool {
    owns(ctx, &n.project_id) || n.shared
}

/// The `gateway_ip` a body asks for: `None` when it names none, `Some(None)`
/// for `null` (no gateway), else an address of the subnet that is not its
/// network address.
fn gateway_in(body: &Body, cidr: &Cidr) -> Result<Option<Option<u128>>> {
    match body.get("gateway_ip") {
        None => Ok(None),
        Some(serde_json::Value::Null) => Ok(Some(None)),
        Some(_) => {
            let g = attrs::string(body, "gateway_ip")?.unwrap_or_default();
            let ip: std::net::IpAddr = g.parse().map_err(|_| {
                NeutronError::bad_request(format!(
                    "Invalid input for gateway_ip. Reason: '{g}' is not a valid IP address."
                ))
            })?;
            let (v, n) = ipam::to_number(ip);
            if v != cidr.version || !cidr.contains(n) || n == cidr.base {
                return Err(NeutronError::invalid(format!("Gateway is not valid on subnet {cidr}.")));
            }
            Ok(Some(Some(n)))
        }
    }
}

/// `ipv6_ra_mode` and `ipv6_address_mode` as Neutron accepts them: IPv6
/// only, each one of its three modes, the same when both are given, and
/// automatic (EUI-64) addresses on /64 subnets only.
fn ipv6_modes(body: &Body, cidr: &Cidr) -> Result<(Option<String>, Option<String>)> {
    let (ra, address) = (attrs::string(body, "ipv6_ra_mode")?, attrs::string(body, "ipv6_address_mode")?);
    for (key, mode) in [("ipv6_ra_mode", &ra), ("ipv6_address_mode", &address)] {
        if let Some(m) = mode {
            if !matches!(m.as_str(), "slaac" | "dhcpv6-stateful" | "dhcpv6-stateless") {
                return Err(NeutronError::bad_request(format!(
                    "Invalid input for {key}. Reason: '{m}' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac', None]."
                )));
            }
            if cidr.version != 6 {
                return Err(NeutronError::invalid("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False or ip_version is 4."));
            }
        }
    }
    if let (Some(r), Some(a)) = (&ra, &address) {
        if r != a {
            return Err(NeutronError::invalid(format!(
                "ipv6_ra_mode set to '{r}' with ipv6_address_mode set to '{a}' is not valid. If both attributes are set, they must be the same value"
            )));
        }
    }
    if address.as_deref().is_some_and(automatic_addresses) && cidr.prefix != 64 {
        return Err(NeutronError::invalid(format!(
            "Invalid CIDR {cidr} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64"
        )));
    }
    Ok((ra, address))
}

/// Address modes in which a port's address is its EUI-64, not chosen.
pub(crate) fn automatic_addresses(mode: &str) -> bool {
    matches!(mode, "slaac" | "dhcpv6-stateless")
}

/// The EUI-64 address of `mac` on the /64 `cidr` (RFC 4291, appendix A).
pub(crate) fn eui64(cidr: &Cidr, mac: &str) -> Option<u128> {
    let m: Vec<u8> = mac.split(':').map(|b| u8::from_str_radix(b, 16)).collect::<std::result::Result<_, _>>().ok()?;
    let [a, b, c, d, e, f] = m[..] else { return None };
    let iid = u64::from_be_bytes([a ^ 0x02, b, c, 0xff, 0xfe, d, e, f]);
    Some((cidr.base & !u128::from(u64::MAX)) | u128::from(iid))
}

/// 409 when the gateway lies in the allocation pool `p` (spanning `range`).
fn gateway_outside(gateway: Option<u128>, cidr: &Cidr, p: &Pool, (a, b): (u128, u128)) -> Result<()> {
    match gateway {
        Some(g) if g >= a && g <= b => Err(NeutronError::conflict(
            "GatewayConflictWithAllocationPools",
            format!(
                "Gateway ip {} conflicts with allocation pool {}-{}.",
                ipam::to_ip(cidr.version, g),
                p.start,
                p.end
            ),
        )),
        _ => Ok(()),
    }
}

pub fn network_view(ctx: &Context, n: &NetworkRow, subnets: &[String]) -> Value {
    let mut v = json!({
        "id": n.id, "name": n.name, "description": n.description,
        "project_id": n.project_id, "tenant_id": n.project_id,
        "admin_state_up": n.admin_state_up, "status": "ACTIVE", "subnets": subnets,
        "shared": n.shared, "router:external": n.external, "is_default": n.is_default,
        "mtu": n.mtu, "port_security_enabled": n.port_security_enabled,
        "availability_zone_hints": [], "availability_zones": ["nova"],
        "ipv4_address_scope": null, "ipv6_address_scope": null, "l2_adjacency": true,
        "qos_policy_id": null, "dns_domain": "",
        "tags": store::string_list(&n.tags), "revision_number": n.revision_number,
        "created_at": n.created_at, "updated_at": n.updated_at,
    });
    if ctx.is_admin() {
        v["provider:network_type"] = json!(n.network_type);
        v["provider:physical_network"] = json!(n.physical_network);
        v["provider:segmentation_id"] = json!(n.segmentation_id);
    }
    v
}

pub fn subnet_view(s: &SubnetRow) -> Value {
    json!({
        "id": s.id, "name": s.name, "description": s.description, "network_id": s.network_id,
        "project_id": s.project_id, "tenant_id": s.project_id, "ip_version": s.ip_version,
        "cidr": s.cidr, "gateway_ip": s.gateway_ip,
        "allocation_pools": store::json_list(&s.allocation_pools),
        "dns_nameservers": store::json_list(&s.dns_nameservers),
        "host_routes": store::json_list(&s.host_routes),
        "enable_dhcp": s.enable_dhcp, "ipv6_ra_mode": s.ipv6_ra_mode, "ipv6_address_mode": s.ipv6_address_mode,
        "subnetpool_id": s.subnetpool_id, "service_types": [], "segment_id": null,
        "tags": store::string_list(&s.tags), "revision_number": s.revision_number,
        "created_at": s.created_at, "updated_at": s.updated_at,
    })
}

/// The network attributes that are columns, by their API names.
impl ApiColumn for NetworkColumn {
    fn of_attribute(key: &str) -> Option<NetworkColumn> {
        Some(match key {
            "id" => NetworkColumn::Id,
            "name" => NetworkColumn::Name,
            "description" => NetworkColumn::Description,
            "project_id" | "tenant_id" => NetworkColumn::ProjectId,
            "admin_state_up" => NetworkColumn::AdminStateUp,
            "shared" => NetworkColumn::Shared,
            "router:external" => NetworkColumn::External,
            "mtu" => NetworkColumn::Mtu,
            "port_security_enabled" => NetworkColumn::PortSecurityEnabled,
            "created_at" => NetworkColumn::CreatedAt,
            "updated_at" => NetworkColumn::UpdatedAt,
            _ => return None,
        })
    }

    fn kind(self) -> Kind {
        match self {
            NetworkColumn::AdminStateUp
            | NetworkColumn::Shared
            | NetworkColumn::External
            | NetworkColumn::PortSecurityEnabled => Kind::Bool,
            NetworkColumn::Mtu => Kind::Int,
            _ => Kind::Text,
        }
    }
}

const NETWORK_ATTRS: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "availability_zone_hints",
    "is_default",
    "project_id",
    "tenant_id",
    "dns_domain",
    "qos_policy_id",
    "tags",
];
const ADMIN_NETWORK_ATTRS: &[&str] = &[
    "shared",
    "router:external",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "is_default",
];

impl Network {
    pub async fn network(&self, ctx: &Context, id: &str) -> Result<NetworkRow> {
        match store::get::<NetworkRow>(&self.pool, "networks", id).await? {
            Some(n) if visible(ctx, &n) => Ok(n),
            _ => Err(network_not_found(id)),
        }
    }

    pub async fn list_networks(&self, ctx: &Context) -> Result<Vec<Value>> {
        match self.list_networks_where(ctx, &[]).await? {
            Listed::All(items) | Listed::Page(items) => Ok(items),
        }
    }

    /// A network list query, in SQL as far as it goes (see `listing`): the
    /// caller's own, shared and external networks, with only the listed
    /// networks' subnets read.
    pub async fn list_networks_where(&self, ctx: &Context, query: &[(String, String)]) -> Result<Listed> {
        let mut scope = ListQuery::default();
        if !ctx.is_admin() {
            let project = Param::Text(ctx.project_id().unwrap_or_default().to_owned());
            scope.scope = Some(("(project_id = ? OR shared = TRUE OR external = TRUE)", vec![project]));
        }
        Ok(match listing::list::<NetworkColumn>(&self.pool, query, scope).await? {
            Rows::Filtered(rows) => Listed::All(self.network_views(ctx, &rows).await?),
            Rows::Page(rows) => Listed::Page(self.network_views(ctx, &rows).await?),
        })
    }

    /// `rows` as the API shows them, with their subnets.
    async fn network_views(&self, ctx: &Context, rows: &[NetworkRow]) -> Result<Vec<Value>> {
        let ids: Vec<&str> = rows.iter().map(|n| n.id.as_str()).collect();
        let mut subnets: HashMap<String, Vec<String>> = HashMap::new();
        for (network, subnet) in store::networks::subnet_ids_of(&self.pool, &ids).await? {
            subnets.entry(network).or_default().push(subnet);
        }
        Ok(rows
            .iter()
            .map(|n| network_view(ctx, n, subnets.get(&n.id).map(Vec::as_slice).unwrap_or_default()))
            .collect())
    }

    pub async fn show_network(&self, ctx: &Context, id: &str) -> Result<Value> {
        Ok(self.network_views(ctx, &[self.network(ctx, id).await?]).await?.remove(0))
    }

    pub async fn create_network(&self, ctx: &Context, body: &Body) -> Result<Value> {
        attrs::only(body, NETWORK_ATTRS)?;
        attrs::admin_only(ctx, body, "create_network", ADMIN_NETWORK_ATTRS)?;
        let project = owner(ctx, body)?;
        self.check_quota(&project, "networks", "network").await?;
        let now = now();
        let mtu = attrs::integer(body, "mtu")?.unwrap_or(1500);
        if !(68..=9000).contains(&mtu) {
            return Err(NeutronError::invalid(format!("MTU {mtu} is not between 68 and 9000.")));
        }
        let n = NetworkRow {
            id: new_id(),
            name: attrs::string(body, "name")?.unwrap_or_default(),
            description: attrs::string(body, "description")?.unwrap_or_default(),
            project_id: project,
            admin_state_up: attrs::boolean(body, "admin_state_up")?.unwrap_or(true),
            shared: attrs::boolean(body, "shared")?.unwrap_or(false),
            external: attrs::boolean(body, "router:external")?.unwrap_or(false),
            is_default: attrs::boolean(body, "is_default")?.unwrap_or(false),
            mtu,
            port_security_enabled: attrs::boolean(body, "port_security_enabled")?.unwrap_or(true),
            network_type: attrs::string(body, "provider:network_type")?.unwrap_or_else(|| "local".into()),
            physical_network: attrs::string(body, "provider:physical_network")?,
            segmentation_id: attrs::integer(body, "provider:segmentation_id")?,
            tags: serde_json::to_string(&attrs::strings(body, "tags")?.unwrap_or_default()).unwrap_or_default(),
            revision_number: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        store::networks::insert_network(&self.pool, &n).await?;
        Ok(network_view(ctx, &n, &[]))
    }

    pub async fn update_network(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let n = self.network(ctx, id).await?;
        if !owns(ctx, &n.project_id) {
            return Err(NeutronError::policy("update", "network"));
        }
        attrs::only(
            body,
            &[
                "name",
                "description",
                "admin_state_up",
                "shared",
                "router:external",
                "mtu",
                "port_security_enabled",
                "is_default",
                "dns_domain",
                "qos_policy_id",
            ],
        )?;
        attrs::admin_only(ctx, body, "update_network", ADMIN_NETWORK_ATTRS)?;
        let changed = NetworkRow {
            name: attrs::string(body, "name")?.unwrap_or(n.name),
            description: attrs::string(body, "description")?.unwrap_or(n.description),
            admin_state_up: attrs::boolean(body, "admin_state_up")?.unwrap_or(n.admin_state_up),
            shared: attrs::boolean(body, "shared")?.unwrap_or(n.shared),
            external: attrs::boolean(body, "router:external")?.unwrap_or(n.external),
            mtu: attrs::integer(body, "mtu")?.unwrap_or(n.mtu),
            port_security_enabled: attrs::boolean(body, "port_security_enabled")?.unwrap_or(n.port_security_enabled),
            is_default: attrs::boolean(body, "is_default")?.unwrap_or(n.is_default),
            ..n
        };
        store::networks::update_network(&self.pool, &changed).await?;
        store::touch(&self.pool, "networks", id, &now()).await?;
        self.show_network(ctx, id).await
    }

    /// Refused while ports other than the network's own remain on it.
    pub async fn delete_network(&self, ctx: &Context, id: &str) -> Result<()> {
        let n = self.network(ctx, id).await?;
        if !owns(ctx, &n.project_id) {
            return Err(NeutronError::policy("delete", "network"));
        }
        let ports: Vec<crate::store::PortRow> = store::by(&self.pool, "ports", "network_id", id).await?;
        if !ports.is_empty() {
            return Err(NeutronError::conflict(
                "NetworkInUse",
                format!("Unable to complete operation on network {id}. There are one or more ports still in use on the network."),
            ));
        }
        store::networks::delete_network(&self.pool, id).await?;
        Ok(())
    }

    pub async fn subnet(&self, ctx: &Context, id: &str) -> Result<SubnetRow> {
        let s = store::get::<SubnetRow>(&self.pool, "subnets", id).await?.ok_or_else(|| subnet_not_found(id))?;
        match store::get::<NetworkRow>(&self.pool, "networks", &s.network_id).await? {
            Some(n) if subnets_visible(ctx, &n) || owns(ctx, &s.project_id) => Ok(s),
            _ => Err(subnet_not_found(id)),
        }
    }

    pub async fn list_subnets(&self, ctx: &Context) -> Result<Vec<Value>> {
        let networks: HashMap<String, NetworkRow> =
            store::all::<NetworkRow>(&self.pool, "networks").await?.into_iter().map(|n| (n.id.clone(), n)).collect();
        Ok(store::all::<SubnetRow>(&self.pool, "subnets")
            .await?
            .iter()
            .filter(|s| {
                owns(ctx, &s.project_id) || networks.get(&s.network_id).is_some_and(|n| subnets_visible(ctx, n))
            })
            .map(subnet_view)
            .collect())
    }

    pub async fn show_subnet(&self, ctx: &Context, id: &str) -> Result<Value> {
        Ok(subnet_view(&self.subnet(ctx, id).await?))
    }

    pub async fn create_subnet(&self, ctx: &Context, body: &Body) -> Result<Value> {
        attrs::only(
            body,
            &[
                "name",
                "description",
                "network_id",
                "cidr",
                "ip_version",
                "gateway_ip",
                "allocation_pools",
                "dns_nameservers",
                "host_routes",
                "enable_dhcp",
                "ipv6_ra_mode",
                "ipv6_address_mode",
                "subnetpool_id",
                "use_default_subnetpool",
                "prefixlen",
                "project_id",
                "tenant_id",
                "segment_id",
                "service_types",
                "dns_publish_fixed_ip",
                "tags",
            ],
        )?;
        let network_id = attrs::string(body, "network_id")?.ok_or_else(|| {
            NeutronError::bad_request("Failed to parse request. Required attribute 'network_id' not specified")
        })?;
        let network = self.network(ctx, &network_id).await?;
        if !owns(ctx, &network.project_id) {
            return Err(NeutronError::policy("create", "subnet"));
        }
        let project = owner(ctx, body)?;
        let pool_id = attrs::string(body, "subnetpool_id")?;
        let (cidr_text, subnetpool_id) =
            if pool_id.is_some() || attrs::boolean(body, "use_default_subnetpool")?.unwrap_or(false) {
                let cidr = attrs::string(body, "cidr")?;
                let (cidr, pool) = self
                    .cidr_from_pool(
                        ctx,
                        pool_id,
                        attrs::integer(body, "ip_version")?,
                        cidr.as_deref(),
                        attrs::integer(body, "prefixlen")?,
                    )
                    .await?;
                (cidr, Some(pool))
            } else {
                let cidr = attrs::string(body, "cidr")?.ok_or_else(|| {
                    NeutronError::bad_request("Failed to parse request. Required attribute 'cidr' not specified")
                })?;
                (cidr, None)
            };
        let cidr = Cidr::parse(&cidr_text)
            .map_err(|e| NeutronError::bad_request(format!("Invalid input for cidr. Reason: {e}.")))?;
        let version = attrs::integer(body, "ip_version")?.unwrap_or(i64::from(cidr.version));
        if version != i64::from(cidr.version) {
            return Err(NeutronError::invalid("Cidr and IP version are not compatible."));
        }
        let host_bits = if cidr.version == 4 { 32 - cidr.prefix } else { 128 - cidr.prefix };
        if host_bits < 2 {
            return Err(NeutronError::invalid(format!("Invalid CIDR {cidr} for IPv{} subnet.", cidr.version)));
        }
        let siblings: Vec<SubnetRow> = store::by(&self.pool, "subnets", "network_id", &network_id).await?;
        if siblings.iter().any(|s| Cidr::parse(&s.cidr).is_ok_and(|c| c.overlaps(&cidr))) {
            return Err(NeutronError::invalid(format!(
                "Requested subnet with cidr: {cidr} for network: {network_id} overlaps with another subnet."
            )));
        }
        let gateway = match gateway_in(body, &cidr)? {
            None => cidr.default_gateway(),
            Some(g) => g,
        };
        let pools: Vec<Pool> = match attrs::list(body, "allocation_pools")? {
            Some(list) => serde_json::from_value(serde_json::Value::Array(list)).map_err(|_| {
                NeutronError::bad_request("Invalid input for allocation_pools: each needs start and end.")
            })?,
            None => cidr.default_pools(gateway),
        };
        let mut ranges = vec![];
        for p in &pools {
            let (a, b) = p.range(&cidr).map_err(NeutronError::bad_request)?;
            gateway_outside(gateway, &cidr, p, (a, b))?;
            if ranges.iter().any(|(x, y)| a <= *y && *x <= b) {
                return Err(NeutronError::bad_request(format!(
                    "Found overlapping allocation pools: {}-{}",
                    p.start, p.end
                )));
            }
            ranges.push((a, b));
        }
        let (ra_mode, address_mode) = ipv6_modes(body, &cidr)?;
        self.check_quota(&project, "subnets", "subnet").await?;
        let now = now();
        let s = SubnetRow {
            id: new_id(),
            network_id,
            name: attrs::string(body, "name")?.unwrap_or_default(),
            description: attrs::string(body, "description")?.unwrap_or_default(),
            project_id: project,
            ip_version: version,
            cidr: cidr.to_string(),
            gateway_ip: gateway.map(|g| ipam::to_ip(cidr.version, g).to_string()),
            allocation_pools: serde_json::to_string(&pools).unwrap_or_else(|_| "[]".into()),
            dns_nameservers: serde_json::to_string(&attrs::strings(body, "dns_nameservers")?.unwrap_or_default())
                .unwrap_or_default(),
            host_routes: serde_json::to_string(&attrs::list(body, "host_routes")?.unwrap_or_default())
                .unwrap_or_default(),
            enable_dhcp: attrs::boolean(body, "enable_dhcp")?.unwrap_or(true),
            ipv6_ra_mode: ra_mode,
            ipv6_address_mode: address_mode,
            subnetpool_id,
            tags: serde_json::to_string(&attrs::strings(body, "tags")?.unwrap_or_default()).unwrap_or_default(),
            revision_number: 0,
            created_at: now.clone(),
            updated_at: now,
        };
        store::networks::insert_subnet(&self.pool, &s).await?;
        store::touch(&self.pool, "networks", &s.network_id, &s.created_at).await?;
        Ok(subnet_view(&s))
    }

    pub async fn update_subnet(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let s = self.subnet(ctx, id).await?;
        if !owns(ctx, &s.project_id) {
            return Err(NeutronError::policy("update", "subnet"));
        }
        let cidr = Cidr::parse(&s.cidr).map_err(NeutronError::bad_request)?;
        let gateway = match gateway_in(body, &cidr)? {
            Some(g) => {
                let pools: Vec<Pool> = serde_json::from_str(&s.allocation_pools).unwrap_or_default();
                for p in &pools {
                    let range = p.range(&cidr).map_err(NeutronError::bad_request)?;
                    gateway_outside(g, &cidr, p, range)?;
                }
                g.map(|g| ipam::to_ip(cidr.version, g).to_string())
            }
            None => s.gateway_ip.clone(),
        };
        attrs::only(body, &["name", "description", "dns_nameservers", "host_routes", "enable_dhcp", "gateway_ip"])?;
        let dns = match attrs::strings(body, "dns_nameservers")? {
            Some(d) => serde_json::to_string(&d).unwrap_or_default(),
            None => s.dns_nameservers.clone(),
        };
        let routes = match attrs::list(body, "host_routes")? {
            Some(r) => serde_json::to_string(&r).unwrap_or_default(),
            None => s.host_routes.clone(),
        };
        let changed = SubnetRow {
            name: attrs::string(body, "name")?.unwrap_or(s.name),
            description: attrs::string(body, "description")?.unwrap_or(s.description),
            dns_nameservers: dns,
            host_routes: routes,
            enable_dhcp: attrs::boolean(body, "enable_dhcp")?.unwrap_or(s.enable_dhcp),
            gateway_ip: gateway,
            ..s
        };
        store::networks::update_subnet(&self.pool, &changed).await?;
        store::touch(&self.pool, "subnets", id, &now()).await?;
        self.show_subnet(ctx, id).await
    }

    pub async fn delete_subnet(&self, ctx: &Context, id: &str) -> Result<()> {
        let s = self.subnet(ctx, id).await?;
        if !owns(ctx, &s.project_id) {
            return Err(NeutronError::policy("delete", "subnet"));
        }
        let used = store::ipam::subnet_allocation_count(&self.pool, id).await?;
        if used > 0 {
            return Err(NeutronError::conflict(
                "SubnetInUse",
                format!("Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."),
            ));
        }
        store::delete(&self.pool, "subnets", id).await?;
        store::touch(&self.pool, "networks", &s.network_id, &now()).await?;
        Ok(())
    }

    /// `GET /v2.0/network-ip-availabilities` (admins).
    pub async fn ip_availabilities(&self, ctx: &Context) -> Result<Vec<Value>> {
        if !ctx.is_admin() {
            return Err(NeutronError::policy("get", "network_ip_availability"));
        }
        let mut used: HashMap<String, u128> = HashMap::new();
        for a in store::allocations(&self.pool).await? {
            *used.entry(a.subnet_id).or_default() += 1;
        }
        let subnets = store::all::<SubnetRow>(&self.pool, "subnets").await?;
        let mut out = vec![];
        for n in store::all::<NetworkRow>(&self.pool, "networks").await? {
            let (mut total, mut in_use, mut per_subnet) = (0u128, 0u128, vec![]);
            for s in subnets.iter().filter(|s| s.network_id == n.id) {
                let size = Cidr::parse(&s.cidr)
                    .map(|c| {
                        let pools: Vec<Pool> = serde_json::from_str(&s.allocation_pools).unwrap_or_default();
                        ipam::pool_size(&pools.iter().filter_map(|p| p.range(&c).ok()).collect::<Vec<_>>())
                    })
                    .unwrap_or(0);
                let u = used.get(&s.id).copied().unwrap_or(0);
                total = total.saturating_add(size);
                in_use += u;
                per_subnet.push(json!({"subnet_id": s.id, "subnet_name": s.name, "cidr": s.cidr,
                    "ip_version": s.ip_version, "total_ips": size.min(u64::MAX as u128) as u64, "used_ips": u as u64}));
            }
            out.push(json!({"network_id": n.id, "network_name": n.name, "project_id": n.project_id,
                "tenant_id": n.project_id, "total_ips": total.min(u64::MAX as u128) as u64, "used_ips": in_use as u64,
                "subnet_ip_availability": per_subnet}));
        }
        Ok(out)
    }
}
