//! The compute hosts as the scheduler and the admin APIs see them: the size
//! each host's server reports (the driver's, or the machine's real vCPUs,
//! RAM and disk), its allocation ratios, and what its instances use.

use std::path::Path;

use md5::{Digest, Md5};

use oxistack_core::db::Pool;
use oxistack_core::error::Result;

pub use crate::store::nodes::{nodes, ComputeNode, HostUsage};
use crate::store::{self, Flavor};
use crate::virt::Capacity;

/// Nova's `service_down_time`: a host whose server's last heartbeat is older
/// is down.
pub const SERVICE_DOWN_TIME: chrono::Duration = chrono::Duration::seconds(60);

/// Whether the host's server beat its heartbeat within
/// [`SERVICE_DOWN_TIME`].
pub fn is_up(node: &ComputeNode) -> bool {
    node.updated_at >= oxistack_core::time::iso_seconds(oxistack_core::time::now() - SERVICE_DOWN_TIME)
}

/// Every compute host, with what its live instances take of it.
pub async fn hypervisors(pool: &Pool) -> Result<Vec<(ComputeNode, HostUsage)>> {
    let mut usage: std::collections::HashMap<String, HostUsage> =
        store::nodes::usage_by_host(pool).await?.into_iter().map(|u| (u.host.clone(), u)).collect();
    Ok(nodes(pool)
        .await?
        .into_iter()
        .map(|n| {
            let used = usage.remove(&n.host).unwrap_or_default();
            (n, used)
        })
        .collect())
}

/// Capacity and use of the host.
#[derive(Clone, Debug, Default)]
pub struct HostState {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub vcpus_used: i64,
    pub memory_mb_used: i64,
    pub local_gb_used: i64,
    pub running_vms: i64,
}

fn mem_total_mb() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
        })
        .map(|kib| kib / 1024)
        .unwrap_or(0)
}

/// Size of the file system holding `path`, in GiB.
fn disk_gb(path: &Path) -> i64 {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else { return 0 };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a zeroed statvfs that
    // the call fills in; nothing is kept past the call.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return 0;
        }
        (st.f_blocks as i64 * st.f_frsize as i64) >> 30
    }
}

/// A stable UUID for a name (the host's id, its service's id).
pub fn stable_uuid(kind: &str, name: &str) -> String {
    let d = Md5::digest(format!("{kind}:{name}").as_bytes());
    uuid::Builder::from_md5_bytes(d.into()).into_uuid().to_string()
}

/// The host's size: the driver's, or the machine's real vCPUs, RAM and the
/// disk under `data_path`.
pub fn size(data_path: &Path, driver_size: Option<Capacity>) -> Capacity {
    driver_size.unwrap_or_else(|| Capacity {
        vcpus: std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1),
        memory_mb: mem_total_mb(),
        local_gb: disk_gb(data_path),
    })
}

/// A host's size as its server reported it, what its instances take of it,
/// and its allocation ratios; `None` for a host no server reported.
pub async fn state(pool: &Pool, host: &str) -> Result<Option<(HostState, AllocationRatios)>> {
    let Some(node) = store::nodes::node(pool, host).await? else { return Ok(None) };
    let used = store::nodes::usage_of(pool, host).await?;
    Ok(Some((HostState::of(&node, &used), AllocationRatios::of(&node))))
}

/// Nova's allocation ratios: how far each resource of a host may be
/// overcommitted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AllocationRatios {
    pub cpu: f64,
    pub ram: f64,
    pub disk: f64,
}

impl AllocationRatios {
    /// Those the host's server reported.
    pub fn of(node: &ComputeNode) -> AllocationRatios {
        AllocationRatios {
            cpu: node.cpu_allocation_ratio,
            ram: node.ram_allocation_ratio,
            disk: node.disk_allocation_ratio,
        }
    }
}

impl Default for AllocationRatios {
    /// Nova's `initial_*_allocation_ratio` defaults.
    fn default() -> Self {
        AllocationRatios { cpu: 4.0, ram: 1.0, disk: 1.0 }
    }
}

/// What an instance of `flavor` takes of a host: vCPUs, RAM (MiB) and disk
/// (GiB: root, ephemeral, and swap rounded up).
fn needs(flavor: &Flavor) -> [i64; 3] {
    [flavor.vcpus, flavor.ram, flavor.disk + flavor.ephemeral + (flavor.swap + 1023) / 1024]
}

impl HostState {
    /// The host of `node`, with `used` of it taken.
    pub fn of(node: &ComputeNode, used: &HostUsage) -> HostState {
        HostState {
            vcpus: node.vcpus,
            memory_mb: node.memory_mb,
            local_gb: node.local_gb,
            vcpus_used: used.vcpus,
            memory_mb_used: used.memory_mb,
            local_gb_used: used.disk_gb,
            running_vms: used.instances,
        }
    }

    /// The host's vCPUs, RAM and disk overcommitted by `ratios`, and what
    /// is used of each.
    pub(crate) fn sizes(&self, ratios: &AllocationRatios) -> [(i64, i64); 3] {
        let over = |total: i64, ratio: f64| (total as f64 * ratio).floor() as i64;
        [
            (over(self.vcpus, ratios.cpu), self.vcpus_used),
            (over(self.memory_mb, ratios.ram), self.memory_mb_used),
            (over(self.local_gb, ratios.disk), self.local_gb_used),
        ]
    }

    /// How many more instances of `flavor` the host takes: the scheduler's
    /// core, RAM and disk filters against the overcommitted size.
    pub fn room_for(&self, flavor: &Flavor, ratios: &AllocationRatios) -> i64 {
        self.sizes(ratios)
            .iter()
            .zip(needs(flavor))
            .map(|(&(size, used), need)| if need <= 0 { i64::MAX } else { (size - used).max(0) / need })
            .min()
            .unwrap_or(i64::MAX)
    }

    /// Counts an instance of `flavor` as on the host.
    pub fn consume(&mut self, flavor: &Flavor) {
        let [vcpus, memory_mb, disk_gb] = needs(flavor);
        self.vcpus_used += vcpus;
        self.memory_mb_used += memory_mb;
        self.local_gb_used += disk_gb;
        self.running_vms += 1;
    }

    /// Whether an instance of `old` may become one of `new` here: each
    /// resource that grows still within the overcommitted size.
    pub fn fits_resize(&self, old: &Flavor, new: &Flavor, ratios: &AllocationRatios) -> bool {
        self.sizes(ratios)
            .iter()
            .zip(needs(old).into_iter().zip(needs(new)))
            .all(|(&(size, used), (from, to))| to <= from || used - from + to <= size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_the_scarcest_resource_overcommitted() {
        let host = HostState { vcpus: 2, memory_mb: 4096, local_gb: 10, vcpus_used: 1, ..Default::default() };
        let tiny = Flavor::new("1", "m1.tiny", 1, 512, 1);
        // 2 x 4 = 8 vCPUs, 1 used: 7; 4096 MiB: 8; 10 GiB: 10.
        assert_eq!(host.room_for(&tiny, &AllocationRatios::default()), 7);
        let ratios = AllocationRatios { cpu: 16.0, ram: 0.5, disk: 1.0 };
        assert_eq!(host.room_for(&tiny, &ratios), 4);
        let full = HostState { memory_mb_used: 5000, ..host };
        assert_eq!(full.room_for(&tiny, &AllocationRatios::default()), 0);
    }

    #[test]
    fn a_resize_fits_when_what_grows_still_fits() {
        let host = HostState {
            vcpus: 2,
            memory_mb: 4096,
            local_gb: 100,
            vcpus_used: 7,
            memory_mb_used: 512,
            ..Default::default()
        };
        let tiny = Flavor::new("1", "m1.tiny", 1, 512, 1);
        let two = Flavor::new("x", "two", 2, 512, 1);
        let big = Flavor::new("y", "big", 1, 8192, 1);
        let ratios = AllocationRatios::default();
        assert!(host.fits_resize(&tiny, &two, &ratios)); // 7 - 1 + 2 = 8 of 8 vCPUs
        assert!(!host.fits_resize(&tiny, &big, &ratios));
        assert!(HostState { vcpus_used: 8, ..host }.fits_resize(&two, &tiny, &ratios));
        // shrinking always fits
    }
}
