//! What every benchmark does first: start the release `oxistack serve` on a
//! temporary data dir and a free port, and log in as admin. With
//! OXISTACK_BENCH_POSTGRES set to a PostgreSQL cluster's base URL (such as
//! `postgres://postgres@127.0.0.1:55432`), the server keeps its state in a
//! new database there instead of SQLite.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "bench-password";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
    pub http: reqwest::Client,
}

impl Server {
    /// Starts a server with `args` added to `serve`, and waits until it answers.
    pub async fn start(name: &str, args: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("oxistack-{name}-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let data = dir.join("data");
        let listen = format!("127.0.0.1:{port}");
        let database = postgres_database(name).await;
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_oxistack"))
            .args(["serve", "--data-dir", data.to_str().unwrap(), "--listen", &listen])
            .args(database.iter().flat_map(|url| ["--database", url.as_str()]))
            .args(args)
            .env("OXISTACK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("OXISTACK_LOG", "warn")
            .spawn()
            .expect("start oxistack");
        let base = format!("http://{listen}");
        // No request of a benchmark waits forever.
        let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
        let mut up = false;
        for _ in 0..300 {
            if http.get(format!("{base}/identity/v3")).send().await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "oxistack serve did not answer within 30 s");
        Server { child, base, dir, http }
    }

    /// The engine the server runs on, for the figures' labels.
    pub fn engine() -> &'static str {
        if std::env::var_os("OXISTACK_BENCH_POSTGRES").is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin's password login body, scoped to the admin project.
    pub fn admin_auth(&self) -> Value {
        json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
    }

    /// An admin token and the admin project's id.
    pub async fn admin_token(&self) -> (String, String) {
        let r = self
            .http
            .post(format!("{}/identity/v3/auth/tokens?nocatalog", self.base))
            .json(&self.admin_auth())
            .send()
            .await
            .unwrap();
        let token = r.headers()["x-subject-token"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        (token, body["token"]["project"]["id"].as_str().unwrap().to_owned())
    }

    pub fn stop(self) {
        drop(self)
    }
}

/// A new database on the cluster OXISTACK_BENCH_POSTGRES names, if it does.
#[allow(clippy::disallowed_methods)] // CREATE DATABASE belongs to no service's store
async fn postgres_database(name: &str) -> Option<String> {
    let base = std::env::var("OXISTACK_BENCH_POSTGRES").ok()?;
    let base = base.trim_end_matches('/');
    let database = format!("oxi_bench_{name}_{}", std::process::id());
    let admin = oxistack_core::db::open_postgres(&format!("{base}/postgres")).await.expect("the benchmark's cluster");
    oxistack_core::db::query(&format!("CREATE DATABASE {database}")).execute(&admin).await.expect("CREATE DATABASE");
    admin.close().await;
    Some(format!("{base}/{database}"))
}

/// A benchmark that fails (a panic) leaves no server behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The `p` quantile of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// An admin client of the server's APIs. Compute requests ask for
/// microversion 2.96; the other services ignore that header.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-auth-token", &self.token)
            .header("openstack-api-version", "compute 2.96");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `GET path`: how long from the request until the whole answer is in
    /// (what the server takes, not the client's parse of the body), its
    /// status and its body.
    pub async fn get_timed(&self, path: &str) -> (std::time::Duration, u16, Value) {
        let start = std::time::Instant::now();
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("x-auth-token", &self.token)
            .header("openstack-api-version", "compute 2.96")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap();
        let took = start.elapsed();
        (took, status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// A small raw image (4 KiB of zeros), active.
    pub async fn raw_image(&self) -> String {
        let body = json!({"name": "b", "disk_format": "raw", "container_format": "bare"});
        let (_, img) = self.send(reqwest::Method::POST, "/image/v2/images", Some(body)).await;
        let image = img["id"].as_str().unwrap().to_owned();
        let r = self
            .http
            .put(format!("{}/image/v2/images/{image}/file", self.base))
            .header("x-auth-token", &self.token)
            .header("content-type", "application/octet-stream")
            .body(vec![0u8; 4096])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        image
    }

    /// Boots the server of `body` and waits until it is ACTIVE (see
    /// `wait_active`); its id.
    pub async fn boot_active(&self, body: Value, deadline: Duration, poll: Duration) -> String {
        let (status, r) = self.send(reqwest::Method::POST, "/compute/v2.1/servers", Some(body)).await;
        assert_eq!(status, 202, "{r}");
        let id = r["server"]["id"].as_str().unwrap().to_owned();
        self.wait_active(&id, deadline, poll).await;
        id
    }

    /// The server once it is ACTIVE, asked every `poll`; fails on ERROR or
    /// past `deadline`.
    pub async fn wait_active(&self, id: &str, deadline: Duration, poll: Duration) -> Value {
        let start = std::time::Instant::now();
        loop {
            let (_, s) = self.send(reqwest::Method::GET, &format!("/compute/v2.1/servers/{id}"), None).await;
            match s["server"]["status"].as_str() {
                Some("ACTIVE") => return s["server"].clone(),
                Some("ERROR") => panic!("server {id} ended in ERROR: {}", s["server"]["fault"]),
                _ => assert!(start.elapsed() < deadline, "server {id} not ACTIVE after {deadline:?}"),
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// A server's floating address.
pub fn floating_ip(server: &Value) -> String {
    server["addresses"]["private"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["OS-EXT-IPS:type"] == "floating")
        .map(|a| a["addr"].as_str().unwrap().to_owned())
        .expect("a floating address")
}

impl Api {
    /// A new SSH key in `dir`, imported as the admin's keypair `bench`; the
    /// private key's path.
    pub async fn bench_keypair(&self, dir: &std::path::Path) -> PathBuf {
        let key = dir.join("id_ed25519");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", ""])
            .arg("-f")
            .arg(&key)
            .status();
        assert!(made.unwrap().success());
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let body = json!({"keypair": {"name": "bench", "public_key": public}});
        let (status, _) = self.send(reqwest::Method::POST, "/compute/v2.1/os-keypairs", Some(body)).await;
        assert_eq!(status, 201);
        key
    }
}
