//! Disks: each image is converted once per host into a qcow2 base in the
//! cache, and each instance boots from a copy-on-write overlay on it. Images
//! are untrusted: a base never keeps a backing file or an external data file
//! of the uploaded image, and every QEMU call names the format it expects.

use std::path::{Path, PathBuf};

use qemu_img::{check_untrusted, info, qemu_format};

async fn qemu_img<I, S>(args: I) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    qemu_img::run(args, qemu_img::WORK_LIMITS).await
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
