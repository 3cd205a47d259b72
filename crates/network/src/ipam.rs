//! Address arithmetic for IPv4 and IPv6 subnets: CIDRs, Neutron's default
//! gateway and allocation pools, overlap, and the free ranges a subnet's
//! pools leave once its taken addresses are out. The store keeps those
//! ranges and gives addresses from them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A network prefix, IPv4 or IPv6, held as a 128-bit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub version: u8,
    pub base: u128,
    pub prefix: u8,
}

fn bits(version: u8) -> u8 {
    if version == 4 {
        32
    } else {
        128
    }
}

pub fn to_number(ip: IpAddr) -> (u8, u128) {
    match ip {
        IpAddr::V4(a) => (4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (6, u128::from(a)),
    }
}

pub fn to_ip(version: u8, n: u128) -> IpAddr {
    if version == 4 {
        IpAddr::V4(std::net::Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(std::net::Ipv6Addr::from(n))
    }
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::/n`; host bits are cleared, as Neutron does.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = s.split_once('/').ok_or_else(|| format!("'{s}' is not a valid IP subnet"))?;
        let ip: IpAddr = addr.parse().map_err(|_| format!("'{s}' is not a valid IP subnet"))?;
        let (version, n) = to_number(ip);
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= bits(version))
            .ok_or_else(|| format!("'{s}' is not a valid IP subnet"))?;
        let mask = Self::mask(version, prefix);
        Ok(Cidr { version, base: n & mask, prefix })
    }

    fn mask(version: u8, prefix: u8) -> u128 {
        let host_bits = u32::from(bits(version) - prefix);
        let all = if version == 4 { u128::from(u32::MAX) } else { u128::MAX };
        if host_bits >= 128 {
            0
        } else {
            all & !((1u128 << host_bits) - 1)
        }
    }

    /// The last address of the prefix.
    pub fn last(&self) -> u128 {
        let host_bits = bits(self.version) - self.prefix;
        if host_bits == 128 {
            u128::MAX
        } else {
            self.base | ((1u128 << host_bits) - 1)
        }
    }

    pub fn contains(&self, n: u128) -> bool {
        n >= self.base && n <= self.last()
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.version == other.version && self.base <= other.last() && other.base <= self.last()
    }

    /// Neutron's default gateway: the first address after the network's.
    pub fn default_gateway(&self) -> Option<u128> {
        (self.last() > self.base + 1).then_some(self.base + 1)
    }

    /// Neutron's default pools: every usable address but the gateway (IPv4
    /// keeps the network and broadcast addresses out; IPv6 only the
    /// subnet-router anycast address).
    pub fn default_pools(&self, gateway: Option<u128>) -> Vec<Pool> {
        let first = self.base + 1;
        let last = if self.version == 4 { self.last().saturating_sub(1) } else { self.last() };
        if last < first {
            return vec![];
        }
        let mut pools = vec![];
        match gateway.filter(|g| *g >= first && *g <= last) {
            Some(g) => {
                if g > first {
                    pools.push((first, g - 1));
                }
                if g < last {
                    pools.push((g + 1, last));
                }
            }
            None => pools.push((first, last)),
        }
        pools.into_iter().map(|(a, b)| Pool::new(self.version, a, b)).collect()
    }

    pub fn to_string_form(&self) -> String {
        format!("{}/{}", to_ip(self.version, self.base), self.prefix)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string_form())
    }
}

/// An allocation pool as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub start: String,
    pub end: String,
}

impl Pool {
    pub fn new(version: u8, start: u128, end: u128) -> Pool {
        Pool { start: to_ip(version, start).to_string(), end: to_ip(version, end).to_string() }
    }

    /// The pool as numbers, checked to lie in `cidr` and be in order.
    pub fn range(&self, cidr: &Cidr) -> Result<(u128, u128), String> {
        let parse = |s: &str| -> Result<u128, String> {
            let ip: IpAddr = s.parse().map_err(|_| format!("'{s}' is not a valid IP address"))?;
            let (v, n) = to_number(ip);
            if v != cidr.version || !cidr.contains(n) {
                return Err(format!(
                    "The allocation pool {}-{} spans beyond the subnet cidr {cidr}.",
                    self.start, self.end
                ));
            }
            Ok(n)
        };
        let (a, b) = (parse(&self.start)?, parse(&self.end)?);
        if a > b {
            return Err(format!(
                "Invalid input for operation: allocation pool {}-{} is not in order.",
                self.start, self.end
            ));
        }
        Ok((a, b))
    }
}

/// The addresses of `pools` not in `taken`, as ranges in order: what a
/// subnet has left to give.
pub fn free_ranges(pools: &[(u128, u128)], taken: &[u128]) -> Vec<(u128, u128)> {
    let mut taken = taken.to_vec();
    taken.sort_unstable();
    let mut pools = pools.to_vec();
    pools.sort_unstable();
    let mut out = vec![];
    for (start, end) in pools {
        let mut next = Some(start);
        for &t in taken.iter().filter(|t| (start..=end).contains(*t)) {
            if let Some(from) = next.filter(|from| *from < t) {
                out.push((from, t - 1));
            }
            next = t.checked_add(1).filter(|n| *n <= end);
            if next.is_none() {
                break;
            }
        }
        if let Some(from) = next {
            out.push((from, end));
        }
    }
    out
}

/// Whether `n` lies in one of `pools`: only such addresses go back to the
/// free ranges when released (a gateway or an address given outside the
/// pools never does).
pub fn in_pools(pools: &[(u128, u128)], n: u128) -> bool {
    pools.iter().any(|(a, b)| (*a..=*b).contains(&n))
}

impl crate::store::SubnetRow {
    /// The subnet's allocation pools as numbers (those that parse).
    pub fn pool_ranges(&self) -> Vec<(u128, u128)> {
        let Ok(cidr) = Cidr::parse(&self.cidr) else { return vec![] };
        let pools: Vec<Pool> = serde_json::from_str(&self.allocation_pools).unwrap_or_default();
        pools.iter().filter_map(|p| p.range(&cidr).ok()).collect()
    }
}

/// How many addresses `pools` hold (saturating, for IPv6).
pub fn pool_size(pools: &[(u128, u128)]) -> u128 {
    pools.iter().fold(0u128, |acc, (a, b)| acc.saturating_add(b - a).saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> u128 {
        to_number(s.parse().unwrap()).1
    }

    #[test]
    fn ipv4_defaults_follow_neutron() {
        let c = Cidr::parse("10.77.0.0/24").unwrap();
        assert_eq!(c.default_gateway(), Some(n("10.77.0.1")));
        assert_eq!(c.default_pools(c.default_gateway()), vec![Pool::new(4, n("10.77.0.2"), n("10.77.0.254"))]);
        assert_eq!(Cidr::parse("10.77.0.9/24").unwrap().to_string(), "10.77.0.0/24");
        let tiny = Cidr::parse("10.9.0.0/29").unwrap();
        assert_eq!(tiny.default_pools(tiny.default_gateway()), vec![Pool::new(4, n("10.9.0.2"), n("10.9.0.6"))]);
    }

    #[test]
    fn free_ranges_are_the_pools_without_the_taken_addresses() {
        let pools = [(10, 20), (30, 30), (40, 45)];
        assert_eq!(free_ranges(&pools, &[]), pools.to_vec());
        assert_eq!(free_ranges(&pools, &[12, 10, 20, 30, 99, 44]), vec![(11, 11), (13, 19), (40, 43), (45, 45)]);
        assert_eq!(free_ranges(&[(0, 3)], &[0, 1, 2, 3]), vec![]);
        assert_eq!(free_ranges(&[(u128::MAX - 1, u128::MAX)], &[u128::MAX]), vec![(u128::MAX - 1, u128::MAX - 1)]);
        assert_eq!(free_ranges(&[(5, 9)], &[9]), vec![(5, 8)]);
    }

    #[test]
    fn ipv6_defaults_and_overlap() {
        let c = Cidr::parse("fd00:1::/64").unwrap();
        assert_eq!(c.default_gateway(), Some(n("fd00:1::1")));
        assert_eq!(c.default_pools(c.default_gateway())[0].start, "fd00:1::2");
        assert_eq!(c.default_pools(c.default_gateway())[0].end, "fd00:1::ffff:ffff:ffff:ffff");
        assert!(Cidr::parse("10.0.0.0/16").unwrap().overlaps(&Cidr::parse("10.0.5.0/24").unwrap()));
        assert!(!Cidr::parse("10.0.0.0/24").unwrap().overlaps(&Cidr::parse("10.0.1.0/24").unwrap()));
        assert!(!Cidr::parse("::/0").unwrap().overlaps(&Cidr::parse("10.0.1.0/24").unwrap()));
        assert_eq!(Cidr::parse("::/0").unwrap().last(), u128::MAX);
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().last(), u128::from(u32::MAX));
    }

    #[test]
    fn gateway_inside_splits_the_pool_and_free_addresses_skip_taken_ones() {
        let c = Cidr::parse("192.168.1.0/29").unwrap();
        let pools = c.default_pools(Some(n("192.168.1.3")));
        assert_eq!(
            pools,
            vec![Pool::new(4, n("192.168.1.1"), n("192.168.1.2")), Pool::new(4, n("192.168.1.4"), n("192.168.1.6"))]
        );
        let ranges: Vec<_> = pools.iter().map(|p| p.range(&c).unwrap()).collect();
        assert_eq!(pool_size(&ranges), 5);
        assert!(in_pools(&ranges, n("192.168.1.2")) && !in_pools(&ranges, n("192.168.1.3")));
        assert!(Pool { start: "192.168.2.1".into(), end: "192.168.2.5".into() }.range(&c).is_err());
    }
}
