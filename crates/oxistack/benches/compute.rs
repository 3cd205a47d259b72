//! Compute benchmark, fake driver: boot-to-ACTIVE latency, boot+delete
//! throughput, and `GET /servers/detail` latency with 1,000 and 10,000
//! ACTIVE servers in the project. The fake host is given room for all of
//! them (allocation ratios of 16 for CPU and 2 for RAM); a figure is printed
//! only when every boot ended ACTIVE.
//!
//! Run with `cargo bench -p oxistack --bench compute`.

use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{mib, percentile_ms, rss_kib, Api, Server};

const BOOTS: usize = 100;
const CYCLES: usize = 400;
const CONCURRENCY: usize = 8;
/// The longest any one wait of the benchmark may take.
const DEADLINE: Duration = Duration::from_secs(600);

impl Api {
    /// Boots one server and waits until it is ACTIVE.
    async fn boot(&self, image: &str) -> String {
        let body = json!({"server": {"name": "b", "imageRef": image, "flavorRef": "42", "networks": "none"}});
        self.boot_active(body, DEADLINE, Duration::from_millis(1)).await
    }

    /// How many of the project's servers have each status, read page by page.
    async fn statuses(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        let mut path = "/compute/v2.1/servers/detail?limit=1000".to_owned();
        loop {
            let (status, r) = self.send(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, 200, "{r}");
            let page = r["servers"].as_array().unwrap();
            for s in page {
                *counts.entry(s["status"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
            }
            match page.last() {
                Some(last) if page.len() == 1000 => {
                    path = format!("/compute/v2.1/servers/detail?limit=1000&marker={}", last["id"].as_str().unwrap())
                }
                _ => return counts,
            }
        }
    }

    async fn delete(&self, id: &str) {
        let (status, _) = self.send(reqwest::Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None).await;
        assert_eq!(status, 204);
    }
}

#[tokio::main]
async fn main() {
    // Room for 10,000 m1.nano (1 vCPU, 128 MiB) on the fake host's 1,000 vCPUs and 800,000 MiB.
    let room = ["--cpu-allocation-ratio", "16", "--ram-allocation-ratio", "2"];
    let server = Server::start("compute", &[&["--compute-driver", "fake"][..], &room].concat()).await;
    let (pid, base, http) = (server.pid(), server.base.clone(), server.http.clone());
    let (token, project) = server.admin_token().await;
    let api = std::sync::Arc::new(Api { http: http.clone(), base: base.clone(), token });

    let image = api.raw_image().await;
    let unlimited = json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}});
    api.send(reqwest::Method::PUT, &format!("/compute/v2.1/os-quota-sets/{project}"), Some(unlimited)).await;

    // Boot to ACTIVE, one at a time.
    let mut lat = vec![];
    for _ in 0..BOOTS {
        let t = Instant::now();
        let id = api.boot(&image).await;
        lat.push(t.elapsed());
        api.delete(&id).await;
    }
    lat.sort();

    // Boot + delete cycles, 8 clients at once.
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..CONCURRENCY {
        let (api, image) = (api.clone(), image.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..CYCLES / CONCURRENCY {
                let id = api.boot(&image).await;
                api.delete(&id).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cycles_per_sec = CYCLES as f64 / started.elapsed().as_secs_f64();

    // GET /servers/detail with 1,000 then 10,000 servers.
    let mut listing = vec![];
    let mut total = 0;
    for target in [1_000, 10_000] {
        while total < target {
            let body = json!({"server": {"name": "many", "imageRef": image, "flavorRef": "42", "networks": "none",
                                         "min_count": 100, "max_count": 100}});
            let (status, r) = api.send(reqwest::Method::POST, "/compute/v2.1/servers", Some(body)).await;
            assert_eq!(status, 202, "{r}");
            total += 100;
        }
        // Every server built, and every one ACTIVE, before anything is timed.
        let waited = Instant::now();
        let counts = loop {
            let counts = api.statuses().await;
            if !counts.contains_key("BUILD") {
                break counts;
            }
            assert!(waited.elapsed() < DEADLINE, "still building after {DEADLINE:?}: {counts:?}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        assert_eq!(
            counts.get("ACTIVE"),
            Some(&target),
            "not every boot ended ACTIVE (ERROR: {:?}): {counts:?}",
            counts.get("ERROR")
        );
        let mut times = vec![];
        for _ in 0..20 {
            let t = Instant::now();
            let (status, r) = api.send(reqwest::Method::GET, "/compute/v2.1/servers/detail", None).await;
            times.push(t.elapsed());
            assert_eq!(status, 200);
            let page = r["servers"].as_array().unwrap();
            assert_eq!(page.len(), 1000);
            assert!(page.iter().all(|s| s["status"] == "ACTIVE"));
        }
        times.sort();
        listing.push((target, percentile_ms(&times, 0.5), percentile_ms(&times, 0.95)));
    }
    let rss = mib(rss_kib(pid));
    server.stop();

    println!("| measure | result |");
    println!("|---|---|");
    println!(
        "| boot to ACTIVE, p50 / p99 ({BOOTS} sequential) | {:.1} ms / {:.1} ms |",
        percentile_ms(&lat, 0.5),
        percentile_ms(&lat, 0.99)
    );
    println!("| boot + delete cycles, {CONCURRENCY} clients ({CYCLES} cycles) | {cycles_per_sec:.0} per second |");
    for (n, p50, p95) in listing {
        println!(
            "| GET /servers/detail (first page of 1,000) with {n} ACTIVE servers, p50 / p95 | {p50:.1} ms / {p95:.1} ms |"
        );
    }
    println!();
    println!("server resident memory at the end: {rss:.1} MiB");
}
