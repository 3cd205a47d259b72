//! This compute host as the scheduler and the admin APIs see it: its real
//! vCPUs, RAM and disk, and what its instances use of them.

use std::path::Path;

use md5::{Digest, Md5};

use oxistack_core::db::Pool;
use oxistack_core::error::Result;

use crate::store::{self, Flavor};

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

pub async fn state(pool: &Pool, host: &str, data_path: &Path) -> Result<HostState> {
    let mut s = HostState {
        vcpus: std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1),
        memory_mb: mem_total_mb(),
        local_gb: disk_gb(data_path),
        ..Default::default()
    };
    for i in store::instances(pool, None).await? {
        if i.host.as_deref() != Some(host) {
            continue;
        }
        if let Ok(f) = serde_json::from_str::<Flavor>(&i.flavor) {
            s.vcpus_used += f.vcpus;
            s.memory_mb_used += f.ram;
            s.local_gb_used += f.disk + f.ephemeral;
        }
        s.running_vms += 1;
    }
    Ok(s)
}
