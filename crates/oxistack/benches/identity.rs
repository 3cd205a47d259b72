//! Identity benchmark: token issue and token validation latency and throughput
//! on loopback, and the server's resident memory at idle and after the load.
//!
//! Run with `cargo bench -p oxistack --bench identity`. It starts the release
//! `oxistack serve` on a temporary data dir and a free port, sends a bounded
//! number of requests, prints a table, and stops the server.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

const SEQUENTIAL: usize = 200;
const CONCURRENT_TOTAL: usize = 1000;
const CONCURRENCY: usize = 8;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

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
    let mut lat = Vec::with_capacity(SEQUENTIAL);
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
    Stats { name, p50_ms: percentile(&lat, 0.5), p99_ms: percentile(&lat, 0.99), per_sec }
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("oxistack-bench-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_oxistack"))
        .args(["serve", "--data-dir", dir.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .env("OXISTACK_ADMIN_PASSWORD", "bench-password")
        .env("OXISTACK_LOG", "warn")
        .spawn()
        .expect("start oxistack");
    let base = format!("http://127.0.0.1:{port}/identity/v3");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(&base).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(server.id());

    let body: Value = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": "bench-password"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let issue = {
        let (http, url, body) = (http.clone(), format!("{base}/auth/tokens?nocatalog"), body.clone());
        move || {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            async move {
                let r = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 201);
            }
        }
    };
    let token = http
        .post(format!("{base}/auth/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .headers()
        .get("x-subject-token")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let validate = {
        let (http, url, token) = (http.clone(), format!("{base}/auth/tokens?nocatalog"), token);
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
    let after_issue = rss_kib(server.id());
    let validated = measure("token validation (GET /v3/auth/tokens)", validate).await;
    let after_validation = rss_kib(server.id());
    let results = [issued, validated];
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);

    println!("| operation | p50 ms (sequential) | p99 ms (sequential) | req/s ({CONCURRENCY} concurrent) |");
    println!("|---|---|---|---|");
    for s in &results {
        println!("| {} | {:.2} | {:.2} | {:.0} |", s.name, s.p50_ms, s.p99_ms, s.per_sec);
    }
    println!();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "resident memory: {:.1} MiB at idle, {:.1} MiB after the token issues, {:.1} MiB after the validations",
        mib(idle),
        mib(after_issue),
        mib(after_validation)
    );
}
