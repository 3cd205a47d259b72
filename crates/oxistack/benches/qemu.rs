//! QEMU driver benchmark with the test image: boot → ACTIVE and boot → first
//! successful SSH command, the host memory of one idle instance, and how many
//! instances boot in parallel on this machine. It prints the accelerator the
//! QEMU processes ran with and where the guests read their metadata (config
//! drive or metadata service, from their consoles).
//!
//! Run with `OXISTACK_TEST_IMAGE=$(scripts/build-test-image.sh) cargo bench -p oxistack --bench qemu`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{floating_ip, mib, rss_kib, Api, Server};

const SEQUENTIAL: usize = 5;
const PARALLEL: &[usize] = &[2, 4, 6, 8];
const SSH_LIMIT: Duration = Duration::from_secs(240);

impl Api {
    /// Boots `count` servers and answers their ids.
    async fn boot(&self, image: &str, count: usize) -> Vec<String> {
        let body = json!({"server": {"name": "bench", "imageRef": image, "flavorRef": "42", "networks": "auto",
                                     "key_name": "bench", "min_count": count, "return_reservation_id": true}});
        let (status, r) = self.send(reqwest::Method::POST, "/compute/v2.1/servers", Some(body)).await;
        assert_eq!(status, 202, "{r}");
        let reservation = r["reservation_id"].as_str().unwrap();
        let (_, list) =
            self.send(reqwest::Method::GET, &format!("/compute/v2.1/servers?reservation_id={reservation}"), None).await;
        list["servers"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    }

    async fn delete_all(&self, ids: &[String], data: &Path) {
        for id in ids {
            self.send(reqwest::Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None).await;
        }
        let start = Instant::now();
        while ids.iter().any(|id| data.join("instances").join(id).exists()) {
            assert!(start.elapsed() < SSH_LIMIT, "instances not gone after {SSH_LIMIT:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where the guest read its metadata, from the line its init prints.
    async fn metadata_source(&self, id: &str) -> String {
        let body = json!({"os-getConsoleOutput": {"length": -1}});
        let (_, r) = self.send(reqwest::Method::POST, &format!("/compute/v2.1/servers/{id}/action"), Some(body)).await;
        let log = r["output"].as_str().unwrap_or_default();
        if log.contains("config-drive: /dev/") {
            "config drive".into()
        } else if log.contains("metadata-service: ") {
            "metadata service".into()
        } else {
            panic!("server {id}: no metadata source on its console")
        }
    }
}

fn ssh_ok(key: &Path, ip: &str) -> bool {
    Command::new("ssh")
        .arg("-i")
        .arg(key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=2", &format!("root@{ip}"), "true"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Waits for SSH into `ip`; the time it took from `start`, or `None` past the limit.
async fn wait_ssh(key: PathBuf, ip: String, start: Instant) -> Option<Duration> {
    tokio::task::spawn_blocking(move || loop {
        if ssh_ok(&key, &ip) {
            return Some(start.elapsed());
        }
        if start.elapsed() > SSH_LIMIT {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    })
    .await
    .unwrap()
}

fn qemu_pid(data: &Path, id: &str) -> u32 {
    std::fs::read_to_string(data.join("instances").join(id).join("qemu.pid")).unwrap().trim().parse().unwrap()
}

/// The `-accel` the instance's QEMU process was started with.
fn accelerator(data: &Path, id: &str) -> String {
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", qemu_pid(data, id))).unwrap();
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let at = args.iter().position(|a| *a == b"-accel").expect("QEMU started with -accel");
    String::from_utf8_lossy(args[at + 1]).into_owned()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let Some(image_file) = std::env::var_os("OXISTACK_TEST_IMAGE") else {
        eprintln!("set OXISTACK_TEST_IMAGE=$(scripts/build-test-image.sh)");
        std::process::exit(2);
    };
    let image_file = image_file.to_string_lossy().into_owned();
    let server = Server::start(
        "qemu",
        &["--compute-driver", "qemu", "--public-range", "127.77.0.0/24", "--test-image", &image_file],
    )
    .await;
    let data = server.dir.join("data");
    let (token, _) = server.admin_token().await;
    let api = Api { http: server.http.clone(), base: server.base.clone(), token };

    let key = api.bench_keypair(&server.dir).await;
    let (_, images) = api.send(reqwest::Method::GET, "/image/v2/images?name=oxistack-test", None).await;
    let image = images["images"][0]["id"].as_str().unwrap().to_owned();

    // One at a time: latency and the memory of an idle instance.
    let (mut active, mut ssh, mut rss) = (vec![], vec![], vec![]);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        let id = api.boot(&image, 1).await.remove(0);
        let s = api.wait_active(&id, SSH_LIMIT, Duration::from_millis(20)).await;
        active.push(start.elapsed().as_secs_f64());
        let took = wait_ssh(key.clone(), floating_ip(&s), start).await.expect("SSH within the limit");
        ssh.push(took.as_secs_f64());
        tokio::time::sleep(Duration::from_secs(5)).await;
        rss.push(mib(rss_kib(qemu_pid(&data, &id))));
        seen.insert((accelerator(&data, &id), api.metadata_source(&id).await));
        api.delete_all(&[id], &data).await;
    }
    let [(accel, source)]: [(String, String); 1] =
        seen.into_iter().collect::<Vec<_>>().try_into().expect("one setting");
    println!("accelerator: {accel}; guests read their metadata from the {source}");
    println!();
    println!("| measure ({accel}, m1.nano: 1 vCPU, 128 MiB) | median of {SEQUENTIAL} | min | max |");
    println!("|---|---|---|---|");
    for (name, v) in
        [("boot → ACTIVE, s", &active), ("boot → first SSH command, s", &ssh), ("QEMU RSS idle, MiB", &rss)]
    {
        let (lo, hi) = (v.iter().cloned().fold(f64::MAX, f64::min), v.iter().cloned().fold(0.0, f64::max));
        println!("| {name} | {:.2} | {lo:.2} | {hi:.2} |", median(v.clone()));
    }

    // Several at once: how many reach SSH, and how long the last one takes.
    println!();
    println!("| booted at once | reached SSH | last SSH after, s |");
    println!("|---|---|---|");
    for &n in PARALLEL {
        let start = Instant::now();
        let ids = api.boot(&image, n).await;
        let mut waits = vec![];
        for id in &ids {
            let s = api.wait_active(id, SSH_LIMIT, Duration::from_millis(20)).await;
            waits.push(tokio::spawn(wait_ssh(key.clone(), floating_ip(&s), start)));
        }
        let mut reached = vec![];
        for w in waits {
            if let Some(t) = w.await.unwrap() {
                reached.push(t.as_secs_f64());
            }
        }
        let last = reached.iter().cloned().fold(0.0, f64::max);
        println!("| {n} | {} | {last:.1} |", reached.len());
        api.delete_all(&ids, &data).await;
        if reached.len() < n {
            break;
        }
    }
    server.stop();
}
