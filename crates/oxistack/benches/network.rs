//! Network benchmark: port create latency (sequential), the create rate
//! with 8 clients as one network fills from 200 to 100,000 ports (its first
//! /16 subnet to 65,533 of them, then its second), and `GET /v2.0/ports` with 10,000 and 100,000 ports there: all of
//! the network's (`network_id=`, no limit: every port in one answer), its
//! first page of 1,000, and those of one server (the `device_id` filter
//! Nova and `port list --server` use).
//!
//! Run with `cargo bench -p oxistack --bench network` (on PostgreSQL: with
//! OXISTACK_BENCH_POSTGRES set, see `common`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{mib, percentile_ms, rss_kib, Api, Server};

const SEQUENTIAL: usize = 200;
const CONCURRENCY: usize = 8;
/// Where the create rate is read, and (the ones listed in `LISTED`) lists timed.
const STEPS: &[usize] = &[1_000, 5_000, 10_000, 50_000, 100_000];
const LISTED: &[usize] = &[10_000, 100_000];

impl Api {
    async fn create_port(&self, network: &str) {
        let (status, r) = self
            .send(reqwest::Method::POST, "/network/v2.0/ports", Some(json!({"port": {"network_id": network}})))
            .await;
        assert_eq!(status, 201, "{r}");
    }

    /// p50 and p90 of `GET path` over `samples` requests; each answer's
    /// port count must be `expected`.
    async fn time_ports(&self, path: &str, samples: usize, expected: usize) -> (f64, f64) {
        let mut times = vec![];
        for _ in 0..samples {
            let start = Instant::now();
            let (status, r) = self.send(reqwest::Method::GET, path, None).await;
            times.push(start.elapsed());
            assert_eq!(status, 200);
            assert_eq!(r["ports"].as_array().unwrap().len(), expected, "{path}");
        }
        times.sort();
        (percentile_ms(&times, 0.5), percentile_ms(&times, 0.9))
    }
}

#[tokio::main]
async fn main() {
    let server = Server::start("network", &["--compute-driver", "fake"]).await;
    let pid = server.pid();
    let (token, project) = server.admin_token().await;
    let api = Arc::new(Api { http: server.http.clone(), base: server.base.clone(), token });

    let (_, q) = api
        .send(reqwest::Method::PUT, &format!("/network/v2.0/quotas/{project}"), Some(json!({"quota": {"port": -1}})))
        .await;
    assert_eq!(q["quota"]["port"], -1);
    let (_, n) =
        api.send(reqwest::Method::POST, "/network/v2.0/networks", Some(json!({"network": {"name": "bench"}}))).await;
    let network = n["network"]["id"].as_str().unwrap().to_owned();
    // A /16 holds 65,533 ports; the ones past it take the second subnet's.
    for cidr in ["10.50.0.0/16", "10.51.0.0/16"] {
        let (status, _) = api
            .send(
                reqwest::Method::POST,
                "/network/v2.0/subnets",
                Some(json!({"subnet": {"network_id": network, "cidr": cidr, "ip_version": 4}})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let server_id = boot_on(&api, &network).await;

    let mut latencies = vec![];
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        api.create_port(&network).await;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let engine = Server::engine();
    println!("| measure ({engine}) | result |");
    println!("|---|---|");
    println!(
        "| port create, p50 / p99 ({SEQUENTIAL} sequential, empty network) | {:.1} ms / {:.1} ms |",
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99)
    );

    // The server's port counts too.
    let mut count = SEQUENTIAL + 1;
    for &target in STEPS {
        let start = Instant::now();
        let todo = target - count;
        let mut tasks = vec![];
        for worker in 0..CONCURRENCY {
            let (api, network) = (api.clone(), network.clone());
            let share = todo / CONCURRENCY + usize::from(worker < todo % CONCURRENCY);
            tasks.push(tokio::spawn(async move {
                for _ in 0..share {
                    api.create_port(&network).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let took = start.elapsed();
        println!(
            "| port creates from {count} to {target} ports, {CONCURRENCY} clients | {:.0} per second |",
            todo as f64 / took.as_secs_f64()
        );
        count = target;
        if !LISTED.contains(&target) {
            continue;
        }
        let samples = if target > 10_000 { 3 } else { 10 };
        let all = api.time_ports(&format!("/network/v2.0/ports?network_id={network}"), samples, target).await;
        println!(
            "| `GET /v2.0/ports?network_id=` (all {target} ports), p50 / p90 | {:.1} ms / {:.1} ms |",
            all.0, all.1
        );
        let page = api.time_ports(&format!("/network/v2.0/ports?network_id={network}&limit=1000"), 10, 1000).await;
        println!(
            "| `GET /v2.0/ports?network_id=&limit=1000` (first page of {target}), p50 / p90 | {:.1} ms / {:.1} ms |",
            page.0, page.1
        );
        let mine = api.time_ports(&format!("/network/v2.0/ports?device_id={server_id}"), 10, 1).await;
        println!("| `GET /v2.0/ports?device_id=<a server>` (its one port of {target}), p50 | {:.1} ms |", mine.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
        println!("| server resident memory with {target} ports | {:.1} MiB |", mib(rss_kib(pid)));
    }
    server.stop();
}

/// Boots a server (fake driver) with a port on `network`; its id once ACTIVE.
async fn boot_on(api: &Api, network: &str) -> String {
    let image = api.raw_image().await;
    let body = json!({"server": {"name": "s", "imageRef": image, "flavorRef": "42", "networks": [{"uuid": network}]}});
    api.boot_active(body, Duration::from_secs(60), Duration::from_millis(10)).await
}
