//! The instances' network: a flat network as nova-network's FlatDHCP manager
//! ran it. Each instance gets one interface on `private` with a fixed address
//! (handed to the guest by DHCP), and a floating address from the public range
//! while that has room. The public range lies in 127.0.0.0/8, so floating
//! addresses reach instances from this machine only.

use std::net::Ipv4Addr;

use oxistack_core::db::Pool;
use oxistack_core::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The one fixed network.
pub const PRIVATE: &str = "private";
const PUBLIC: &str = "public";
/// 10.0.0.0/24 as DevStack's `private`; .1 is the gateway, and QEMU's
/// user-mode network keeps .2 and .3 for itself, so addresses start at .10.
const PRIVATE_NET: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 0);
const PRIVATE_PREFIX: u8 = 24;
const FIRST_HOST: u32 = 10;
/// The guest-visible TCP ports a floating address forwards.
const FORWARDED_TCP_PORTS: &[u16] = &[22];

/// An IPv4 network, `a.b.c.d/n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub net: Ipv4Addr,
    pub prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (addr, prefix) = s.split_once('/').ok_or_else(|| format!("{s} is not a CIDR (a.b.c.d/n)"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("{addr} is not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().ok().filter(|p| (8..=30).contains(p)).ok_or("the prefix must be 8 to 30")?;
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr { net: Ipv4Addr::from(u32::from(addr) & mask), prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl Cidr {
    fn hosts(&self) -> std::ops::RangeInclusive<u32> {
        let base = u32::from(self.net);
        base + 1..=base + (1u32 << (32 - self.prefix)) - 2
    }
}

/// One interface of an instance, as its driver plugs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vif {
    pub network: String,
    pub mac: String,
    pub fixed_ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub floating_ip: Option<Ipv4Addr>,
    /// Guest TCP ports reachable on the floating address.
    pub tcp_ports: Vec<u16>,
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
        let list = out.entry(vif.network.clone()).or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            list.push(entry(vif.fixed_ip, "fixed"));
            if let Some(f) = vif.floating_ip {
                list.push(entry(f, "floating"));
            }
        }
    }
    Value::Object(out)
}

/// Leases the lowest free address of `range` (from `first` on) to `instance`;
/// `None` when the range is full. Two concurrent leases of one address meet
/// the primary key, and the loser takes the next.
async fn lease(
    pool: &Pool,
    network: &str,
    range: std::ops::RangeInclusive<u32>,
    instance: &str,
) -> Result<Option<u32>> {
    for _ in 0..8 {
        let taken: Vec<(i64,)> = sqlx::query_as("SELECT address FROM ip_leases WHERE network = ? ORDER BY address")
            .bind(network)
            .fetch_all(pool)
            .await?;
        let taken: std::collections::HashSet<u32> = taken.into_iter().map(|(a,)| a as u32).collect();
        let Some(free) = range.clone().find(|a| !taken.contains(a)) else { return Ok(None) };
        let inserted = sqlx::query("INSERT OR IGNORE INTO ip_leases (network, address, instance_id) VALUES (?, ?, ?)")
            .bind(network)
            .bind(free as i64)
            .bind(instance)
            .execute(pool)
            .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Some(free));
        }
    }
    Err(Error::Conflict("The address allocation kept colliding; try again.".into()))
}

/// Gives an instance its interface and records it. An instance that already
/// has one keeps it (a rebuild, a restart half-way through a build).
pub async fn allocate(pool: &Pool, instance: &str, public: Option<Cidr>) -> Result<Vec<Vif>> {
    let (current,): (String,) =
        sqlx::query_as("SELECT network_info FROM instances WHERE id = ?").bind(instance).fetch_one(pool).await?;
    let existing = vifs(&current);
    if !existing.is_empty() {
        return Ok(existing);
    }
    let private = Cidr { net: PRIVATE_NET, prefix: PRIVATE_PREFIX };
    let first = u32::from(private.net) + FIRST_HOST;
    let fixed = lease(pool, PRIVATE, first..=*private.hosts().end(), instance)
        .await?
        .ok_or_else(|| Error::Conflict(format!("No more IP addresses available on network {PRIVATE} ({private}).")))?;
    let floating = match public {
        Some(range) => {
            let hosts = range.hosts();
            let found = lease(pool, PUBLIC, hosts.start() + 1..=*hosts.end(), instance).await?;
            if found.is_none() {
                tracing::warn!(instance, %range, "the public range is full: the instance gets no floating address");
            }
            found
        }
        None => None,
    };
    let bytes: [u8; 3] = rand::random();
    let vif = Vif {
        network: PRIVATE.into(),
        mac: format!("fa:16:3e:{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2]),
        fixed_ip: Ipv4Addr::from(fixed),
        prefix: private.prefix,
        gateway: Ipv4Addr::from(u32::from(private.net) + 1),
        floating_ip: floating.map(Ipv4Addr::from),
        tcp_ports: FORWARDED_TCP_PORTS.to_vec(),
    };
    let info = serde_json::to_string(&[&vif]).map_err(anyhow::Error::from)?;
    sqlx::query("UPDATE instances SET network_info = ? WHERE id = ?").bind(info).bind(instance).execute(pool).await?;
    Ok(vec![vif])
}

/// Frees an instance's addresses once its driver let go of them. The record
/// keeps its `network_info`, as Nova's info cache of a deleted instance does.
pub async fn release(pool: &Pool, instance: &str) -> Result<()> {
    sqlx::query("DELETE FROM ip_leases WHERE instance_id = ?").bind(instance).execute(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_and_normalises() {
        let c: Cidr = "127.42.0.7/24".parse().unwrap();
        assert_eq!(c.to_string(), "127.42.0.0/24");
        assert_eq!(c.hosts(), u32::from(Ipv4Addr::new(127, 42, 0, 1))..=u32::from(Ipv4Addr::new(127, 42, 0, 254)));
        assert!("127.42.0.0".parse::<Cidr>().is_err());
        assert!("127.42.0.0/31".parse::<Cidr>().is_err());
    }

    #[test]
    fn addresses_list_fixed_then_floating() {
        let vif = Vif {
            network: PRIVATE.into(),
            mac: "fa:16:3e:00:00:01".into(),
            fixed_ip: Ipv4Addr::new(10, 0, 0, 10),
            prefix: 24,
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            floating_ip: Some(Ipv4Addr::new(127, 42, 0, 2)),
            tcp_ports: vec![22],
        };
        let a = addresses(&serde_json::to_string(&[vif]).unwrap());
        assert_eq!(a["private"][0]["addr"], "10.0.0.10");
        assert_eq!(a["private"][0]["OS-EXT-IPS:type"], "fixed");
        assert_eq!(a["private"][1]["addr"], "127.42.0.2");
        assert_eq!(a["private"][1]["OS-EXT-IPS:type"], "floating");
    }
}
