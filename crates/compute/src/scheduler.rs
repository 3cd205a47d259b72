//! Nova's filter scheduler: which compute host takes each instance of a boot.
//!
//! The hosts are the `compute_nodes` rows every server on the database keeps
//! for its own host. Filters drop the hosts that cannot take an instance
//! (Nova's names: `ComputeFilter`, `AvailabilityZoneFilter`, the resources
//! Placement would refuse, `ServerGroupAffinityFilter`,
//! `ServerGroupAntiAffinityFilter`); weighers order the rest (`RAMWeigher`,
//! `CPUWeigher`, `DiskWeigher`, `ServerGroupSoftAffinityWeigher`,
//! `ServerGroupSoftAntiAffinityWeigher`, each normalised over the hosts as
//! Nova does), and the best one takes the instance; its state then counts the
//! instance, so the next of the same boot sees it there. Equal weights go to
//! the host of the server that took the request, which then builds it without
//! handing it over.
//!
//! The caller holds the scheduling lock (see [`crate::service::SCHEDULING`])
//! from reading the hosts until the instances are written.

use std::collections::HashMap;

use oxistack_core::db::Pool;
use oxistack_core::error::Result;

use crate::aggregates;
use crate::host::{self, AllocationRatios, HostState};
use crate::server_groups::Group;
use crate::store::{self, Flavor};

/// A compute host as the scheduler weighs it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub host: String,
    pub zone: String,
    /// Its server beat its heartbeat within [`host::SERVICE_DOWN_TIME`].
    pub up: bool,
    pub state: HostState,
    pub ratios: AllocationRatios,
    /// Live members of the boot's server group on the host.
    pub group_members: i64,
}

/// A server group's policy, as the filters and weighers read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GroupPolicy {
    Affinity,
    AntiAffinity { max_server_per_host: i64 },
    SoftAffinity,
    SoftAntiAffinity,
}

impl GroupPolicy {
    pub fn of(g: &Group) -> Option<GroupPolicy> {
        match g.policy.as_str() {
            "affinity" => Some(GroupPolicy::Affinity),
            "anti-affinity" => {
                let per_host = g.rules.get("max_server_per_host").and_then(serde_json::Value::as_i64).unwrap_or(1);
                Some(GroupPolicy::AntiAffinity { max_server_per_host: per_host })
            }
            "soft-affinity" => Some(GroupPolicy::SoftAffinity),
            "soft-anti-affinity" => Some(GroupPolicy::SoftAntiAffinity),
            _ => None,
        }
    }
}

/// What a boot asks of the host of each of its instances.
#[derive(Clone, Debug)]
pub struct RequestSpec<'a> {
    pub flavor: &'a Flavor,
    /// The availability zone asked for.
    pub zone: Option<&'a str>,
    /// `zone:host`: an admin's pick of the host (the zone filter is
    /// bypassed; the host must still be up and have room).
    pub forced_host: Option<&'a str>,
    pub group: Option<GroupPolicy>,
}

/// The hosts of the cloud with what their instances take of them, the one
/// named `local` first; `group` is the boot's server group, if any.
pub async fn candidates(pool: &Pool, local: &str, default_zone: &str, group: Option<&Group>) -> Result<Vec<Candidate>> {
    let members: HashMap<String, i64> = match group {
        Some(g) => store::server_groups::member_hosts(pool, &g.id).await?.into_iter().collect(),
        None => HashMap::new(),
    };
    let mut hosts = vec![];
    let zones = aggregates::Zones::read(pool, default_zone).await?;
    for (node, used) in host::hypervisors(pool).await? {
        hosts.push(Candidate {
            zone: zones.of(&node.host).to_owned(),
            up: host::is_up(&node),
            state: HostState::of(&node, &used),
            ratios: AllocationRatios::of(&node),
            group_members: members.get(&node.host).copied().unwrap_or(0),
            host: node.host,
        });
    }
    // Stable sorts keep this order among equal weights.
    hosts.sort_by_key(|c| c.host != local);
    Ok(hosts)
}

/// `ComputeFilter`: the host's service is up.
fn compute_filter(c: &Candidate) -> bool {
    c.up
}

/// `AvailabilityZoneFilter`: the host is in the zone asked for.
fn availability_zone_filter(c: &Candidate, spec: &RequestSpec) -> bool {
    spec.forced_host.is_some() || spec.zone.is_none_or(|z| z == c.zone)
}

/// What Placement's allocation candidates check (the `CoreFilter`,
/// `RamFilter` and `DiskFilter` of old): the flavor fits in what is left of
/// the overcommitted host.
fn resources_filter(c: &Candidate, spec: &RequestSpec) -> bool {
    c.state.room_for(spec.flavor, &c.ratios) >= 1
}

/// `ServerGroupAffinityFilter`: once a member is placed, the group's host
/// is the only one.
fn server_group_affinity_filter(c: &Candidate, spec: &RequestSpec, placed: bool) -> bool {
    spec.group != Some(GroupPolicy::Affinity) || !placed || c.group_members > 0
}

/// `ServerGroupAntiAffinityFilter`: at most `max_server_per_host` members
/// on a host.
fn server_group_anti_affinity_filter(c: &Candidate, spec: &RequestSpec) -> bool {
    match spec.group {
        Some(GroupPolicy::AntiAffinity { max_server_per_host }) => c.group_members < max_server_per_host,
        _ => true,
    }
}

fn passes(c: &Candidate, spec: &RequestSpec, placed: bool) -> bool {
    spec.forced_host.is_none_or(|h| h == c.host)
        && compute_filter(c)
        && availability_zone_filter(c, spec)
        && resources_filter(c, spec)
        && server_group_affinity_filter(c, spec, placed)
        && server_group_anti_affinity_filter(c, spec)
}

/// Nova's `normalize`: the values scaled to 0..1 between their least and
/// most; all 0 when they are equal.
fn normalize(values: &[f64]) -> Vec<f64> {
    let (min, max) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    values.iter().map(|&v| if max > min { (v - min) / (max - min) } else { 0.0 }).collect()
}

/// The free part of each overcommitted resource: (vCPUs, RAM MiB, disk GiB).
fn free(c: &Candidate) -> [f64; 3] {
    c.state.sizes(&c.ratios).map(|(size, used)| (size - used) as f64)
}

/// The weighers' sum for each host (every multiplier Nova's default 1.0):
/// most free RAM, vCPUs and disk first, that spreads instances; the soft
/// group policies pull members together or apart.
fn weigh(hosts: &[&Candidate], spec: &RequestSpec) -> Vec<f64> {
    let mut total = vec![0.0; hosts.len()];
    let mut add = |values: Vec<f64>| {
        for (t, w) in total.iter_mut().zip(normalize(&values)) {
            *t += w;
        }
    };
    for resource in 0..3 {
        // RAMWeigher, CPUWeigher, DiskWeigher
        add(hosts.iter().map(|c| free(c)[resource]).collect());
    }
    match spec.group {
        Some(GroupPolicy::SoftAffinity) => add(hosts.iter().map(|c| c.group_members as f64).collect()),
        Some(GroupPolicy::SoftAntiAffinity) => add(hosts.iter().map(|c| -(c.group_members as f64)).collect()),
        _ => {}
    }
    total
}

/// The host of each of `count` instances, `None` for one no host can take
/// (it ends in ERROR with NoValidHost, as in Nova).
pub fn select_destinations(mut hosts: Vec<Candidate>, spec: &RequestSpec, count: i64) -> Vec<Option<String>> {
    let mut chosen = vec![];
    for _ in 0..count {
        let placed = hosts.iter().any(|c| c.group_members > 0);
        let passing: Vec<usize> = (0..hosts.len()).filter(|&i| passes(&hosts[i], spec, placed)).collect();
        let weights = weigh(&passing.iter().map(|&i| &hosts[i]).collect::<Vec<_>>(), spec);
        // The first of the heaviest: ties keep the candidates' order.
        let best = passing
            .iter()
            .zip(&weights)
            .fold(None::<(usize, f64)>, |best, (&i, &w)| match best {
                Some((_, bw)) if bw >= w => best,
                _ => Some((i, w)),
            })
            .map(|(i, _)| i);
        chosen.push(best.map(|i| {
            let c = &mut hosts[i];
            c.state.consume(spec.flavor);
            c.group_members += 1;
            c.host.clone()
        }));
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, vcpus: i64, memory_mb: i64) -> Candidate {
        Candidate {
            host: name.into(),
            zone: "nova".into(),
            up: true,
            state: HostState { vcpus, memory_mb, local_gb: 100, ..Default::default() },
            ratios: AllocationRatios { cpu: 1.0, ram: 1.0, disk: 1.0 },
            group_members: 0,
        }
    }

    fn spec(flavor: &Flavor) -> RequestSpec<'_> {
        RequestSpec { flavor, zone: None, forced_host: None, group: None }
    }

    #[test]
    fn instances_spread_over_the_freest_hosts_and_ties_stay_local() {
        let tiny = Flavor::new("1", "m1.tiny", 1, 512, 1);
        let hosts = vec![host("a", 4, 4096), host("b", 4, 4096)];
        // Equal hosts: the first (the local one) takes the first instance,
        // then the other is the freer.
        let got = select_destinations(hosts.clone(), &spec(&tiny), 4);
        assert_eq!(got, ["a", "b", "a", "b"].map(|h| Some(h.to_string())));
        // Beyond what both have room for: NoValidHost.
        let got = select_destinations(hosts, &spec(&tiny), 9);
        assert_eq!(got.iter().filter(|h| h.is_none()).count(), 1);
    }

    #[test]
    fn filters_drop_down_hosts_other_zones_and_full_hosts() {
        let tiny = Flavor::new("1", "m1.tiny", 1, 512, 1);
        let mut down = host("down", 64, 65536);
        down.up = false;
        let mut elsewhere = host("elsewhere", 64, 65536);
        elsewhere.zone = "other".into();
        let full = HostState { vcpus_used: 1, ..host("full", 1, 65536).state };
        let full = Candidate { state: full, ..host("full", 1, 65536) };
        let hosts = vec![down, elsewhere, full, host("small", 1, 512)];
        let want = RequestSpec { zone: Some("nova"), ..spec(&tiny) };
        assert_eq!(select_destinations(hosts.clone(), &want, 2), [Some("small".to_string()), None]);
        // An admin's forced host skips the zone, not its being up.
        let forced = RequestSpec { forced_host: Some("elsewhere"), ..want.clone() };
        assert_eq!(select_destinations(hosts.clone(), &forced, 1), [Some("elsewhere".to_string())]);
        let forced = RequestSpec { forced_host: Some("down"), ..want };
        assert_eq!(select_destinations(hosts, &forced, 1), [None]);
    }

    #[test]
    fn group_policies_pin_or_part_their_members() {
        let tiny = Flavor::new("1", "m1.tiny", 1, 512, 1);
        let mut b = host("b", 4, 4096);
        b.group_members = 1;
        let hosts = vec![host("a", 8, 8192), b];
        let with = |group| RequestSpec { group: Some(group), ..spec(&tiny) };
        let all_b = vec![Some("b".to_string()); 2];
        assert_eq!(select_destinations(hosts.clone(), &with(GroupPolicy::Affinity), 2), all_b);
        let anti = with(GroupPolicy::AntiAffinity { max_server_per_host: 1 });
        assert_eq!(select_destinations(hosts.clone(), &anti, 2), [Some("a".to_string()), None]);
        // Between hosts of equal room, the soft policies decide.
        let mut b = host("b", 8, 8192);
        b.group_members = 1;
        let hosts = vec![host("a", 8, 8192), b];
        assert_eq!(select_destinations(hosts.clone(), &with(GroupPolicy::SoftAffinity), 1)[0].as_deref(), Some("b"));
        assert_eq!(select_destinations(hosts, &with(GroupPolicy::SoftAntiAffinity), 1)[0].as_deref(), Some("a"));
    }
}
