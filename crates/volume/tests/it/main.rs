//! The Block Storage API in-process, on a fresh database of either engine
//! (OXISTACK_TEST_POSTGRES picks PostgreSQL) and a file backend in a
//! temporary directory. Tokens map to callers through a stand-in for
//! Identity, whose token checks are tested there.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use oxistack_core::context::SharedValidator;
use oxistack_core::testing::Callers;
use oxistack_image::{Image, ImageConfig};
use oxistack_volume::backend::{Connection, FileBackend, VolumeBackend};
use oxistack_volume::{api, Volume, VolumeConfig};

const PA: &str = "0a1b2c3d4e5f40718293a4b5c6d7e8f9";
const PB: &str = "9f8e7d6c5b4a40312213f4e5d6c7b8a9";

fn caller(user: &str, project: &str, roles: &[&str]) -> oxistack_core::Context {
    oxistack_core::testing::caller(user, project, roles)
}

fn validator() -> SharedValidator {
    Arc::new(Callers(HashMap::from([
        ("admin", caller("admin", PA, &["admin", "member", "reader"])),
        ("alice", caller("alice", PA, &["member", "reader"])),
        ("reader", caller("rita", PA, &["reader"])),
        ("bob", caller("bob", PB, &["member", "reader"])),
    ])))
}

struct Dir(std::path::PathBuf);

impl Dir {
    fn new() -> Dir {
        let p = std::env::temp_dir().join(format!("oxistack-volume-it-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config() -> VolumeConfig {
    VolumeConfig { host: "h1".into(), availability_zone: "nova".into(), url: "http://cloud.test/volume".into() }
}

async fn app() -> (Router, Dir) {
    let dir = Dir::new();
    let pool = oxistack_core::testing::database().await;
    let backend = Arc::new(FileBackend::open(&dir.0).unwrap());
    let volume = service(pool, &dir, backend).await;
    (api::router(volume, validator()), dir)
}

/// The service on `pool`, its images kept under `dir`.
async fn service(pool: oxistack_core::db::Pool, dir: &Dir, backend: Arc<dyn VolumeBackend>) -> Arc<Volume> {
    let images = ImageConfig { store_dir: dir.0.join("images"), quota_bytes: None };
    let image = Image::open(pool.clone(), images).await.unwrap();
    Volume::open(pool, config(), backend, image).await.unwrap()
}

async fn call_v(
    app: &Router,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    version: &str,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path).header("x-auth-token", token);
    if !version.is_empty() {
        req = req.header("openstack-api-version", format!("volume {version}"));
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 24).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn call(app: &Router, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    call_v(app, token, method, path, body, "3.71").await
}

/// Creates a volume as `token` and waits until it is available.
async fn volume(app: &Router, token: &str, size: i64) -> String {
    let (status, r) = call(app, token, Method::POST, "/v3/volumes", Some(json!({"volume": {"size": size}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let id = r["volume"]["id"].as_str().unwrap().to_owned();
    wait_status(app, token, &id, "available").await;
    id
}

async fn wait_status(app: &Router, token: &str, id: &str, want: &str) -> Value {
    for _ in 0..200 {
        let (status, r) = call(app, token, Method::GET, &format!("/v3/volumes/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        if r["volume"]["status"] == want {
            return r["volume"].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("volume {id} never became {want}");
}

#[tokio::test]
async fn versions_are_discovered_and_bounded() {
    let (app, _dir) = app().await;
    let (status, r) = call_v(&app, "alice", Method::GET, "/", None, "").await;
    assert_eq!(status, StatusCode::MULTIPLE_CHOICES);
    let v = &r["versions"][0];
    assert_eq!(
        (v["id"].as_str(), v["version"].as_str(), v["min_version"].as_str()),
        (Some("v3.0"), Some("3.71"), Some("3.0"))
    );
    assert!(v["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["rel"] == "self" && l["href"] == "http://cloud.test/volume/v3/"));
    let (status, r) = call_v(&app, "alice", Method::GET, "/v3/volumes", None, "3.99").await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        r["computeFault"]["message"],
        "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
    );
    let (status, r) = call_v(&app, "alice", Method::GET, "/v3/volumes", None, "3.x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let req = Request::builder().uri("/v3/volumes").header("x-auth-token", "alice").body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["openstack-api-version"], "volume 3.0");
}

#[tokio::test]
async fn a_volume_is_made_listed_changed_grown_and_deleted() {
    let (app, dir) = app().await;
    let (status, r) = call(
        &app,
        "alice",
        Method::POST,
        &format!("/v3/{PA}/volumes"),
        Some(json!({"volume": {
        "size": "1", "name": " v1 ", "description": null, "volume_type": null, "metadata": {"k": "v"},
        "availability_zone": null, "imageRef": null, "snapshot_id": null, "source_volid": null,
        "consistencygroup_id": null, "backup_id": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let created = &r["volume"];
    assert_eq!(created["status"], "creating");
    assert_eq!(created["name"], "v1");
    assert_eq!(created["volume_type"], "__DEFAULT__");
    assert_eq!(created["bootable"], "false");
    assert!(created.get("os-vol-tenant-attr:tenant_id").is_none(), "create answers without the extensions");
    let id = created["id"].as_str().unwrap().to_owned();
    let shown = wait_status(&app, "alice", &id, "available").await;
    assert_eq!(shown["os-vol-tenant-attr:tenant_id"], PA);
    assert!(shown.get("os-vol-host-attr:host").is_none(), "only admins see the host");
    assert_eq!(shown["links"][0]["href"], format!("http://cloud.test/volume/v3/{PA}/volumes/{id}"));
    assert_eq!(shown["metadata"], json!({"k": "v"}));
    let file = dir.0.join(format!("volume-{id}"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 1 << 30);

    let (_, r) = call(&app, "admin", Method::GET, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(r["volume"]["os-vol-host-attr:host"], "h1@file#file");
    let (_, r) = call_v(&app, "alice", Method::GET, &format!("/v3/volumes/{id}"), None, "3.0").await;
    assert!(r["volume"].get("volume_type_id").is_none() && r["volume"].get("group_id").is_none(), "{r}");

    let (status, r) = call(&app, "alice", Method::GET, "/v3/volumes", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["volumes"], json!([{"id": id, "name": "v1", "links": shown["links"]}]));
    let (_, r) = call(&app, "alice", Method::GET, "/v3/volumes/detail?metadata=%7B%27k%27%3A+%27v%27%7D", None).await;
    assert_eq!(r["volumes"].as_array().unwrap().len(), 1, "{r}");
    let (_, r) = call(&app, "alice", Method::GET, "/v3/volumes/detail?metadata=%7B%27k%27%3A+%27w%27%7D", None).await;
    assert_eq!(r["volumes"], json!([]));
    let (_, r) = call(&app, "alice", Method::GET, "/v3/volumes/detail?status=error", None).await;
    assert_eq!(r["volumes"], json!([]));

    let (status, r) =
        call(&app, "alice", Method::PUT, &format!("/v3/volumes/{id}"), Some(json!({"volume": {"name": "v2"}}))).await;
    assert_eq!((status, r["volume"]["name"].as_str()), (StatusCode::OK, Some("v2")));
    let (status, r) =
        call(&app, "alice", Method::PUT, &format!("/v3/volumes/{id}/metadata/x"), Some(json!({"meta": {"x": "y"}})))
            .await;
    assert_eq!((status, &r), (StatusCode::OK, &json!({"meta": {"x": "y"}})));
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/volumes/{id}/metadata"), None).await;
    assert_eq!(r, json!({"metadata": {"k": "v", "x": "y"}}));
    let (status, _) =
        call(&app, "alice", Method::PUT, &format!("/v3/volumes/{id}/metadata/x"), Some(json!({"meta": {"z": "y"}})))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let action = format!("/v3/volumes/{id}/action");
    let (status, r) = call(&app, "alice", Method::POST, &action, Some(json!({"os-extend": {"new_size": 1}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let (status, r) =
        call(&app, "alice", Method::POST, &action, Some(json!({"os-extend": {"new_size": i64::MAX}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    for size in [json!(0), json!(-1), json!(i64::MAX), json!("x"), json!(2_147_483_648i64)] {
        let (status, r) =
            call(&app, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"size": size}}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "size {size}: {r}");
    }
    let (status, _) = call(&app, "alice", Method::POST, &action, Some(json!({"os-extend": {"new_size": 3}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let grown = wait_status(&app, "alice", &id, "available").await;
    assert_eq!(grown["size"], 3);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 3 << 30);
    let (status, _) =
        call(&app, "alice", Method::POST, &action, Some(json!({"os-set_bootable": {"bootable": "True"}}))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(r["volume"]["bootable"], "true");
    let (status, r) =
        call(&app, "alice", Method::POST, &action, Some(json!({"os-reset_status": {"status": "error"}}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{r}");
    assert_eq!(
        r["forbidden"]["message"],
        "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be performed."
    );
    let (status, _) =
        call(&app, "admin", Method::POST, &action, Some(json!({"os-reset_status": {"status": "in-use"}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, r) = call(&app, "alice", Method::POST, &action, Some(json!({"os-frobnicate": {}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(r["badRequest"]["message"].as_str().unwrap().starts_with("There is no such action: os-frobnicate"));

    let (status, _) =
        call(&app, "alice", Method::DELETE, &format!("/v3/volumes/{id}?cascade=False&force=False"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    for _ in 0..200 {
        let (status, _) = call(&app, "alice", Method::GET, &format!("/v3/volumes/{id}"), None).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, r) = call(&app, "alice", Method::GET, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(r["itemNotFound"]["message"], format!("Volume {id} could not be found."));
    assert!(!file.exists());
}

#[tokio::test]
async fn other_projects_and_readers_get_what_cinder_gives_them() {
    let (app, _dir) = app().await;
    let id = volume(&app, "alice", 1).await;
    for (method, path, body) in [
        (Method::GET, format!("/v3/volumes/{id}"), None),
        (Method::PUT, format!("/v3/volumes/{id}"), Some(json!({"volume": {"name": "x"}}))),
        (Method::DELETE, format!("/v3/volumes/{id}"), None),
        (Method::POST, format!("/v3/volumes/{id}/action"), Some(json!({"os-extend": {"new_size": 2}}))),
        (Method::GET, format!("/v3/volumes/{id}/metadata"), None),
    ] {
        let (status, r) = call(&app, "bob", method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {r}");
        assert!(!r.to_string().contains("alice"));
    }
    let (_, r) = call(&app, "bob", Method::GET, "/v3/volumes/detail?all_tenants=1", None).await;
    assert_eq!(r["volumes"], json!([]), "all_tenants of a non-admin is ignored");
    let (_, r) = call(&app, "admin", Method::GET, "/v3/volumes/detail?all_tenants=1", None).await;
    assert_eq!(r["volumes"].as_array().unwrap().len(), 1);
    // A project in the URL is the caller's own.
    let (status, r) = call(&app, "bob", Method::GET, &format!("/v3/{PA}/volumes"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(r["badRequest"]["message"], "Malformed request url");

    let (status, _) = call(&app, "reader", Method::GET, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) = call(&app, "reader", Method::POST, "/v3/volumes", Some(json!({"volume": {"size": 1}}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(r["forbidden"]["message"], "Policy doesn't allow volume:create to be performed.");
    let (status, _) = call(&app, "reader", Method::DELETE, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, "alice", Method::DELETE, &format!("/v3/volumes/{id}?force=true"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forced delete is the admins'");
    let (status, _) = call(&app, "bob", Method::GET, &format!("/v3/os-quota-sets/{PA}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &app,
        "alice",
        Method::PUT,
        &format!("/v3/os-quota-sets/{PA}"),
        Some(json!({"quota_set": {"volumes": 99}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn quotas_hold_under_concurrent_creates() {
    let (app, _dir) = app().await;
    let (status, r) = call(
        &app,
        "admin",
        Method::PUT,
        &format!("/v3/os-quota-sets/{PA}"),
        Some(json!({"quota_set": {"volumes": 5, "gigabytes": 100}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!((r["quota_set"]["volumes"].as_i64(), r["quota_set"].get("id")), (Some(5), None));
    let creates = (0..12).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            call(&app, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"size": 1}}))).await
        })
    });
    let mut accepted = 0;
    for c in creates {
        let (status, r) = c.await.unwrap();
        match status {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::PAYLOAD_TOO_LARGE => {
                assert_eq!(
                    r["overLimit"]["message"],
                    "VolumeLimitExceeded: Maximum number of volumes allowed (5) exceeded for quota 'volumes'."
                );
                assert_eq!(r["overLimit"]["retryAfter"], "0");
            }
            other => panic!("{other}: {r}"),
        }
    }
    assert_eq!(accepted, 5);
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/os-quota-sets/{PA}?usage=True"), None).await;
    assert_eq!(r["quota_set"]["volumes"], json!({"limit": 5, "in_use": 5, "reserved": 0}));
    assert_eq!(r["quota_set"]["gigabytes"]["in_use"], 5);
    let (status, r) = call(
        &app,
        "admin",
        Method::PUT,
        &format!("/v3/os-quota-sets/{PA}"),
        Some(json!({"quota_set": {"volumes": 2}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let (status, r) =
        call(&app, "admin", Method::PUT, &format!("/v3/os-quota-sets/{PA}"), Some(json!({"quota_set": {"bogus": 2}})))
            .await;
    assert_eq!(
        (status, r["badRequest"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Invalid input received: Bad key(s) in quota set: bogus"))
    );
    let (_, r) = call(&app, "alice", Method::GET, "/v3/limits", None).await;
    assert_eq!(
        (r["limits"]["absolute"]["maxTotalVolumes"].as_i64(), r["limits"]["absolute"]["totalVolumesUsed"].as_i64()),
        (Some(5), Some(5))
    );
    // Bob's project is not counted with Alice's.
    let (status, _) = call(&app, "bob", Method::POST, "/v3/volumes", Some(json!({"volume": {"size": 1}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn lists_page_in_order_with_links_and_counts() {
    let (app, _dir) = app().await;
    let mut made = vec![];
    for _ in 0..5 {
        made.push(volume(&app, "alice", 1).await);
    }
    let mut seen = vec![];
    let mut path = "/v3/volumes/detail?limit=2".to_owned();
    loop {
        let (status, r) = call(&app, "alice", Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        seen.extend(r["volumes"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()));
        match r["volumes_links"][0]["href"].as_str() {
            Some(next) => {
                path = next.trim_start_matches("http://cloud.test/volume").replace(&format!("/v3/{PA}"), "/v3")
            }
            None => break,
        }
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    let (_, r) =
        call(&app, "alice", Method::GET, "/v3/volumes?with_count=true&limit=1&sort=created_at:asc", None).await;
    assert_eq!((r["count"].as_i64(), r["volumes"][0]["id"].as_str()), (Some(5), Some(made[4].as_str())));
    let (status, _) = call(&app, "alice", Method::GET, "/v3/volumes?sort=bogus", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, r) = call(&app, "alice", Method::GET, "/v3/volumes?bogus=1", None).await;
    assert_eq!(
        (status, r["badRequest"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Invalid filters bogus are found in query options."))
    );
    let (status, _) = call(&app, "alice", Method::GET, "/v3/volumes?marker=nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn types_are_the_admins_and_private_ones_are_given() {
    let (app, _dir) = app().await;
    let (status, r) =
        call(&app, "alice", Method::POST, "/v3/types", Some(json!({"volume_type": {"name": "fast"}}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{r}");
    let (status, r) = call(
        &app,
        "admin",
        Method::POST,
        "/v3/types",
        Some(json!({"volume_type": {
        "name": "fast", "os-volume-type-access:is_public": false, "extra_specs": {"k": "v"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let fast = r["volume_type"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r["volume_type"]["is_public"], false);
    let (status, _) =
        call(&app, "admin", Method::POST, "/v3/types", Some(json!({"volume_type": {"name": "fast"}}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(&app, "alice", Method::GET, &format!("/v3/types/{fast}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, r) = call(&app, "alice", Method::GET, "/v3/types", None).await;
    let names: Vec<&str> = r["volume_types"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["__DEFAULT__"]);
    let (status, _) =
        call(&app, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"size": 1, "volume_type": "fast"}})))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        "admin",
        Method::POST,
        &format!("/v3/types/{fast}/action"),
        Some(json!({"addProjectAccess": {"project": PA}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, r) =
        call(&app, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"size": 1, "volume_type": "fast"}})))
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["volume"]["volume_type"], "fast");
    let (_, r) = call(&app, "bob", Method::GET, "/v3/types", None).await;
    assert_eq!(r["volume_types"].as_array().unwrap().len(), 1, "bob was given nothing");
    // A retype moves a volume into a type the project may use, within that
    // type's quota.
    let plain = volume(&app, "alice", 1).await;
    let retype = |t: &str| json!({"os-retype": {"new_type": t, "migration_policy": "never"}});
    let (status, _) =
        call(&app, "bob", Method::POST, &format!("/v3/volumes/{plain}/action"), Some(retype("fast"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        "admin",
        Method::PUT,
        &format!("/v3/os-quota-sets/{PA}"),
        Some(json!({"quota_set": {"volumes_fast": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) =
        call(&app, "alice", Method::POST, &format!("/v3/volumes/{plain}/action"), Some(retype("fast"))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{r}");
    assert_eq!(
        r["overLimit"]["message"],
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes_fast'."
    );
    let (status, _) = call(
        &app,
        "admin",
        Method::PUT,
        &format!("/v3/os-quota-sets/{PA}"),
        Some(json!({"quota_set": {"volumes_fast": -1}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) =
        call(&app, "alice", Method::POST, &format!("/v3/volumes/{plain}/action"), Some(retype("fast"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/volumes/{plain}"), None).await;
    assert_eq!(r["volume"]["volume_type"], "fast");
    let (status, _) =
        call(&app, "alice", Method::POST, &format!("/v3/volumes/{plain}/action"), Some(retype("fast"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the same type again");
    let (status, _) =
        call(&app, "alice", Method::POST, &format!("/v3/volumes/{plain}/action"), Some(retype("nope"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, r) = call(&app, "admin", Method::DELETE, &format!("/v3/types/{fast}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let (_, r) = call(&app, "alice", Method::GET, "/v3/types/default", None).await;
    assert_eq!(r["volume_type"]["name"], "__DEFAULT__");
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/types/{fast}/extra_specs"), None).await;
    assert_eq!(r, json!({"extra_specs": {"k": "v"}}));
}

/// A backend whose creates wait until they are let go, so a test can stop
/// the service while a volume is being made.
struct Held {
    inner: FileBackend,
    gate: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl VolumeBackend for Held {
    fn create(&self, id: &str, size_gib: u64) -> std::io::Result<()> {
        let _ = self.gate.lock().unwrap().recv_timeout(Duration::from_secs(20));
        self.inner.create(id, size_gib)
    }
    fn create_from_image(&self, id: &str, size_gib: u64, source: &Path, disk_format: &str) -> std::io::Result<()> {
        let _ = self.gate.lock().unwrap().recv_timeout(Duration::from_secs(20));
        self.inner.create_from_image(id, size_gib, source, disk_format)
    }
    fn clone_volume(&self, source: &str, id: &str, size_gib: u64) -> std::io::Result<()> {
        self.inner.clone_volume(source, id, size_gib)
    }
    fn create_snapshot(&self, volume: &str, snapshot: &str) -> std::io::Result<()> {
        self.inner.create_snapshot(volume, snapshot)
    }
    fn create_from_snapshot(&self, snapshot: &str, id: &str, size_gib: u64) -> std::io::Result<()> {
        self.inner.create_from_snapshot(snapshot, id, size_gib)
    }
    fn delete_snapshot(&self, snapshot: &str) -> std::io::Result<()> {
        self.inner.delete_snapshot(snapshot)
    }
    fn create_backup(&self, volume: &str, backup: &str) -> std::io::Result<()> {
        self.inner.create_backup(volume, backup)
    }
    fn restore_backup(&self, backup: &str, id: &str, size_gib: u64) -> std::io::Result<()> {
        self.inner.restore_backup(backup, id, size_gib)
    }
    fn delete_backup(&self, backup: &str) -> std::io::Result<()> {
        self.inner.delete_backup(backup)
    }
    fn export(&self, volume: &str, image: &str, disk_format: &str) -> std::io::Result<std::path::PathBuf> {
        self.inner.export(volume, image, disk_format)
    }
    fn remove_export(&self, image: &str) -> std::io::Result<()> {
        self.inner.remove_export(image)
    }
    fn extend(&self, id: &str, size_gib: u64) -> std::io::Result<()> {
        self.inner.extend(id, size_gib)
    }
    fn delete(&self, id: &str) -> std::io::Result<()> {
        self.inner.delete(id)
    }
    fn connection(&self, id: &str) -> Connection {
        self.inner.connection(id)
    }
    fn exists(&self, id: &str) -> bool {
        self.inner.exists(id)
    }
}

#[tokio::test]
async fn a_start_ends_what_a_stop_cut_short() {
    let dir = Dir::new();
    let pool = oxistack_core::testing::database().await;
    let (tx, rx) = std::sync::mpsc::channel();
    let held = Arc::new(Held { inner: FileBackend::open(&dir.0).unwrap(), gate: Mutex::new(rx) });
    let first = api::router(service(pool.clone(), &dir, held).await, validator());
    let (status, r) = call(&first, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"size": 1}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let id = r["volume"]["id"].as_str().unwrap().to_owned();
    // The server stops while the backend makes the volume; the next start
    // on the same database finds it creating.
    let second = api::router(service(pool, &dir, Arc::new(FileBackend::open(&dir.0).unwrap())).await, validator());
    let (_, r) = call(&second, "alice", Method::GET, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(r["volume"]["status"], "error", "{r}");
    // The first server's late finish does not overwrite what the start decided.
    tx.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, r) = call(&second, "alice", Method::GET, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(r["volume"]["status"], "error");
    let (status, _) = call(&second, "alice", Method::DELETE, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "an errored volume is deleted");
}

async fn wait_snapshot(app: &Router, token: &str, id: &str, want: &str) -> Value {
    for _ in 0..200 {
        let (status, r) = call(app, token, Method::GET, &format!("/v3/snapshots/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        if r["snapshot"]["status"] == want {
            return r["snapshot"].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("snapshot {id} never became {want}");
}

#[tokio::test]
async fn snapshots_keep_data_and_volumes_are_made_from_them_and_from_volumes() {
    use std::os::unix::fs::FileExt;
    let (app, dir) = app().await;
    let vol = volume(&app, "alice", 1).await;
    let file = std::fs::OpenOptions::new().write(true).open(dir.0.join(format!("volume-{vol}"))).unwrap();
    file.write_all_at(b"before", 4096).unwrap();

    let body = json!({"snapshot": {"volume_id": vol, "name": "s1", "metadata": {"k": "v"}, "force": "False"}});
    let (status, r) = call(&app, "alice", Method::POST, &format!("/v3/{PA}/snapshots"), Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let created = &r["snapshot"];
    assert_eq!((created["status"].as_str(), created["size"].as_i64()), (Some("creating"), Some(1)));
    assert_eq!(created["user_id"], "alice");
    let snap = created["id"].as_str().unwrap().to_owned();
    let shown = wait_snapshot(&app, "alice", &snap, "available").await;
    assert_eq!(shown["os-extended-snapshot-attributes:project_id"], PA);
    assert_eq!(shown["metadata"], json!({"k": "v"}));
    file.write_all_at(b"after!", 4096).unwrap();

    // Another project neither sees nor snapshots it; a reader cannot make one.
    let (status, _) = call(&app, "bob", Method::GET, &format!("/v3/snapshots/{snap}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&app, "bob", Method::POST, "/v3/snapshots", Some(json!({"snapshot": {"volume_id": vol}}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&app, "reader", Method::POST, "/v3/snapshots", Some(json!({"snapshot": {"volume_id": vol}}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, r) = call(&app, "bob", Method::GET, "/v3/snapshots/detail", None).await;
    assert_eq!(r["snapshots"], json!([]));
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/snapshots?volume_id={vol}"), None).await;
    assert_eq!(r["snapshots"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["snapshots"][0].get("os-extended-snapshot-attributes:progress").is_none(), "{r}");
    let (_, r) = call(&app, "alice", Method::GET, "/v3/snapshots/detail?status=deleting", None).await;
    assert_eq!(r["snapshots"], json!([]));
    let (_, r) = call(&app, "alice", Method::GET, "/v3/limits", None).await;
    assert_eq!(r["limits"]["absolute"]["totalSnapshotsUsed"], 1, "{r}");
    assert_eq!(r["limits"]["absolute"]["totalGigabytesUsed"], 2, "a snapshot's GiB count: {r}");

    let (status, r) = call(
        &app,
        "alice",
        Method::PUT,
        &format!("/v3/snapshots/{snap}"),
        Some(json!({"snapshot": {"name": "s2", "description": "d"}})),
    )
    .await;
    assert_eq!((status, r["snapshot"]["name"].as_str()), (StatusCode::OK, Some("s2")), "{r}");
    let (status, r) = call(
        &app,
        "alice",
        Method::PUT,
        &format!("/v3/snapshots/{snap}/metadata/x"),
        Some(json!({"meta": {"x": "y"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/snapshots/{snap}/metadata"), None).await;
    assert_eq!(r["metadata"], json!({"k": "v", "x": "y"}));

    // A volume from the snapshot has what was written before it, one from
    // the volume what is there now; neither may be smaller than its source.
    let (status, r) =
        call(&app, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"snapshot_id": snap, "size": null}})))
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let from_snap = r["volume"]["id"].as_str().unwrap().to_owned();
    assert_eq!((r["volume"]["size"].as_i64(), r["volume"]["snapshot_id"].as_str()), (Some(1), Some(snap.as_str())));
    let (status, r) =
        call(&app, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"source_volid": vol, "size": 2}})))
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let clone = r["volume"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r["volume"]["source_volid"], vol.as_str());
    wait_status(&app, "alice", &from_snap, "available").await;
    wait_status(&app, "alice", &clone, "available").await;
    let read = |id: &str| {
        let mut buf = [0u8; 6];
        std::fs::File::open(dir.0.join(format!("volume-{id}"))).unwrap().read_exact_at(&mut buf, 4096).unwrap();
        buf
    };
    assert_eq!(&read(&from_snap), b"before");
    assert_eq!(&read(&clone), b"after!");
    assert_eq!(std::fs::metadata(dir.0.join(format!("volume-{clone}"))).unwrap().len(), 2 << 30);
    let (status, r) =
        call(&app, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"snapshot_id": snap, "size": 0}})))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let (status, r) =
        call(&app, "bob", Method::POST, "/v3/volumes", Some(json!({"volume": {"source_volid": vol}}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another project's volume is no source: {r}");
    let (status, r) = call(
        &app,
        "alice",
        Method::POST,
        "/v3/volumes",
        Some(json!({"volume": {"source_volid": vol, "snapshot_id": snap}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");

    // A volume with a snapshot is not deleted, unless with cascade.
    let (status, r) = call(&app, "alice", Method::DELETE, &format!("/v3/volumes/{vol}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    assert!(r["badRequest"]["message"].as_str().unwrap().contains("dependent snapshots"), "{r}");
    let (status, _) = call(&app, "alice", Method::DELETE, &format!("/v3/volumes/{vol}?cascade=true"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    for _ in 0..200 {
        let (status, _) = call(&app, "alice", Method::GET, &format!("/v3/volumes/{vol}"), None).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _) = call(&app, "alice", Method::GET, &format!("/v3/snapshots/{snap}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the cascade deleted the snapshot");
    assert!(!dir.0.join(format!("snapshot-{snap}")).exists());
    assert!(!dir.0.join(format!("volume-{vol}")).exists());
}

#[tokio::test]
async fn snapshot_quotas_and_admin_actions() {
    let (app, _dir) = app().await;
    let vol = volume(&app, "alice", 1).await;
    let (status, _) = call(
        &app,
        "admin",
        Method::PUT,
        &format!("/v3/os-quota-sets/{PA}"),
        Some(json!({"quota_set": {"snapshots": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body = json!({"snapshot": {"volume_id": vol}});
    let (status, r) = call(&app, "alice", Method::POST, "/v3/snapshots", Some(body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let snap = r["snapshot"]["id"].as_str().unwrap().to_owned();
    let (status, r) = call(&app, "alice", Method::POST, "/v3/snapshots", Some(body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{r}");
    assert!(r["overLimit"]["message"].as_str().unwrap().contains("SnapshotLimitExceeded"), "{r}");
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/os-quota-sets/{PA}?usage=true"), None).await;
    assert_eq!(r["quota_set"]["snapshots"]["in_use"], 1, "{r}");
    wait_snapshot(&app, "alice", &snap, "available").await;

    let reset = json!({"os-reset_status": {"status": "error"}});
    let (status, _) =
        call(&app, "alice", Method::POST, &format!("/v3/snapshots/{snap}/action"), Some(reset.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, "admin", Method::POST, &format!("/v3/snapshots/{snap}/action"), Some(reset)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_snapshot(&app, "alice", &snap, "error").await;
    let (status, _) = call(&app, "alice", Method::DELETE, &format!("/v3/snapshots/{snap}"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "an errored snapshot is deleted");
    for _ in 0..200 {
        let (status, _) = call(&app, "alice", Method::GET, &format!("/v3/snapshots/{snap}"), None).await;
        if status == StatusCode::NOT_FOUND {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("snapshot {snap} was never deleted");
}

#[tokio::test]
async fn attachments_reserve_connect_complete_and_end() {
    let (app, dir) = app().await;
    let vol = volume(&app, "alice", 1).await;
    let server = "5b4c4b4e-8a9e-4c61-9b1e-0d6f1f1a2b3c";
    let (status, r) = call_v(
        &app,
        "alice",
        Method::POST,
        "/v3/attachments",
        Some(json!({"attachment": {
        "volume_uuid": vol, "instance_uuid": server}})),
        "3.26",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no attachments API before 3.27: {r}");
    let (status, r) = call(
        &app,
        "bob",
        Method::POST,
        "/v3/attachments",
        Some(json!({"attachment": {
        "volume_uuid": vol, "instance_uuid": server}})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another project's volume is not there: {r}");
    let (status, r) = call(
        &app,
        "alice",
        Method::POST,
        "/v3/attachments",
        Some(json!({"attachment": {
        "volume_uuid": vol, "instance_uuid": server}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let att = r["attachment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (r["attachment"]["status"].as_str(), r["attachment"]["instance"].as_str()),
        (Some("reserved"), Some(server))
    );
    assert_eq!(wait_status(&app, "alice", &vol, "reserved").await["attachments"], json!([]));
    // A volume that is not multiattach is one server's.
    let (status, r) = call(
        &app,
        "alice",
        Method::POST,
        "/v3/attachments",
        Some(json!({"attachment": {
        "volume_uuid": vol, "instance_uuid": "another"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");

    let connector = json!({"attachment": {"connector": {"host": "h1", "initiator": "x"}}});
    let (status, r) =
        call(&app, "alice", Method::PUT, &format!("/v3/attachments/{att}"), Some(connector.clone())).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        r["attachment"]["connection_info"],
        json!({"driver_volume_type": "file", "data": {}}),
        "no host path to a member"
    );
    let (_, r) = call(&app, "admin", Method::PUT, &format!("/v3/attachments/{att}"), Some(connector)).await;
    let path = dir.0.join(format!("volume-{vol}"));
    assert_eq!(r["attachment"]["connection_info"]["data"]["device_path"], path.to_str().unwrap());
    wait_status(&app, "alice", &vol, "attaching").await;
    let (status, _) =
        call(&app, "reader", Method::POST, &format!("/v3/attachments/{att}/action"), Some(json!({"os-complete": {}})))
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        call(&app, "alice", Method::POST, &format!("/v3/attachments/{att}/action"), Some(json!({"os-complete": {}})))
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let shown = wait_status(&app, "alice", &vol, "in-use").await;
    let a = &shown["attachments"][0];
    assert_eq!(
        (a["attachment_id"].as_str(), a["server_id"].as_str(), a["host_name"].as_str()),
        (Some(att.as_str()), Some(server), Some("h1"))
    );
    // An in-use volume is neither deleted nor force-deleted.
    let (status, r) = call(&app, "alice", Method::DELETE, &format!("/v3/volumes/{vol}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let (status, _) =
        call(&app, "admin", Method::POST, &format!("/v3/volumes/{vol}/action"), Some(json!({"os-force_delete": {}})))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, r) = call(&app, "alice", Method::GET, "/v3/attachments", None).await;
    assert_eq!(r["attachments"], json!([{"id": att, "status": "attached", "instance": server, "volume_id": vol}]));
    let (_, r) = call(&app, "bob", Method::GET, "/v3/attachments", None).await;
    assert_eq!(r["attachments"], json!([]));
    let (status, _) = call(&app, "bob", Method::DELETE, &format!("/v3/attachments/{att}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, r) = call(&app, "alice", Method::DELETE, &format!("/v3/attachments/{att}"), None).await;
    assert_eq!((status, &r), (StatusCode::OK, &json!({"attachments": []})));
    wait_status(&app, "alice", &vol, "available").await;

    // The legacy actions walk the same steps.
    for (action, args, status) in [
        ("os-reserve", json!({}), "reserved"),
        ("os-attach", json!({"instance_uuid": server, "mountpoint": "/dev/vdb"}), "in-use"),
        ("os-begin_detaching", json!({}), "detaching"),
        ("os-roll_detaching", json!({}), "in-use"),
        ("os-begin_detaching", json!({}), "detaching"),
        ("os-detach", json!({}), "available"),
    ] {
        let (code, r) =
            call(&app, "alice", Method::POST, &format!("/v3/volumes/{vol}/action"), Some(json!({action: args}))).await;
        assert_eq!(code, StatusCode::ACCEPTED, "{action}: {r}");
        wait_status(&app, "alice", &vol, status).await;
    }
    let (code, r) = call(
        &app,
        "alice",
        Method::POST,
        &format!("/v3/volumes/{vol}/action"),
        Some(json!({"os-initialize_connection": {"connector": {"host": "h1"}}})),
    )
    .await;
    assert_eq!((code, &r["connection_info"]["driver_volume_type"]), (StatusCode::OK, &json!("file")), "{r}");
}

#[tokio::test]
async fn a_start_ends_a_download_from_an_image_cut_short() {
    let dir = Dir::new();
    let pool = oxistack_core::testing::database().await;
    let images = ImageConfig { store_dir: dir.0.join("images"), quota_bytes: None };
    let image = Image::open(pool.clone(), images).await.unwrap();
    let admin = caller("admin", PA, &["admin", "member", "reader"]);
    let body = json!({"name": "img", "disk_format": "raw", "container_format": "bare", "visibility": "public"});
    let img = image.create(&admin, body.as_object().unwrap()).await.unwrap();
    image.upload(&admin, &img.id, axum::body::Body::from(vec![7u8; 1 << 20])).await.unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let held = Arc::new(Held { inner: FileBackend::open(&dir.0).unwrap(), gate: Mutex::new(rx) });
    let first = api::router(service(pool.clone(), &dir, held).await, validator());
    let (status, r) =
        call(&first, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"imageRef": img.id}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let id = r["volume"]["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_status(&first, "alice", &id, "downloading").await["bootable"], "true");
    // The server stops while the image is copied; the next start finds the
    // volume downloading and makes it an error, which is deleted whole.
    let second = api::router(service(pool, &dir, Arc::new(FileBackend::open(&dir.0).unwrap())).await, validator());
    wait_status(&second, "alice", &id, "error").await;
    let (status, _) = call(&second, "alice", Method::DELETE, &format!("/v3/volumes/{id}"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    for _ in 0..200 {
        if call(&second, "alice", Method::GET, &format!("/v3/volumes/{id}"), None).await.0 == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("volume-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The stopped server's copy is let go only now: a killed process never
    // finishes it.
    drop(tx);
}

async fn wait_backup(app: &Router, token: &str, id: &str, want: &str) -> Value {
    for _ in 0..200 {
        let (status, r) = call(app, token, Method::GET, &format!("/v3/backups/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        if r["backup"]["status"] == want {
            return r["backup"].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("backup {id} never became {want}");
}

#[tokio::test]
async fn backups_are_made_restored_and_counted() {
    use std::os::unix::fs::FileExt;
    let (app, dir) = app().await;
    let vol = volume(&app, "alice", 1).await;
    let write = |id: &str, data: &[u8]| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.0.join(format!("volume-{id}")))
            .unwrap()
            .write_all_at(data, 8192)
            .unwrap()
    };
    let read = |id: &str| {
        let mut buf = [0u8; 8];
        std::fs::File::open(dir.0.join(format!("volume-{id}"))).unwrap().read_exact_at(&mut buf, 8192).unwrap();
        buf
    };
    write(&vol, b"backedup");
    let (status, r) = call(
        &app,
        "alice",
        Method::POST,
        "/v3/backups",
        Some(json!({"backup": {
        "volume_id": vol, "name": "b1", "description": null, "container": null, "incremental": false}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["backup"]["name"], "b1");
    let backup = r["backup"]["id"].as_str().unwrap().to_owned();
    let shown = wait_backup(&app, "alice", &backup, "available").await;
    assert_eq!(
        (shown["size"].as_i64(), shown["volume_id"].as_str(), shown["user_id"].as_str()),
        (Some(1), Some(vol.as_str()), Some("alice"))
    );
    wait_status(&app, "alice", &vol, "available").await;
    write(&vol, b"changed!");
    let (_, r) = call(&app, "alice", Method::GET, "/v3/limits", None).await;
    assert_eq!(
        (
            r["limits"]["absolute"]["totalBackupsUsed"].as_i64(),
            r["limits"]["absolute"]["totalBackupGigabytesUsed"].as_i64()
        ),
        (Some(1), Some(1))
    );
    // Another project neither sees nor restores it; a reader makes none.
    let (status, _) = call(&app, "bob", Method::GET, &format!("/v3/backups/{backup}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&app, "bob", Method::POST, &format!("/v3/backups/{backup}/restore"), Some(json!({"restore": {}}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&app, "reader", Method::POST, "/v3/backups", Some(json!({"backup": {"volume_id": vol}}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, r) = call(&app, "bob", Method::GET, "/v3/backups/detail", None).await;
    assert_eq!(r["backups"], json!([]));

    // Restored into a new volume, and over the volume itself.
    let (status, r) = call(
        &app,
        "alice",
        Method::POST,
        &format!("/v3/backups/{backup}/restore"),
        Some(json!({"restore": {"name": "r1"}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(
        (r["restore"]["backup_id"].as_str(), r["restore"]["volume_name"].as_str()),
        (Some(backup.as_str()), Some("r1"))
    );
    let restored = r["restore"]["volume_id"].as_str().unwrap().to_owned();
    wait_status(&app, "alice", &restored, "available").await;
    assert_eq!(&read(&restored), b"backedup");
    let (status, r) = call(
        &app,
        "alice",
        Method::POST,
        &format!("/v3/backups/{backup}/restore"),
        Some(json!({"restore": {"volume_id": vol}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    wait_backup(&app, "alice", &backup, "available").await;
    wait_status(&app, "alice", &vol, "available").await;
    assert_eq!(&read(&vol), b"backedup");
    // A volume made from the backup (3.47) holds it too.
    let (status, r) =
        call(&app, "alice", Method::POST, "/v3/volumes", Some(json!({"volume": {"backup_id": backup}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let from_backup = r["volume"]["id"].as_str().unwrap().to_owned();
    wait_status(&app, "alice", &from_backup, "available").await;
    assert_eq!(&read(&from_backup), b"backedup");

    // The backups quota holds.
    let (status, _) = call(
        &app,
        "admin",
        Method::PUT,
        &format!("/v3/os-quota-sets/{PA}"),
        Some(json!({"quota_set": {"backups": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) =
        call(&app, "alice", Method::POST, "/v3/backups", Some(json!({"backup": {"volume_id": vol}}))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{r}");
    assert!(r["overLimit"]["message"].as_str().unwrap().contains("BackupLimitExceeded"), "{r}");
    wait_status(&app, "alice", &vol, "available").await;

    let (status, _) = call(&app, "alice", Method::DELETE, &format!("/v3/backups/{backup}"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    for _ in 0..200 {
        if call(&app, "alice", Method::GET, &format!("/v3/backups/{backup}"), None).await.0 == StatusCode::NOT_FOUND {
            assert!(!dir.0.join(format!("backup-{backup}")).exists());
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("backup {backup} was never deleted");
}

#[tokio::test]
async fn image_metadata_is_kept_set_and_unset() {
    let (app, _dir) = app().await;
    let vol = volume(&app, "alice", 1).await;
    let path = format!("/v3/volumes/{vol}/action");
    let act = |body: Value| call(&app, "alice", Method::POST, &path, Some(body));
    let (status, r) =
        act(json!({"os-set_image_metadata": {"metadata": {"os_distro": "debian", "hw_disk_bus": "virtio"}}})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["metadata"], json!({"os_distro": "debian", "hw_disk_bus": "virtio"}));
    let (status, _) = act(json!({"os-unset_image_metadata": {"key": "hw_disk_bus"}})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) = act(json!({"os-show_image_metadata": null})).await;
    assert_eq!((status, &r["metadata"]), (StatusCode::OK, &json!({"os_distro": "debian"})));
    let (_, r) = call(&app, "alice", Method::GET, &format!("/v3/volumes/{vol}"), None).await;
    assert_eq!(r["volume"]["volume_image_metadata"], json!({"os_distro": "debian"}));
    let (status, _) = act(json!({"os-unset_image_metadata": {"key": "nope"}})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        "reader",
        Method::POST,
        &format!("/v3/volumes/{vol}/action"),
        Some(json!({"os-set_image_metadata": {"metadata": {"a": "b"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &app,
        "bob",
        Method::POST,
        &format!("/v3/volumes/{vol}/action"),
        Some(json!({"os-show_image_metadata": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
