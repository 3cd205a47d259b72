//! The instances' ports, as Nova's `network/neutron.py` manages them: which
//! networks a boot asks for, ports created on them for the instance (bound
//! to this host, with the requested security groups), a floating address
//! given automatically when the port's subnet is routed to an external
//! network, the interfaces (`Vif`) the driver plugs and the `addresses` the
//! API shows, both cached on the instance as Nova's info cache, and the
//! ports released when the instance goes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
    /// The port's IPv6 addresses, shown and filtered on; guests here are
    /// wired for IPv4 only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_ips_v6: Vec<Ipv6Addr>,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub floating_ip: Option<Ipv4Addr>,
    /// Guest TCP ports reachable on the floating address.
    pub tcp_ports: Vec<u16>,
    /// Names of the port's security groups.
    pub security_groups: Vec<String>,
    /// The user made the port and handed it to the server: it outlives the
    /// server (Nova's `preserve_on_delete`).
    #[serde(default)]
    pub preserve: bool,
}

/// What a boot asks of the network.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Requested {
    None,
    Auto,
    /// Networks (and, optionally, an address on each) or existing ports.
    List(Vec<RequestedNetwork>),
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestedNetwork {
    pub network: Option<String>,
    pub fixed_ip: Option<String>,
    pub port: Option<String>,
}

/// Nova's `addresses`: per network, the fixed then the floating address.
pub struct Addresses<'a>(pub &'a [Vif]);

#[derive(Serialize)]
struct Address<'a> {
    version: u8,
    addr: IpAddr,
    #[serde(rename = "OS-EXT-IPS:type")]
    kind: &'static str,
    #[serde(rename = "OS-EXT-IPS-MAC:mac_addr")]
    mac: &'a str,
}

impl Serialize for Addresses<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut by_network: std::collections::BTreeMap<&str, Vec<Address>> = Default::default();
        for vif in self.0 {
            let entry =
                |addr: IpAddr, kind| Address { version: if addr.is_ipv4() { 4 } else { 6 }, addr, kind, mac: &vif.mac };
            let list = by_network.entry(&vif.network).or_default();
            list.push(entry(vif.fixed_ip.into(), "fixed"));
            list.extend(vif.fixed_ips_v6.iter().map(|a| entry((*a).into(), "fixed")));
            if let Some(f) = vif.floating_ip {
                list.push(entry(f.into(), "floating"));
            }
        }
        by_network.serialize(s)
    }
}

/// The server body's `security_groups`: each name once.
pub struct SecurityGroups<'a>(pub &'a [Vif]);

#[derive(Serialize)]
struct GroupName<'a> {
    name: &'a str,
}

impl Serialize for SecurityGroups<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut names: Vec<&str> = self.0.iter().flat_map(|v| v.security_groups.iter().map(String::as_str)).collect();
        names.sort();
        names.dedup();
        s.collect_seq(names.into_iter().map(|name| GroupName { name }))
    }
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

/// Nova's `network:attach_external_network` (admins only), and Neutron's
/// rule that only the network's owner chooses addresses on it.
pub(crate) fn may_attach(ctx: &Context, project: &str, network: &NetworkRow, fixed_ip: bool) -> Result<()> {
    if ctx.is_admin() {
        return Ok(());
    }
    if network.external {
        return Err(oxistack_core::policy::denied("network:attach_external_network"));
    }
    if fixed_ip && network.project_id != project {
        return Err(Error::Forbidden(format!(
            "Policy doesn't allow create_port:fixed_ips:ip_address to be performed on network {}.",
            network.id
        )));
    }
    Ok(())
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
                    let found = network
                        .network(ctx, n)
                        .await
                        .map_err(|_| Error::BadRequest(format!("Network {n} could not be found.")))?;
                    may_attach(ctx, project, &found, r.fixed_ip.is_some())?;
                }
                if let Some(p) = &r.port {
                    let port = network
                        .port(ctx, p)
                        .await
                        .map_err(|_| Error::BadRequest(format!("Port {p} could not be found.")))?;
                    if !port.device_id.is_empty() {
                        return Err(Error::Conflict(format!("Port {p} is still in use.")));
                    }
                    // Nova's PortNotUsable: a server takes only its own project's ports.
                    if port.project_id != project {
                        return Err(Error::BadRequest(format!(
                            "Port {p} not usable for instance: it belongs to another project."
                        )));
                    }
                }
            }
            Requested::List(list.clone())
        }
        Requested::Auto => {
            // The project's own networks; else the shared ones; else its
            // auto-allocated topology.
            let all: Vec<NetworkRow> = network.all_networks().await.map_err(neutron)?;
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
    let mut preserved = vec![];
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
        if r.port.is_some() {
            preserved.push(port_id);
        }
    }
    let mut vifs = refresh(network, pool, instance).await?;
    if !preserved.is_empty() {
        for v in vifs.iter_mut() {
            v.preserve = v.preserve || preserved.contains(&v.port_id);
        }
        crate::store::set_network_info(pool, instance, &vifs).await?;
    }
    Ok(vifs)
}

/// The ports the user handed to the instance, from its cached interfaces.
async fn preserved_ports(pool: &oxistack_core::db::Pool, instance: &str) -> Result<Vec<String>> {
    let vifs = crate::store::network_info(pool, instance).await?.unwrap_or_default();
    Ok(vifs.into_iter().filter(|v| v.preserve).map(|v| v.port_id).collect())
}

/// The instance's ports: those naming it as their device and belonging to
/// its own project, as Nova lists them (`device_id` and `tenant_id`). A
/// port another project made with this instance as its `device_id`
/// changes nothing for it.
async fn instance_ports(network: &Network, pool: &oxistack_core::db::Pool, instance: &str) -> Result<Vec<PortRow>> {
    let Some(project) = crate::store::project_of(pool, instance).await? else { return Ok(vec![]) };
    let ports = network.ports_of_device(instance).await.map_err(neutron)?;
    Ok(ports.into_iter().filter(|p| p.project_id == project).collect())
}

/// Reads the instance's ports back from the Network service into its
/// interfaces, records them, and answers them.
pub async fn refresh(network: &Network, pool: &oxistack_core::db::Pool, instance: &str) -> Result<Vec<Vif>> {
    let kept = preserved_ports(pool, instance).await?;
    let ports = instance_ports(network, pool, instance).await?;
    let mut out = vec![];
    for p in ports {
        let net = network.network_row(&p.network_id).await.map_err(neutron)?;
        let allocations = network.addresses_of(&p.id).await.map_err(neutron)?;
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
            if let Some(sg) = network.security_group_row(g).await.map_err(neutron)? {
                names.push(sg.name);
            }
        }
        out.push(Vif {
            port_id: p.id.clone(),
            network: net.map(|n| n.name).unwrap_or_default(),
            mac: p.mac_address.clone(),
            fixed_ip: fixed,
            fixed_ips_v6: allocations.iter().filter_map(|a| a.ip_address.parse().ok()).collect(),
            prefix,
            gateway,
            floating_ip: floating,
            tcp_ports: if p.port_security_enabled { ingress_tcp_ports(&rules, MAX_FORWARDED_RANGE) } else { vec![22] },
            security_groups: names,
            preserve: kept.contains(&p.id),
        });
    }
    crate::store::set_network_info(pool, instance, &out).await?;
    Ok(out)
}

/// Releases the instance's ports (deleted, or unbound when the user made
/// them) and the floating IPs given to them at boot; the instance keeps its
/// last `network_info`, as Nova's info cache of a deleted instance does.
pub async fn release(network: &Network, pool: &oxistack_core::db::Pool, instance: &str) -> Result<()> {
    let auto = format!("{AUTO_FLOATING} {instance}");
    let kept = preserved_ports(pool, instance).await?;
    let ports = instance_ports(network, pool, instance).await?;
    for p in ports.iter().filter(|p| p.device_owner.starts_with("compute:")) {
        network.release_port(&p.id, &auto, kept.contains(&p.id)).await.map_err(neutron)?;
    }
    Ok(())
}

impl crate::Compute {
    /// The ports of a server, as the Network service shows them.
    pub async fn interfaces(&self, ctx: &Context, id: &str) -> Result<Vec<Value>> {
        let inst = self.instance(ctx, id).await?;
        let acting = oxistack_network::topology::acting_for(&inst.project_id);
        let ports = instance_ports(&self.network, &self.pool, &inst.id).await?;
        let mut out = vec![];
        for p in ports {
            out.push(self.network.show_port(&acting, &p.id).await.map_err(neutron)?);
        }
        Ok(out)
    }

    pub(crate) fn can_plug(&self, inst: &crate::store::Instance, action: &str) -> Result<()> {
        use crate::states::VmState::{Active, Paused, Stopped};
        if !matches!(inst.vm_state, Active | Paused | Stopped) || inst.task_state.is_some() {
            return Err(Error::Conflict(format!(
                "Cannot '{action}' instance {} while it is in vm_state {}",
                inst.id, inst.vm_state
            )));
        }
        Ok(())
    }

    /// `POST /servers/{id}/os-interface`: a new port on a network (or an
    /// existing one), plugged into the server.
    pub async fn attach_interface(
        &self,
        ctx: &Context,
        id: &str,
        net_id: Option<String>,
        port_id: Option<String>,
        fixed_ip: Option<String>,
    ) -> Result<Value> {
        let inst = self.instance_to_change(ctx, id).await?;
        self.can_plug(&inst, "attach_interface")?;
        let requested = match (net_id, port_id) {
            (None, None) => Requested::Auto,
            (network, port) => Requested::List(vec![RequestedNetwork { network, fixed_ip, port }]),
        };
        let (requested, groups) = resolve(&self.network, ctx, &inst.project_id, &requested, &[]).await?;
        let before: Vec<&str> = inst.network_info.iter().map(|v| v.port_id.as_str()).collect();
        let after = allocate(&self.network, &self.pool, &inst, &self.config.host, &requested, &groups).await?;
        let Some(new) = after.iter().find(|v| !before.contains(&v.port_id.as_str())).cloned() else {
            return Err(Error::BadRequest("The new port has no IPv4 address to plug.".into()));
        };
        if let Err(e) = self.driver.attach_interface(&inst.id, &new).await {
            let auto = format!("{AUTO_FLOATING} {}", inst.id);
            let _ = self.network.release_port(&new.port_id, &auto, new.preserve).await;
            refresh(&self.network, &self.pool, &inst.id).await?;
            return Err(Error::Conflict(format!("Failed to attach network adapter device to {}: {e}", inst.id)));
        }
        let acting = oxistack_network::topology::acting_for(&inst.project_id);
        self.network.show_port(&acting, &new.port_id).await.map_err(neutron)
    }

    /// `DELETE /servers/{id}/os-interface/{port}`: unplugged, and deleted
    /// unless the user made it (then only unbound), as Nova does.
    pub async fn detach_interface(&self, ctx: &Context, id: &str, port: &str) -> Result<()> {
        let inst = self.instance_to_change(ctx, id).await?;
        self.can_plug(&inst, "detach_interface")?;
        let vif = (inst.network_info.iter())
            .find(|v| v.port_id == port)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("Port {port} is not attached")))?;
        self.driver
            .detach_interface(&inst.id, &vif)
            .await
            .map_err(|e| Error::Conflict(format!("Failed to detach network adapter device from {}: {e}", inst.id)))?;
        let auto = format!("{AUTO_FLOATING} {}", inst.id);
        self.network.release_port(port, &auto, vif.preserve).await.map_err(neutron)?;
        refresh(&self.network, &self.pool, &inst.id).await?;
        Ok(())
    }
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
            fixed_ips_v6: vec![],
            prefix: 24,
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            floating_ip: Some(Ipv4Addr::new(127, 42, 0, 2)),
            tcp_ports: vec![22],
            security_groups: vec![sg.into()],
            preserve: false,
        };
        let info = [vif("private", "default"), vif("barnet", "default")];
        let a = json!(Addresses(&info));
        assert_eq!(a["private"][0]["addr"], "10.0.0.10");
        assert_eq!(a["private"][0]["OS-EXT-IPS:type"], "fixed");
        assert_eq!(a["private"][1]["addr"], "127.42.0.2");
        assert_eq!(a["private"][1]["OS-EXT-IPS:type"], "floating");
        assert_eq!(json!(SecurityGroups(&info)), json!([{"name": "default"}]));
    }
}
