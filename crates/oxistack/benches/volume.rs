//! Block Storage benchmark with the QEMU driver and the test image: volume
//! create → available (blank, and from the test image), attach → the disk
//! is visible in a running guest, and sequential write and read throughput
//! inside the guest against the host disk's own speed, measured in the
//! same run with the same `dd`.
//!
//! Run with `OXISTACK_TEST_IMAGE=$(scripts/build-test-image.sh) cargo bench -p oxistack --bench volume`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

use common::{floating_ip, percentile_ms, Api, Server};

const CREATES: usize = 20;
const FROM_IMAGE: usize = 10;
const ATTACHES: usize = 5;
/// MiB written and read by each `dd`.
const DD_MIB: u32 = 256;
const LIMIT: Duration = Duration::from_secs(240);

fn ssh(key: &Path, ip: &str, command: &str) -> Option<String> {
    let out = Command::new("ssh")
        .arg("-i")
        .arg(key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=2", &format!("root@{ip}"), command])
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The guest's name for the disk of volume `id` (its serial), when it has it.
fn guest_disk(key: &Path, ip: &str, id: &str) -> Option<String> {
    let find = format!(
        "for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = {} ] && echo ${{d##*/}}; done; true",
        &id[..20]
    );
    ssh(key, ip, &find).filter(|d| !d.is_empty())
}

/// MiB/s of `command` moving `DD_MIB` MiB, run by `run`, less the time of
/// running `true` the same way.
fn throughput(run: &dyn Fn(&str) -> bool, command: &str) -> f64 {
    let start = Instant::now();
    assert!(run("true"));
    let overhead = start.elapsed();
    let start = Instant::now();
    assert!(run(command), "{command} failed");
    let took = start.elapsed().saturating_sub(overhead).as_secs_f64().max(1e-3);
    f64::from(DD_MIB) / took
}

impl Api {
    async fn volume_available(&self, body: Value) -> (String, Duration) {
        let start = Instant::now();
        let (status, r) = self.send(reqwest::Method::POST, "/volume/v3/volumes", Some(body)).await;
        assert_eq!(status, 202, "{r}");
        let id = r["volume"]["id"].as_str().unwrap().to_owned();
        loop {
            let (_, v) = self.send(reqwest::Method::GET, &format!("/volume/v3/volumes/{id}"), None).await;
            match v["volume"]["status"].as_str() {
                Some("available") => return (id, start.elapsed()),
                Some("error") => panic!("volume {id} ended in error"),
                _ => assert!(start.elapsed() < LIMIT, "volume {id} not available after {LIMIT:?}"),
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!("| {name} | {} | {:.1} | {:.1} |", v.len(), percentile_ms(&v, 0.5), percentile_ms(&v, 0.95));
}

#[tokio::main]
async fn main() {
    let Some(image_file) = std::env::var_os("OXISTACK_TEST_IMAGE") else {
        eprintln!("set OXISTACK_TEST_IMAGE=$(scripts/build-test-image.sh)");
        std::process::exit(2);
    };
    let image_file = image_file.to_string_lossy().into_owned();
    let server = Server::start(
        "volume",
        &["--compute-driver", "qemu", "--public-range", "127.78.0.0/24", "--test-image", &image_file],
    )
    .await;
    let data = server.dir.join("data");
    let (token, project) = server.admin_token().await;
    let api = Api { http: server.http.clone(), base: server.base.clone(), token };
    let unlimited = json!({"quota_set": {"volumes": -1, "gigabytes": -1}});
    let (status, _) =
        api.send(reqwest::Method::PUT, &format!("/volume/v3/os-quota-sets/{project}"), Some(unlimited)).await;
    assert_eq!(status, 200);
    let (_, images) = api.send(reqwest::Method::GET, "/image/v2/images?name=oxistack-test", None).await;
    let image = images["images"][0]["id"].as_str().unwrap().to_owned();
    let image_mib = images["images"][0]["size"].as_f64().unwrap_or(0.0) / 1048576.0;

    println!("| volume create → available | n | p50, ms | p95, ms |");
    println!("|---|---|---|---|");
    let mut blank = vec![];
    for _ in 0..CREATES {
        blank.push(api.volume_available(json!({"volume": {"size": 1}})).await.1);
    }
    stats("blank, 1 GiB", blank);
    let mut from_image = vec![];
    for _ in 0..FROM_IMAGE {
        from_image.push(api.volume_available(json!({"volume": {"size": 1, "imageRef": image}})).await.1);
    }
    stats(&format!("from the test image ({image_mib:.0} MiB qcow2), 1 GiB"), from_image);

    // One guest; volumes plugged into it while it runs.
    let key = api.bench_keypair(&server.dir).await;
    let body = json!({"server": {"name": "bench", "imageRef": image, "flavorRef": "42", "networks": "auto",
                                 "key_name": "bench"}});
    let sid = api.boot_active(body, LIMIT, Duration::from_millis(50)).await;
    let (_, s) = api.send(reqwest::Method::GET, &format!("/compute/v2.1/servers/{sid}"), None).await;
    let ip = floating_ip(&s["server"]);
    let start = Instant::now();
    while ssh(&key, &ip, "true").is_none() {
        assert!(start.elapsed() < LIMIT, "no SSH into the guest");
        std::thread::sleep(Duration::from_millis(200));
    }
    let attachments = format!("/compute/v2.1/servers/{sid}/os-volume_attachments");
    let mut visible = vec![];
    let mut last = String::new();
    for _ in 0..ATTACHES {
        let (vid, _) = api.volume_available(json!({"volume": {"size": 1}})).await;
        let start = Instant::now();
        let (status, r) =
            api.send(reqwest::Method::POST, &attachments, Some(json!({"volumeAttachment": {"volumeId": vid}}))).await;
        assert_eq!(status, 200, "{r}");
        while guest_disk(&key, &ip, &vid).is_none() {
            assert!(start.elapsed() < LIMIT, "the guest never saw volume {vid}");
            std::thread::sleep(Duration::from_millis(20));
        }
        visible.push(start.elapsed());
        if !last.is_empty() {
            let (status, _) = api.send(reqwest::Method::DELETE, &format!("{attachments}/{last}"), None).await;
            assert_eq!(status, 202);
        }
        last = vid;
    }
    println!();
    println!("| attach → disk visible in the guest (includes polling over SSH) | n | p50, ms | p95, ms |");
    println!("|---|---|---|---|");
    stats("hot-plug, virtio-blk on a PCIe root port", visible);

    let disk = guest_disk(&key, &ip, &last).unwrap();
    let in_guest = |c: &str| ssh(&key, &ip, c).is_some();
    let host_file = data.join("volumes").join("host-dd-test");
    let host_path = host_file.display().to_string();
    let on_host = |c: &str| Command::new("sh").args(["-c", c]).status().is_ok_and(|s| s.success());
    let guest_write =
        throughput(&in_guest, &format!("dd if=/dev/zero of=/dev/{disk} bs=1M count={DD_MIB} oflag=direct 2>/dev/null"));
    let guest_read =
        throughput(&in_guest, &format!("dd if=/dev/{disk} of=/dev/null bs=1M count={DD_MIB} iflag=direct 2>/dev/null"));
    let host_write = throughput(
        &on_host,
        &format!("dd if=/dev/zero of={host_path} bs=1M count={DD_MIB} oflag=direct conv=fsync 2>/dev/null"),
    );
    let host_read =
        throughput(&on_host, &format!("dd if={host_path} of=/dev/null bs=1M count={DD_MIB} iflag=direct 2>/dev/null"));
    let _ = std::fs::remove_file(&host_file);
    println!();
    println!("| sequential, {DD_MIB} MiB, 1 MiB blocks, O_DIRECT | write, MiB/s | read, MiB/s |");
    println!("|---|---|---|");
    println!("| inside the guest, on the volume | {guest_write:.0} | {guest_read:.0} |");
    println!("| the host, a file beside the volumes | {host_write:.0} | {host_read:.0} |");
    // Instances outlive a stop of the service: the guest goes first.
    api.send(reqwest::Method::DELETE, &format!("/compute/v2.1/servers/{sid}"), None).await;
    let start = Instant::now();
    while data.join("instances").join(&sid).exists() {
        assert!(start.elapsed() < LIMIT, "the guest was not gone after {LIMIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop();
}
