//! Object Storage benchmark, side by side with Debian's Swift in the same
//! run: a 1 GiB PUT and GET next to the disk's own write speed, PUT and GET
//! of 10,000 objects of 4 KiB with 16 concurrent clients, and the first
//! listing page of a 100,000-object container; the resident memory of the
//! servers sampled all along.
//!
//! Swift is Debian's `swift-proxy`, `swift-account`, `swift-container` and
//! `swift-object` servers on loopback, one replica, one device, each server
//! a single process (`workers = 0`), the proxy without an auth middleware
//! (so no token is checked on that side; Oxistack checks one on every
//! request). Without those packages the Swift column is left out and the
//! run says so.
//!
//! Run with `cargo bench -p oxistack --bench object`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{mib, percentile_ms, rss_kib, Server};

const BIG: u64 = 1 << 30;
const SMALL: usize = 4096;
const SMALL_COUNT: usize = 10_000;
const CLIENTS: usize = 16;
const LISTED: usize = 100_000;

/// A Swift API to measure: its account's storage URL, a token (if it
/// checks one), and the processes that serve it.
struct Target {
    name: &'static str,
    url: String,
    token: Option<String>,
    pids: Vec<u32>,
}

impl Target {
    fn req(&self, http: &reqwest::Client, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(t) => r.header("x-auth-token", t),
            None => r,
        }
    }

    fn rss(&self) -> u64 {
        self.pids.iter().map(|p| rss_kib(*p)).sum()
    }
}

/// Samples a target's RSS every 50 ms until stopped; the peak.
fn sample_rss(pids: Vec<u32>) -> (Arc<AtomicBool>, Arc<AtomicU64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let (s, p) = (stop.clone(), peak.clone());
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            p.fetch_max(pids.iter().map(|p| rss_kib(*p)).sum(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    (stop, peak)
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Debian's Swift on loopback: rings of one device, four servers.
struct Swift {
    children: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Swift {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Swift, started, with its proxy's port and those of the servers behind
/// it.
fn start_swift(dir: &Path) -> Option<(Swift, u16, [u16; 3])> {
    let have = |bin: &str| Path::new("/usr/bin").join(bin).exists();
    if ![
        "swift-proxy-server",
        "swift-object-server",
        "swift-container-server",
        "swift-account-server",
        "swift-ring-builder",
    ]
    .iter()
    .all(|b| have(b))
    {
        return None;
    }
    std::fs::create_dir_all(dir.join("srv/d1")).unwrap();
    let swift_dir = dir.display().to_string();
    let devices = dir.join("srv").display().to_string();
    std::fs::write(
        dir.join("swift.conf"),
        "[swift-hash]\nswift_hash_path_suffix = bench\nswift_hash_path_prefix = bench\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n",
    )
    .unwrap();
    let (proxy, account, container, object) = (free_port(), free_port(), free_port(), free_port());
    let common = format!(
        "[DEFAULT]\nbind_ip = 127.0.0.1\nworkers = 0\nswift_dir = {swift_dir}\ndevices = {devices}\nmount_check = false\nlog_level = ERROR\n"
    );
    for (kind, port) in [("account", account), ("container", container), ("object", object)] {
        let conf = format!(
            "{common}bind_port = {port}\n[pipeline:main]\npipeline = {kind}-server\n[app:{kind}-server]\nuse = egg:swift#{kind}\n"
        );
        std::fs::write(dir.join(format!("{kind}-server.conf")), conf).unwrap();
        let builder = dir.join(format!("{kind}.builder"));
        let builder = builder.to_str().unwrap();
        let ring = |args: &[&str]| {
            let ok = Command::new("swift-ring-builder").arg(builder).args(args).stdout(Stdio::null()).status().unwrap();
            // `rebalance` answers 1 for a warning (one device) as well.
            assert!(ok.code().is_some_and(|c| c <= 1), "swift-ring-builder {args:?}");
        };
        ring(&["create", "6", "1", "1"]);
        ring(&["add", &format!("r1z1-127.0.0.1:{port}/d1"), "100"]);
        ring(&["rebalance"]);
    }
    std::fs::write(
        dir.join("proxy-server.conf"),
        format!(
            "{common}bind_port = {proxy}\n[pipeline:main]\npipeline = catch_errors proxy-server\n\
             [app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\
             [filter:catch_errors]\nuse = egg:swift#catch_errors\n"
        ),
    )
    .unwrap();
    let mut children = vec![];
    for kind in ["account", "container", "object", "proxy"] {
        let child = Command::new(format!("swift-{kind}-server"))
            .arg(dir.join(format!("{kind}-server.conf")))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{kind}.log"))).unwrap())
            .spawn()
            .unwrap();
        children.push(child);
    }
    Some((Swift { children, dir: dir.to_owned() }, proxy, [account, container, object]))
}

async fn wait_up(http: &reqwest::Client, url: &str) {
    for _ in 0..300 {
        if http.get(url).send().await.is_ok_and(|r| r.status().as_u16() < 500) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not answer within 30 s");
}

/// What one target measured.
#[derive(Default)]
struct Figures {
    put_big: Duration,
    get_big: Duration,
    put_small: f64,
    get_small: f64,
    fill_rate: f64,
    list_p50: f64,
    list_p95: f64,
    idle_mib: f64,
    peak_mib: f64,
}

/// `count` requests spread over `CLIENTS` tasks; requests per second.
async fn concurrently<F, Fut>(count: usize, f: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..CLIENTS {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= count {
                    break;
                }
                f(i).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    count as f64 / started.elapsed().as_secs_f64()
}

async fn measure(t: Arc<Target>, http: reqwest::Client, big: &Path) -> Figures {
    use reqwest::Method;
    let mut out = Figures { idle_mib: mib(t.rss()), ..Default::default() };
    let (stop, peak) = sample_rss(t.pids.clone());
    for c in ["big", "small", "listed"] {
        let r = t.req(&http, Method::PUT, &format!("/{c}")).send().await.unwrap();
        assert!(r.status().is_success(), "{}: PUT container {c}: {}", t.name, r.status());
    }

    let started = Instant::now();
    let file = tokio::fs::File::open(big).await.unwrap();
    let r = t
        .req(&http, Method::PUT, "/big/one")
        .header("content-length", BIG)
        .body(reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}: PUT 1 GiB", t.name);
    out.put_big = started.elapsed();
    let started = Instant::now();
    let mut r = t.req(&http, Method::GET, "/big/one").send().await.unwrap();
    let mut received = 0u64;
    while let Some(chunk) = r.chunk().await.unwrap() {
        received += chunk.len() as u64;
    }
    assert_eq!(received, BIG, "{}: GET 1 GiB", t.name);
    out.get_big = started.elapsed();

    let body = bytes_of(SMALL);
    let (t2, h2, b2) = (t.clone(), http.clone(), body.clone());
    out.put_small = concurrently(SMALL_COUNT, move |i| {
        let (t, h, b) = (t2.clone(), h2.clone(), b2.clone());
        async move {
            let r = t.req(&h, Method::PUT, &format!("/small/o{i:06}")).body(b).send().await.unwrap();
            assert_eq!(r.status(), 201);
        }
    })
    .await;
    let (t2, h2) = (t.clone(), http.clone());
    out.get_small = concurrently(SMALL_COUNT, move |i| {
        let (t, h) = (t2.clone(), h2.clone());
        async move {
            let r = t.req(&h, Method::GET, &format!("/small/o{i:06}")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.bytes().await.unwrap().len(), SMALL);
        }
    })
    .await;

    // The container to list: 100,000 empty objects, written 16 at a time.
    let (t2, h2) = (t.clone(), http.clone());
    out.fill_rate = concurrently(LISTED, move |i| {
        let (t, h) = (t2.clone(), h2.clone());
        async move {
            let path = format!("/listed/{:02}/obj{i:07}", i % 100);
            let r = t.req(&h, Method::PUT, &path).header("content-length", "0").send().await.unwrap();
            assert_eq!(r.status(), 201);
        }
    })
    .await;
    let mut times = vec![];
    for _ in 0..20 {
        let started = Instant::now();
        let r = t.req(&http, Method::GET, "/listed?format=json").send().await.unwrap();
        let body = r.bytes().await.unwrap();
        times.push(started.elapsed());
        let listed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(listed.as_array().map(Vec::len), Some(10_000), "{}: a listing page", t.name);
    }
    times.sort();
    out.list_p50 = percentile_ms(&times, 0.5);
    out.list_p95 = percentile_ms(&times, 0.95);
    stop.store(true, Ordering::Relaxed);
    out.peak_mib = mib(peak.load(Ordering::Relaxed));
    out
}

fn bytes_of(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("oxistack-object-bench-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).pool_max_idle_per_host(32).build().unwrap();

    // The disk's own speed: 1 GiB written and synced, in the same file system.
    let big = dir.join("big.raw");
    let started = Instant::now();
    {
        let mut f = std::fs::File::create(&big).unwrap();
        let block = bytes_of(1 << 20);
        for _ in 0..(BIG >> 20) {
            f.write_all(&block).unwrap();
        }
        f.sync_all().unwrap();
    }
    let disk = started.elapsed();

    let server = Server::start("object", &[]).await;
    let (token, project) = server.admin_token().await;
    let ours = Arc::new(Target {
        name: "Oxistack",
        url: format!("{}/object/v1/AUTH_{project}", server.base),
        token: Some(token),
        pids: vec![server.pid()],
    });
    let ours = measure(ours, http.clone(), &big).await;
    server.stop();

    let swift = match start_swift(&dir.join("swift")) {
        Some((swift, port, backends)) => {
            wait_up(&http, &format!("http://127.0.0.1:{port}/info")).await;
            // The proxy answers before the servers behind it do.
            for backend in backends {
                wait_up(&http, &format!("http://127.0.0.1:{backend}/")).await;
            }
            let target = Arc::new(Target {
                name: "Swift",
                url: format!("http://127.0.0.1:{port}/v1/AUTH_bench"),
                token: None,
                pids: swift.children.iter().map(Child::id).collect(),
            });
            let figures = measure(target, http.clone(), &big).await;
            drop(swift);
            Some(figures)
        }
        None => {
            println!("Debian's swift-proxy, swift-account, swift-container and swift-object are not installed: Oxistack alone");
            None
        }
    };
    let _ = std::fs::remove_dir_all(&dir);

    let col = |f: &dyn Fn(&Figures) -> String| match &swift {
        Some(s) => format!("{} | {}", f(&ours), f(s)),
        None => f(&ours),
    };
    println!(
        "disk write + fsync of 1 GiB (the limit of a PUT): {:.2} s, {:.0} MiB/s",
        disk.as_secs_f64(),
        mib_s(BIG, disk)
    );
    println!();
    println!("| measure | Oxistack |{}", if swift.is_some() { " Swift 2.30 |" } else { "" });
    println!("|---|---|{}", if swift.is_some() { "---|" } else { "" });
    println!("| 1 GiB PUT, MiB/s | {} |", col(&|f| format!("{:.0}", mib_s(BIG, f.put_big))));
    println!("| 1 GiB GET, MiB/s | {} |", col(&|f| format!("{:.0}", mib_s(BIG, f.get_big))));
    println!("| 4 KiB PUT, {CLIENTS} clients, per second | {} |", col(&|f| format!("{:.0}", f.put_small)));
    println!("| 4 KiB GET, {CLIENTS} clients, per second | {} |", col(&|f| format!("{:.0}", f.get_small)));
    println!("| empty PUT into the listed container, per second | {} |", col(&|f| format!("{:.0}", f.fill_rate)));
    println!(
        "| first listing page (10,000) of {LISTED} objects, p50 / p95 ms | {} |",
        col(&|f| format!("{:.1} / {:.1}", f.list_p50, f.list_p95))
    );
    println!(
        "| server resident memory, idle / peak, MiB | {} |",
        col(&|f| format!("{:.1} / {:.1}", f.idle_mib, f.peak_mib))
    );
}
