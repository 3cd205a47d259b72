//! Network benchmark: port create latency (sequential, and throughput with
//! concurrent clients) and `GET /v2.0/ports` latency with 1,000 and 10,000
//! ports on one network, all of them and those of one server (the
//! `device_id` filter Nova and `port list --server` use).
//!
//! Run with `cargo bench -p oxistack --bench network`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{mib, percentile_ms, rss_kib, Api, Server};

const SEQUENTIAL: usize = 200;
const CONCURRENCY: usize = 8;
const TARGETS: &[usize] = &[1_000, 10_000];

impl Api {
    async fn create_port(&self, network: &str) {
        let (status, r) = self
            .send(reqwest::Method::POST, "/network/v2.0/ports", Some(json!({"port": {"network_id": network}})))
            .await;
        assert_eq!(status, 201, "{r}");
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
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            "/network/v2.0/subnets",
            Some(json!({"subnet": {"network_id": network, "cidr": "10.50.0.0/16", "ip_version": 4}})),
        )
        .await;
    assert_eq!(status, 201);
    let server_id = boot_on(&api, &network).await;

    let mut latencies = vec![];
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        api.create_port(&network).await;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    println!("| measure | result |");
    println!("|---|---|");
    println!(
        "| port create, p50 / p99 ({SEQUENTIAL} sequential, empty network) | {:.1} ms / {:.1} ms |",
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99)
    );

    let mut count = SEQUENTIAL;
    for &target in TARGETS {
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
        let mut lists = vec![];
        for _ in 0..10 {
            let start = Instant::now();
            let (status, r) = api.send(reqwest::Method::GET, "/network/v2.0/ports", None).await;
            lists.push(start.elapsed());
            assert_eq!(status, 200);
            assert!(r["ports"].as_array().unwrap().len() >= target);
        }
        lists.sort();
        println!(
            "| `GET /v2.0/ports` (all of them) with {target} ports, p50 / p90 | {:.1} ms / {:.1} ms |",
            percentile_ms(&lists, 0.5),
            percentile_ms(&lists, 0.9)
        );
        let mut filtered = vec![];
        for _ in 0..10 {
            let start = Instant::now();
            let path = format!("/network/v2.0/ports?device_id={server_id}");
            let (status, r) = api.send(reqwest::Method::GET, &path, None).await;
            filtered.push(start.elapsed());
            assert_eq!(status, 200);
            assert_eq!(r["ports"].as_array().unwrap().len(), 1, "the server's one port");
        }
        filtered.sort();
        println!(
            "| `GET /v2.0/ports?device_id=<a server>` (its one port) with {target} ports, p50 | {:.1} ms |",
            percentile_ms(&filtered, 0.5)
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    println!("\nServer resident memory after all of it: {:.1} MiB", mib(rss_kib(pid)));
    server.stop();
}

/// Boots a server (fake driver) with a port on `network`; its id once ACTIVE.
async fn boot_on(api: &Api, network: &str) -> String {
    let image = api.raw_image().await;
    let body = json!({"server": {"name": "s", "imageRef": image, "flavorRef": "42", "networks": [{"uuid": network}]}});
    api.boot_active(body, Duration::from_secs(60), Duration::from_millis(10)).await
}
