//! Compute benchmark, fake driver: boot-to-ACTIVE latency, boot+delete
//! throughput with 8 clients, then `GET /servers/detail` with 10,000 and
//! 100,000 ACTIVE servers in the project: the first page (Nova's 1,000),
//! a name regex that one server matches, and `status=SHUTOFF` (ten
//! servers). The fake host is given room for all of them (allocation
//! ratios of 128 for CPU and 32 for RAM), the servers are booted through
//! the API 500 at a time, and a figure is printed only when every boot
//! ended ACTIVE.
//!
//! Run with `cargo bench -p oxistack --bench compute` (on PostgreSQL: with
//! OXISTACK_BENCH_POSTGRES set, see `common`).

use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{mib, percentile_ms, rss_kib, Api, Server};

const BOOTS: usize = 100;
const CYCLES: usize = 400;
const CONCURRENCY: usize = 8;
const TARGETS: &[usize] = &[10_000, 100_000];
const BATCH: usize = 500;
const STOPPED: usize = 10;
/// The longest any one wait of the benchmark may take.
const DEADLINE: Duration = Duration::from_secs(1800);

impl Api {
    /// Boots one server and waits until it is ACTIVE.
    async fn boot(&self, image: &str, name: &str) -> String {
        let body = json!({"server": {"name": name, "imageRef": image, "flavorRef": "42", "networks": "none"}});
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

    /// Whether any server is still building (one row asked for).
    async fn building(&self) -> bool {
        let (status, r) = self.send(reqwest::Method::GET, "/compute/v2.1/servers?status=BUILD&limit=1", None).await;
        assert_eq!(status, 200, "{r}");
        !r["servers"].as_array().unwrap().is_empty()
    }

    async fn delete(&self, id: &str) {
        let (status, _) = self.send(reqwest::Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None).await;
        assert_eq!(status, 204);
    }

    /// p50 and p95 of `GET path` over `samples` requests, each answer
    /// checked by `check`.
    async fn time_list(&self, path: &str, samples: usize, check: impl Fn(&[serde_json::Value])) -> (f64, f64) {
        let mut times = vec![];
        for _ in 0..samples {
            let (took, status, r) = self.get_timed(path).await;
            times.push(took);
            assert_eq!(status, 200, "{r}");
            check(r["servers"].as_array().unwrap());
        }
        times.sort();
        (percentile_ms(&times, 0.5), percentile_ms(&times, 0.95))
    }
}

#[tokio::main]
async fn main() {
    let room = ["--cpu-allocation-ratio", "128", "--ram-allocation-ratio", "32"];
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
        let id = api.boot(&image, "b").await;
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
                let id = api.boot(&image, "b").await;
                api.delete(&id).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cycles_per_sec = CYCLES as f64 / started.elapsed().as_secs_f64();

    // One server a name regex finds, and ten stopped ones, among the rest.
    api.boot(&image, "needle").await;
    for _ in 0..STOPPED {
        let id = api.boot(&image, "stopped").await;
        let (status, _) = api
            .send(reqwest::Method::POST, &format!("/compute/v2.1/servers/{id}/action"), Some(json!({"os-stop": null})))
            .await;
        assert_eq!(status, 202);
    }
    let mut total = 1 + STOPPED;
    let mut rows = vec![];
    for &target in TARGETS {
        let filling = Instant::now();
        let added = target - total;
        while total < target {
            let n = BATCH.min(target - total);
            let body = json!({"server": {"name": "many", "imageRef": image, "flavorRef": "42", "networks": "none",
                                         "min_count": n, "max_count": n}});
            let (status, r) = api.send(reqwest::Method::POST, "/compute/v2.1/servers", Some(body)).await;
            assert_eq!(status, 202, "{r}");
            total += n;
        }
        while api.building().await {
            assert!(filling.elapsed() < DEADLINE, "still building after {DEADLINE:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let fill_rate = added as f64 / filling.elapsed().as_secs_f64();
        let counts = api.statuses().await;
        assert_eq!(counts.get("ACTIVE"), Some(&(target - STOPPED)), "not every boot ended ACTIVE: {counts:?}");
        assert_eq!(counts.get("SHUTOFF"), Some(&STOPPED), "{counts:?}");

        let samples = if target > 10_000 { 10 } else { 20 };
        let first = api
            .time_list("/compute/v2.1/servers/detail", samples, |page| {
                assert_eq!(page.len(), 1000);
            })
            .await;
        let needle = api
            .time_list("/compute/v2.1/servers/detail?name=%5Eneedle%24", samples, |page| {
                assert_eq!(page.len(), 1);
                assert_eq!(page[0]["name"], "needle");
            })
            .await;
        let stopped = api
            .time_list("/compute/v2.1/servers/detail?status=SHUTOFF", samples, |page| {
                assert_eq!(page.len(), STOPPED);
            })
            .await;
        rows.push((target, fill_rate, first, needle, stopped, mib(rss_kib(pid))));
    }
    server.stop();

    let engine = Server::engine();
    println!("| measure ({engine}) | result |");
    println!("|---|---|");
    println!(
        "| boot to ACTIVE, p50 / p99 ({BOOTS} sequential) | {:.1} ms / {:.1} ms |",
        percentile_ms(&lat, 0.5),
        percentile_ms(&lat, 0.99)
    );
    println!("| boot + delete cycles, {CONCURRENCY} clients ({CYCLES} cycles) | {cycles_per_sec:.0} per second |");
    for (n, fill, first, needle, stopped, rss) in rows {
        println!("| boots to reach {n} ACTIVE servers ({BATCH} per request) | {fill:.0} per second |");
        println!(
            "| `GET /servers/detail` first page (1,000) of {n}, p50 / p95 | {:.1} ms / {:.1} ms |",
            first.0, first.1
        );
        println!(
            "| `GET /servers/detail?name=^needle$` (1 of {n}), p50 / p95 | {:.1} ms / {:.1} ms |",
            needle.0, needle.1
        );
        println!(
            "| `GET /servers/detail?status=SHUTOFF` ({STOPPED} of {n}), p50 / p95 | {:.1} ms / {:.1} ms |",
            stopped.0, stopped.1
        );
        println!("| server resident memory with {n} servers | {rss:.1} MiB |");
    }
}
