//! The instances' ports, as Nova's `network/neutron.py` manages them: which
//! networks a boot asks for, ports created on them for the instance (bound
//! to this host, with the requested security groups), a floating address
//! given automatically when the port's subnet is routed to an external
//! network, the interfaces (`Vif`) the driver plugs and the `addresses` the
//! API shows, both cached on the instance as Nova's info cache, and the
//! ports released when the instance goes.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use oxistack_core::context::Context;
use oxistack_core::{Error, Result};
use oxistack_network::security_groups::ingress_tcp_ports;
use oxistack_network::store::{self as net_store, NetworkRow, PortRow};
use oxistack_network::{Network, NeutronError};

/// Most ports of one rule a floating address forwards one by one.
const MAX_FORWARDED_RANGE: i64 = 64;
/// How an automatically given floating IP is recognised at delete.
const AUTO_FLOATING: &str = "Given automatically to server";

/// One interface of an instance, as its driver plugs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vif {
    pub port_id: String,
    pub network: String,
    pub mac: String,
    pub fixed_ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub floating_ip: Option<Ipv4Addr>,
    /// Guest TCP ports reachable on the floating address.
    pub tcp_ports: Vec<u16>,
    /// Names of the port's security groups.
    pub security_groups: Vec<String>,
}

/// What a boot asks of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requested {
    None,
    Auto,
    /// Networks (and, optionally, an address on each) or existing ports.
    List(Vec<RequestedNetwork>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedNetwork {
    pub network: Option<String>,
    pub fixed_ip: Option<String>,
    pub port: Option<String>,
}

/// The interfaces recorded for an instance.
pub fn vifs(network_info: &str) -> Vec<Vif> {
    serde_json::from_str(network_info).unwrap_or_default()
}

/// Nova's `addresses`: per network, the fixed then the floating address.
pub fn addresses(network_info: &str) -> Value {
    let mut out = Map::new();
    for vif in vifs(network_info) {
        let entry = |addr: Ipv4Addr, kind: &str| {
            json!({"version": 4, "addr": addr.to_string(), "OS-EXT-IPS:type": kind,
                   "OS-EXT-IPS-MAC:mac_addr": vif.mac})
        };
        if let Value::Array(list) = out.entry(vif.network.clone()).or_insert_with(|| json!([])) {
            list.push(entry(vif.fixed_ip, "fixed"));
            if let Some(f) = vif.floating_ip {
                list.push(entry(f, "floating"));
            }
        }
    }
    Value::Object(out)
}

/// The server body's `security_groups`.
pub fn security_groups(network_info: &str) -> Value {
    let mut names: Vec<String> = vifs(network_info).into_iter().flat_map(|v| v.security_groups).collect();
    names.sort();
    names.dedup();
    Value::Array(names.into_iter().map(|n| json!({ "name": n })).collect())
}

fn neutron(e: NeutronError) -> Error {
    match e.status.as_u16() {
        400 => Error::BadRequest(e.message),
        403 => Error::Forbidden(e.message),
        404 => Error::BadRequest(e.message),
        409 => Error::Conflict(e.message),
        _ => Error::Internal(anyhow::anyhow!("{}: {}", e.kind, e.message)),
    }
}

/// Resolves what a boot asks for, before the boot is accepted: unknown
/// networks and groups are the caller's error (400), several candidate
/// networks too (409), as Nova answers.
pub async fn resolve(
    network: &Network,
    ctx: &Context,
    project: &str,
    requested: &Requested,
    groups: &[String],
) -> Result<(Requested, Vec<String>)> {
    let mut group_ids = vec![];
    for g in groups {
        let id = network
            .find_security_group(project, g)
            .await
            .map_err(|_| Error::BadRequest(format!("Security group {g} not found for project {project}.")))?;
        group_ids.push(id);
    }
    let resolved = match requested {
        Requested::None => Requested::None,
        Requested::List(list) => {
            for r in list {
                if let Some(n) = &r.network {
                    network
                        .network(ctx, n)
                        .await
                        .map_err(|_| Error::BadRequest(format!("Network {n} could not be found.")))?;
                }
                if let Some(p) = &r.port {
                    let port = network
                        .port(ctx, p)
                        .await
                        .map_err(|_| Error::BadRequest(format!("Port {p} could not be found.")))?;
                    if !port.device_id.is_empty() {
                        return Err(Error::Conflict(format!("Port {p} is still in use.")));
                    }
                }
            }
            Requested::List(list.clone())
        }
        Requested::Auto => {
            // The project's own networks; else the shared ones; else its
            // auto-allocated topology.
            let all: Vec<NetworkRow> = net_store::all(&network.pool, "networks").await.map_err(neutron)?;
            let own: Vec<&NetworkRow> = all.iter().filter(|n| n.project_id == project && !n.external).collect();
            let shared: Vec<&NetworkRow> = all.iter().filter(|n| n.shared && !n.external).collect();
            let candidates = if own.is_empty() { shared } else { own };
            match candidates.as_slice() {
                [one] => Requested::List(vec![RequestedNetwork {
                    network: Some(one.id.clone()),
                    fixed_ip: None,
                    port: None,
                }]),
                [] => {
                    let id = network.auto_allocate(ctx, project).await.map_err(neutron)?;
                    Requested::List(vec![RequestedNetwork { network: Some(id), fixed_ip: None, port: None }])
                }
                _ => {
                    return Err(Error::Conflict(
                        "Multiple possible networks found, use a Network ID to be more specific.".into(),
                    ))
                }
            }
        }
    };
    Ok((resolved, group_ids))
}

/// Creates (or takes over) the instance's ports, gives each routed one a
/// floating address, and records the interfaces.
pub async fn allocate(
    network: &Network,
    pool: &oxistack_core::db::Pool,
    inst: &crate::store::Instance,
    host: &str,
    requested: &Requested,
    groups: &[String],
) -> Result<Vec<Vif>> {
    let Requested::List(list) = requested else { return Ok(vec![]) };
    let (instance, project, zone) = (inst.id.as_str(), inst.project_id.as_str(), inst.availability_zone.as_str());
    let ctx = oxistack_network::topology::acting_for(project);
    for r in list {
        let binding =
            json!({"device_id": instance, "device_owner": format!("compute:{zone}"), "binding:host_id": host});
        let port_id = match (&r.port, &r.network) {
            (Some(port), _) => {
                let body = binding.as_object().cloned().unwrap_or_default();
                network.update_port(&ctx, port, &body).await.map_err(neutron)?;
                port.clone()
            }
            (None, Some(net)) => {
                let mut body = binding.as_object().cloned().unwrap_or_default();
                body.insert("network_id".into(), json!(net));
                body.insert("project_id".into(), json!(project));
                if !groups.is_empty() {
                    body.insert("security_groups".into(), json!(groups));
                }
                if let Some(ip) = &r.fixed_ip {
                    body.insert("fixed_ips".into(), json!([{ "ip_address": ip }]));
                }
                let port = network.create_port(&ctx, &body).await.map_err(neutron)?;
                port["id"].as_str().unwrap_or_default().to_owned()
            }
            (None, None) => continue,
        };
        let description = format!("{AUTO_FLOATING} {instance}");
        network.auto_floating_ip(&ctx, &port_id, &description).await.map_err(neutron)?;
    }
    refresh(network, pool, instance).await
}

/// Reads the instance's ports back from the Network service into its
/// interfaces, records them, and answers them.
pub async fn refresh(network: &Network, pool: &oxistack_core::db::Pool, instance: &str) -> Result<Vec<Vif>> {
    let ports: Vec<PortRow> = net_store::by(&network.pool, "ports", "device_id", instance).await.map_err(neutron)?;
    let mut out = vec![];
    for p in ports {
        let net: Option<NetworkRow> =
            net_store::get(&network.pool, "networks", &p.network_id).await.map_err(neutron)?;
        let allocations = net_store::port_allocations(&network.pool, &p.id).await.map_err(neutron)?;
        let Some(v4) = allocations.iter().find(|a| a.ip_address.contains('.')) else { continue };
        let subnets = network.subnets_of(&p.network_id).await.map_err(neutron)?;
        let Some(subnet) = subnets.iter().find(|s| s.id == v4.subnet_id) else { continue };
        let prefix: u8 = subnet.cidr.split('/').nth(1).and_then(|p| p.parse().ok()).unwrap_or(24);
        let fixed: Ipv4Addr = v4.ip_address.parse().map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
        let gateway = subnet.gateway_ip.as_deref().and_then(|g| g.parse().ok()).unwrap_or_else(|| {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            Ipv4Addr::from((u32::from(fixed) & mask) + 1)
        });
        let floating = network
            .floating_ips_of(&p.id)
            .await
            .map_err(neutron)?
            .into_iter()
            .find(|f| f.fixed_ip_address.as_deref() == Some(v4.ip_address.as_str()))
            .and_then(|f| f.floating_ip_address.parse().ok());
        let group_ids = net_store::string_list(&p.security_groups);
        let rules = network.rules_of(&group_ids).await.map_err(neutron)?;
        let mut names = vec![];
        for g in &group_ids {
            if let Some(sg) = net_store::get::<net_store::SecurityGroupRow>(&network.pool, "security_groups", g)
                .await
                .map_err(neutron)?
            {
                names.push(sg.name);
            }
        }
        out.push(Vif {
            port_id: p.id.clone(),
            network: net.map(|n| n.name).unwrap_or_default(),
            mac: p.mac_address.clone(),
            fixed_ip: fixed,
            prefix,
            gateway,
            floating_ip: floating,
            tcp_ports: if p.port_security_enabled { ingress_tcp_ports(&rules, MAX_FORWARDED_RANGE) } else { vec![22] },
            security_groups: names,
        });
    }
    let info = serde_json::to_string(&out).map_err(anyhow::Error::from)?;
    sqlx::query("UPDATE instances SET network_info = ? WHERE id = ?").bind(info).bind(instance).execute(pool).await?;
    Ok(out)
}

/// Deletes the instance's ports and the floating IPs given to them at boot;
/// the instance keeps its last `network_info`, as Nova's info cache of a
/// deleted instance does.
pub async fn release(network: &Network, instance: &str) -> Result<()> {
    network.release_device(instance, &format!("{AUTO_FLOATING} {instance}")).await.map_err(neutron)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_list_fixed_then_floating_and_groups_once() {
        let vif = |net: &str, sg: &str| Vif {
            port_id: "p".into(),
            network: net.into(),
            mac: "fa:16:3e:00:00:01".into(),
            fixed_ip: Ipv4Addr::new(10, 0, 0, 10),
            prefix: 24,
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            floating_ip: Some(Ipv4Addr::new(127, 42, 0, 2)),
            tcp_ports: vec![22],
            security_groups: vec![sg.into()],
        };
        let info = serde_json::to_string(&[vif("private", "default"), vif("barnet", "default")]).unwrap();
        let a = addresses(&info);
        assert_eq!(a["private"][0]["addr"], "10.0.0.10");
        assert_eq!(a["private"][0]["OS-EXT-IPS:type"], "fixed");
        assert_eq!(a["private"][1]["addr"], "127.42.0.2");
        assert_eq!(a["private"][1]["OS-EXT-IPS:type"], "floating");
        assert_eq!(security_groups(&info), json!([{"name": "default"}]));
    }
}
