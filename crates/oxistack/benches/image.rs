//! Image benchmark: upload and download of a 1 GiB image on loopback, next to
//! this machine's own disk write speed (the limit an upload cannot beat), with
//! the server's resident memory sampled all along to show it stays flat.
//!
//! Run with `cargo bench -p oxistack --bench image`.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use common::{mib, rss_kib, Server};

const SIZE: u64 = 1 << 30;

/// Samples the server's RSS every 50 ms until stopped; returns the peak.
fn sample_rss(pid: u32) -> (Arc<AtomicBool>, Arc<AtomicU64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let (s, p) = (stop.clone(), peak.clone());
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            p.fetch_max(rss_kib(pid), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    (stop, peak)
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("oxistack-image-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The disk's own speed: write 1 GiB and sync it, in the data dir's file system.
    let src = dir.join("source.raw");
    let started = Instant::now();
    {
        let mut f = std::fs::File::create(&src).unwrap();
        let mut block = vec![0u8; 1 << 20];
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i * 31 % 251) as u8;
        }
        for _ in 0..(SIZE >> 20) {
            f.write_all(&block).unwrap();
        }
        f.sync_all().unwrap();
    }
    let disk = started.elapsed();

    let server = Server::start("image", &[]).await;
    let (pid, base, http) = (server.pid(), server.base.clone(), server.http.clone());
    let (token, _) = server.admin_token().await;
    let idle = rss_kib(pid);

    let r = http
        .post(format!("{base}/image/v2/images"))
        .header("x-auth-token", &token)
        .json(&json!({"name": "bench", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .unwrap();
    let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let (stop, peak_up) = sample_rss(pid);
    let started = Instant::now();
    let file = tokio::fs::File::open(&src).await.unwrap();
    let r = http
        .put(format!("{base}/image/v2/images/{id}/file"))
        .header("x-auth-token", &token)
        .header("content-type", "application/octet-stream")
        // 1 MiB reads: the client must not be what limits the measurement.
        .body(reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let upload = started.elapsed();
    stop.store(true, Ordering::Relaxed);

    let (stop, peak_down) = sample_rss(pid);
    let started = Instant::now();
    let mut r =
        http.get(format!("{base}/image/v2/images/{id}/file")).header("x-auth-token", &token).send().await.unwrap();
    let mut received = 0u64;
    while let Some(chunk) = r.chunk().await.unwrap() {
        received += chunk.len() as u64;
    }
    assert_eq!(received, SIZE);
    let download = started.elapsed();
    stop.store(true, Ordering::Relaxed);

    server.stop();
    let _ = std::fs::remove_dir_all(&dir);

    println!("| 1 GiB | seconds | MiB/s |");
    println!("|---|---|---|");
    println!("| disk write + fsync (the limit) | {:.2} | {:.0} |", disk.as_secs_f64(), mib_s(SIZE, disk));
    println!("| upload (PUT .../file) | {:.2} | {:.0} |", upload.as_secs_f64(), mib_s(SIZE, upload));
    println!("| download (GET .../file) | {:.2} | {:.0} |", download.as_secs_f64(), mib_s(SIZE, download));
    println!();
    println!(
        "server resident memory: {:.1} MiB before, peak {:.1} MiB during the upload, peak {:.1} MiB during the download",
        mib(idle),
        mib(peak_up.load(Ordering::Relaxed)),
        mib(peak_down.load(Ordering::Relaxed))
    );
}
