//! Disks: each image is converted once per host into a qcow2 base in the
//! cache, and each instance boots from a copy-on-write overlay on it. Images
//! are untrusted: a base never keeps a backing file or an external data file
//! of the uploaded image, and every QEMU call names the format it expects.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The disk formats that can boot here, as Glance names them, and QEMU's
/// names: only those the format inspector proves self-contained.
fn qemu_format(disk_format: &str) -> Option<&'static str> {
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
#[derive(Clone, Copy)]
struct Limits {
    cpu_seconds: Option<u64>,
    address_space: u64,
}

/// For reading headers (`info`): Nova's 30 s of CPU and 1 GiB.
const READ_LIMITS: Limits = Limits { cpu_seconds: Some(30), address_space: 1 << 30 };
/// For work that is proportional to the image (convert, create, resize).
const WORK_LIMITS: Limits = Limits { cpu_seconds: None, address_space: 4 << 30 };

pub async fn qemu_img<I, S>(args: I) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_qemu_img(args, WORK_LIMITS).await
}

/// Runs `qemu-img` under `limits`. What it prints is logged, never
/// returned: it may name host paths, and errors end up in faults users read.
async fn run_qemu_img<I, S>(args: I, limits: Limits) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let verb = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
    let mut command = tokio::process::Command::new("qemu-img");
    command.args(&args);
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
    let out = command.output().await.map_err(|e| {
        tracing::error!(error = %e, "running qemu-img failed");
        format!("qemu-img {verb} could not run")
    })?;
    if !out.status.success() {
        tracing::warn!(?args, status = %out.status, stderr = %String::from_utf8_lossy(&out.stderr).trim(), "qemu-img failed");
        return Err(format!("qemu-img {verb} failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `qemu-img info` of `path` read as `format`.
async fn info(path: &Path, format: &str) -> Result<Value, String> {
    let out = run_qemu_img(
        ["info".as_ref(), "--output=json".as_ref(), "-f".as_ref(), format.as_ref(), path.as_os_str()],
        READ_LIMITS,
    )
    .await?;
    serde_json::from_str(&out).map_err(|e| format!("qemu-img info: {e}"))
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

/// The image's qcow2 base in `cache`, converted from `source` on first use.
/// Bases are named by `content_hash`, the image data's own hash: an image id
/// deleted and made again with other data never boots the old base.
pub async fn base_image(cache: &Path, content_hash: &str, source: &Path, disk_format: &str) -> Result<PathBuf, String> {
    if content_hash.is_empty() || !content_hash.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("the image has no usable content hash".into());
    }
    let base = cache.join(format!("{content_hash}.qcow2"));
    if tokio::fs::try_exists(&base).await.unwrap_or(false) {
        return Ok(base);
    }
    let format = qemu_format(disk_format).ok_or_else(|| format!("images of disk_format {disk_format} cannot boot"))?;
    check_untrusted(&info(source, format).await?)?;
    tokio::fs::create_dir_all(cache).await.map_err(|e| format!("creating {}: {e}", cache.display()))?;
    // Concurrent boots of one image each convert to their own file; the
    // rename makes one of them the base, whole.
    let part = cache.join(format!("{content_hash}.{}.part", std::process::id() as u64 * 1000 + rand_suffix()));
    let converted = qemu_img([
        "convert".as_ref(),
        "-f".as_ref(),
        format.as_ref(),
        "-O".as_ref(),
        "qcow2".as_ref(),
        source.as_os_str(),
        part.as_os_str(),
    ])
    .await;
    if let Err(e) = converted {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    tokio::fs::rename(&part, &base).await.map_err(|e| format!("moving the base image into place: {e}"))?;
    Ok(base)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % 1000
}

/// A qcow2 overlay at `path` on `base`, grown to `size_gb` when that is set
/// and larger than the base.
pub async fn overlay(base: &Path, path: &Path, size_gb: i64) -> Result<(), String> {
    let virtual_size = info(base, "qcow2").await?["virtual-size"].as_i64().unwrap_or(0);
    let mut args: Vec<std::ffi::OsString> =
        vec!["create".into(), "-q".into(), "-f".into(), "qcow2".into(), "-F".into(), "qcow2".into(), "-b".into()];
    args.push(base.into());
    args.push(path.into());
    if size_gb > 0 && size_gb << 30 > virtual_size {
        args.push(format!("{size_gb}G").into());
    }
    qemu_img(args).await.map(|_| ())
}

/// A blank qcow2 disk of `size` (as qemu-img reads sizes: `1G`, `512M`).
pub async fn blank(path: &Path, size: &str) -> Result<(), String> {
    qemu_img(["create".as_ref(), "-q".as_ref(), "-f".as_ref(), "qcow2".as_ref(), path.as_os_str(), size.as_ref()])
        .await
        .map(|_| ())
}

/// Grows the qcow2 disk at `path` to `size_gb`; never shrinks it.
pub async fn grow(path: &Path, size_gb: i64) -> Result<(), String> {
    let current = info(path, "qcow2").await?["virtual-size"].as_i64().unwrap_or(0);
    if size_gb > 0 && size_gb << 30 > current {
        qemu_img([
            "resize".as_ref(),
            "-q".as_ref(),
            "-f".as_ref(),
            "qcow2".as_ref(),
            path.as_os_str(),
            format!("{size_gb}G").as_ref(),
        ])
        .await?;
    }
    Ok(())
}

/// Flattens the qcow2 disk at `disk` (and its base) into one qcow2 at `dest`.
/// `-U`: the disk may be open in a paused QEMU.
pub async fn flatten(disk: &Path, dest: &Path) -> Result<(), String> {
    qemu_img([
        "convert".as_ref(),
        "-U".as_ref(),
        "-f".as_ref(),
        "qcow2".as_ref(),
        "-O".as_ref(),
        "qcow2".as_ref(),
        disk.as_os_str(),
        dest.as_os_str(),
    ])
    .await
    .map(|_| ())
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
    fn only_disk_formats_boot() {
        assert_eq!(qemu_format("vhd"), Some("vpc"));
        assert_eq!(qemu_format("iso"), None);
        assert_eq!(qemu_format("ami"), None);
    }
}
