//! Identity benchmark: token issue and token validation latency and throughput
//! on loopback, and the server's resident memory at idle and after the load.
//!
//! Run with `cargo bench -p oxistack --bench identity`. It starts the release
//! `oxistack serve` on a temporary data dir and a free port, sends a bounded
//! number of requests, prints a table, and stops the server.

mod common;

use std::time::{Duration, Instant};

use common::{mib, percentile_ms, rss_kib, Server};

const SEQUENTIAL: usize = 200;
const CONCURRENT_TOTAL: usize = 1000;
const CONCURRENCY: usize = 8;

struct Stats {
    name: &'static str,
    p50_ms: f64,
    p99_ms: f64,
    per_sec: f64,
}

async fn measure<F, Fut>(name: &'static str, op: F) -> Stats
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut lat: Vec<Duration> = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let t = Instant::now();
        op().await;
        lat.push(t.elapsed());
    }
    lat.sort();
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..CONCURRENCY {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..CONCURRENT_TOTAL / CONCURRENCY {
                op().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let per_sec = CONCURRENT_TOTAL as f64 / started.elapsed().as_secs_f64();
    Stats { name, p50_ms: percentile_ms(&lat, 0.5), p99_ms: percentile_ms(&lat, 0.99), per_sec }
}

#[tokio::main]
async fn main() {
    let server = Server::start("identity", &[]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(server.pid());
    let url = format!("{}/identity/v3/auth/tokens?nocatalog", server.base);

    let issue = {
        let (http, url, body) = (server.http.clone(), url.clone(), server.admin_auth());
        move || {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            async move {
                let r = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 201);
            }
        }
    };
    let (token, _) = server.admin_token().await;
    let validate = {
        let (http, url) = (server.http.clone(), url.clone());
        move || {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let r = http
                    .get(&url)
                    .header("x-auth-token", &token)
                    .header("x-subject-token", &token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }
    };
    let issued = measure("token issue (password, project scope)", issue).await;
    let after_issue = rss_kib(server.pid());
    let validated = measure("token validation (GET /v3/auth/tokens)", validate).await;
    let after_validation = rss_kib(server.pid());
    server.stop();

    println!("| operation | p50 ms (sequential) | p99 ms (sequential) | req/s ({CONCURRENCY} concurrent) |");
    println!("|---|---|---|---|");
    for s in [issued, validated] {
        println!("| {} | {:.2} | {:.2} | {:.0} |", s.name, s.p50_ms, s.p99_ms, s.per_sec);
    }
    println!();
    println!(
        "resident memory: {:.1} MiB at idle, {:.1} MiB after the token issues, {:.1} MiB after the validations",
        mib(idle),
        mib(after_issue),
        mib(after_validation)
    );
}
