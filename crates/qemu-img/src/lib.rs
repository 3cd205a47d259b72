//! `qemu-img`, run as untrusted data deserves: every call names the format
//! it expects, runs under CPU-time and address-space limits, and never
//! passes on what the tool prints (it may name host paths, and errors end
//! up in faults users read). Compute's QEMU driver and Block Storage's file
//! backend both open images through it.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use serde_json::Value;

/// The disk formats QEMU opens here, as Glance names them, and QEMU's
/// names: only those the format inspector proves self-contained.
pub fn qemu_format(disk_format: &str) -> Option<&'static str> {
    Some(match disk_format {
        "raw" => "raw",
        "qcow2" => "qcow2",
        "vmdk" => "vmdk",
        "vdi" => "vdi",
        "vhd" => "vpc",
        _ => return None,
    })
}

/// Resource limits of one `qemu-img` run, as Nova's `qemu_img_info` sets
/// them with prlimit: a crafted image can neither make it spin nor make it
/// take the host's memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub cpu_seconds: Option<u64>,
    pub address_space: u64,
}

/// For reading headers (`info`): Nova's 30 s of CPU and 1 GiB.
pub const READ_LIMITS: Limits = Limits { cpu_seconds: Some(30), address_space: 1 << 30 };
/// For work that is proportional to the image (convert, create, resize).
pub const WORK_LIMITS: Limits = Limits { cpu_seconds: None, address_space: 4 << 30 };

/// Runs `qemu-img args` under `limits`, blocking the calling thread: what
/// it printed on success, a message naming only the verb on failure.
pub fn run_blocking(args: &[OsString], limits: Limits) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    let verb = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
    let mut command = std::process::Command::new("qemu-img");
    command.args(args);
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe,
    // between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = |resource, value: u64| {
                let rlim = libc::rlimit { rlim_cur: value as libc::rlim_t, rlim_max: value as libc::rlim_t };
                if libc::setrlimit(resource, &rlim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            limit(libc::RLIMIT_AS, limits.address_space)?;
            if let Some(cpu) = limits.cpu_seconds {
                limit(libc::RLIMIT_CPU, cpu)?;
            }
            Ok(())
        });
    }
    let out = command.output().map_err(|e| {
        tracing::error!(error = %e, "running qemu-img failed");
        format!("qemu-img {verb} could not run")
    })?;
    if !out.status.success() {
        tracing::warn!(?args, status = %out.status, stderr = %String::from_utf8_lossy(&out.stderr).trim(), "qemu-img failed");
        return Err(format!("qemu-img {verb} failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`run_blocking`] on the runtime's blocking pool.
pub async fn run<I, S>(args: I, limits: Limits) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    tokio::task::spawn_blocking(move || run_blocking(&args, limits))
        .await
        .map_err(|e| format!("qemu-img stopped: {e}"))?
}

fn info_args(path: &Path, format: &str) -> Vec<OsString> {
    vec!["info".into(), "--output=json".into(), "-f".into(), format.into(), path.into()]
}

fn parse_info(out: &str) -> Result<Value, String> {
    serde_json::from_str(out).map_err(|e| format!("qemu-img info: {e}"))
}

/// `qemu-img info` of `path` read as `format`.
pub async fn info(path: &Path, format: &str) -> Result<Value, String> {
    parse_info(&run(info_args(path, format), READ_LIMITS).await?)
}

/// [`info`], blocking the calling thread.
pub fn info_blocking(path: &Path, format: &str) -> Result<Value, String> {
    parse_info(&run_blocking(&info_args(path, format), READ_LIMITS)?)
}

/// Refuses what would let an image read the host's files (CVE-2024-32498
/// and the older backing-file reads).
pub fn check_untrusted(info: &Value) -> Result<(), String> {
    if info.get("backing-filename").is_some() {
        return Err("the image names a backing file; such images are refused".into());
    }
    if info.pointer("/format-specific/data/data-file").is_some() {
        return Err("the image names an external data file; such images are refused".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backing_files_and_data_files_are_refused() {
        assert!(check_untrusted(&json!({"format": "qcow2", "virtual-size": 1})).is_ok());
        assert!(check_untrusted(&json!({"backing-filename": "/etc/shadow"})).is_err());
        assert!(check_untrusted(&json!({"format-specific": {"data": {"data-file": "/dev/sda"}}})).is_err());
    }

    #[test]
    fn only_disk_formats_are_opened() {
        assert_eq!(qemu_format("vhd"), Some("vpc"));
        assert_eq!(qemu_format("iso"), None);
        assert_eq!(qemu_format("ami"), None);
    }
}
