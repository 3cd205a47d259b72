//! Image benchmark: upload and download of a 1 GiB image on loopback, next to
//! this machine's own disk write speed (the limit an upload cannot beat), with
//! the server's resident memory sampled all along to show it stays flat.
//!
//! Run with `cargo bench -p oxistack --bench image`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

const SIZE: u64 = 1 << 30;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

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

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data_dir = dir.join("data");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_oxistack"))
        .args(["serve", "--data-dir", data_dir.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .env("OXISTACK_ADMIN_PASSWORD", "bench-password")
        .env("OXISTACK_LOG", "warn")
        .spawn()
        .expect("start oxistack");
    let pid = server.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{base}/identity/v3")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let auth = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": "bench-password"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let r = http.post(format!("{base}/identity/v3/auth/tokens?nocatalog")).json(&auth).send().await.unwrap();
    let token = r.headers()["x-subject-token"].to_str().unwrap().to_owned();
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

    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);

    let mib = |kib: u64| kib as f64 / 1024.0;
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
