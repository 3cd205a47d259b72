//! The Compute API in-process (fake driver, in-memory store), its answers
//! compared with Nova's api samples per microversion: the same keys at every
//! level and the same JSON types. Tokens are mapped to callers by a stand-in
//! for Identity, whose token checks are tested in its own crate.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use oxistack_compute::virt::FakeDriver;
use oxistack_compute::{api, Compute, ComputeConfig};
use oxistack_core::context::SharedValidator;
use oxistack_core::testing::{caller, shape_diff, Callers};
use oxistack_image::{Image, ImageConfig};

struct Cloud {
    app: Router,
    /// Block Storage, on the same database.
    volume_app: Router,
    volume: Arc<oxistack_volume::Volume>,
    driver: Arc<FakeDriver>,
    image_id: String,
    pool: oxistack_core::db::Pool,
    dir: std::path::PathBuf,
    /// The first start's cloud removes the directory; a restart's leaves it.
    owns_dir: bool,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

async fn cloud() -> Cloud {
    let dir = std::env::temp_dir().join(format!("oxistack-compute-it-{}", uuid::Uuid::new_v4()));
    let pool = oxistack_core::testing::database().await;
    let image = Image::open(pool.clone(), ImageConfig { store_dir: dir.clone(), quota_bytes: None }).await.unwrap();
    let admin = caller("admin-user", "p1", &["admin", "member", "reader"]);
    let body = json!({"name": "cirros", "disk_format": "raw", "container_format": "bare"});
    let img = image.create(&admin, body.as_object().unwrap()).await.unwrap();
    image.upload(&admin, &img.id, Body::from(vec![0u8; 1024])).await.unwrap();
    start(pool, dir, img.id, true).await
}

/// The services on `pool` and `dir`, as a server's start opens them.
async fn start(pool: oxistack_core::db::Pool, dir: std::path::PathBuf, image_id: String, owns_dir: bool) -> Cloud {
    let image = Image::open(pool.clone(), ImageConfig { store_dir: dir.clone(), quota_bytes: None }).await.unwrap();
    let admin = caller("admin-user", "p1", &["admin", "member", "reader"]);
    let config = ComputeConfig {
        host: "oxistack".into(),
        availability_zone: "nova".into(),
        url: "http://cloud.test/compute".into(),
        state_path: dir.clone(),
        allocation_ratios: Default::default(),
        force_config_drive: false,
    };
    let network = oxistack_network::Network::open(
        pool.clone(),
        oxistack_network::NetworkConfig { public_cidr: "127.42.0.0/24".into(), private_cidr: "10.0.0.0/24".into() },
    )
    .await
    .unwrap();
    network.bootstrap("p1").await.unwrap();
    let volume_config = oxistack_volume::VolumeConfig {
        host: "oxistack".into(),
        availability_zone: "nova".into(),
        url: "http://cloud.test/volume".into(),
    };
    let backend = Arc::new(oxistack_volume::backend::FileBackend::open(&dir.join("volumes")).unwrap());
    let volume = oxistack_volume::Volume::open(pool.clone(), volume_config, backend, image.clone()).await.unwrap();
    let driver = Arc::new(FakeDriver::default());
    let compute = Compute::open(pool.clone(), driver.clone(), image, network, volume.clone(), config).await.unwrap();
    let callers: SharedValidator = Arc::new(Callers(HashMap::from([
        ("admin", admin),
        ("member", caller("member-user", "p1", &["member", "reader"])),
        ("other", caller("other-user", "p2", &["member", "reader"])),
    ])));
    Cloud {
        app: api::router(compute, callers.clone()),
        volume_app: oxistack_volume::api::router(volume.clone(), callers),
        volume,
        driver,
        image_id,
        pool,
        dir,
        owns_dir,
    }
}

impl Cloud {
    async fn call(
        &self,
        token: &str,
        version: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("x-auth-token", token)
            .header("openstack-api-version", format!("compute {version}"))
            .header("content-type", "application/json");
        let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Boots a server from Nova's create sample (as `version` defines it) and
    /// waits for it to be ACTIVE.
    async fn boot(&self, version: &str, sample_dir: &str) -> String {
        let mut req = sample(&format!("{sample_dir}server-create-req"));
        req["server"]["imageRef"] = json!(self.image_id);
        req["server"]["flavorRef"] = json!("1");
        req["server"]["availability_zone"] = json!("nova");
        // Personality files are gone from 2.57 on.
        req["server"].as_object_mut().unwrap().remove("personality");
        let (status, body) = self.call("admin", version, Method::POST, "/v2.1/servers", Some(req)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["server"]["id"].as_str().unwrap().to_owned();
        self.wait_active(&id).await;
        id
    }

    async fn wait_active(&self, id: &str) {
        for _ in 0..100 {
            let (_, s) = self.call("admin", "2.1", Method::GET, &format!("/v2.1/servers/{id}"), None).await;
            if s["server"]["status"] == "ACTIVE" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("server {id} did not become ACTIVE");
    }
}

impl Cloud {
    async fn call_volume(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("x-auth-token", token)
            .header("openstack-api-version", "volume 3.71")
            .header("content-type", "application/json");
        let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
        let res = self.volume_app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A volume of `token`'s project, waited for until it is `want`.
    async fn volume_status(&self, token: &str, id: &str, want: &str) -> Value {
        for _ in 0..200 {
            let (_, r) = self.call_volume(token, Method::GET, &format!("/v3/volumes/{id}"), None).await;
            if r["volume"]["status"] == want {
                return r["volume"].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("volume {id} never became {want}");
    }

    /// Waits until volume `id` is gone; `why` otherwise.
    async fn volume_gone(&self, token: &str, id: &str, why: &str) {
        for _ in 0..200 {
            let (status, _) = self.call_volume(token, Method::GET, &format!("/v3/volumes/{id}"), None).await;
            if status == StatusCode::NOT_FOUND {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("{why}");
    }

    async fn new_volume(&self, token: &str) -> String {
        let (status, r) =
            self.call_volume(token, Method::POST, "/v3/volumes", Some(json!({"volume": {"size": 1}}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{r}");
        let id = r["volume"]["id"].as_str().unwrap().to_owned();
        self.volume_status(token, &id, "available").await;
        id
    }
}

fn sample(name: &str) -> Value {
    oxistack_core::testing::sample(name)
}

fn assert_shape(name: &str, ours: &Value) {
    assert_shape_except(name, ours, &[]);
}

/// As `assert_shape`, but for the differences named (each a difference of
/// state between the sample's cloud and ours, said at the call).
fn assert_shape_except(name: &str, ours: &Value, expected: &[&str]) {
    let mut diffs = shape_diff(&sample(name), ours);
    diffs.retain(|d| !expected.iter().any(|e| d.contains(e)));
    // The keys of addresses (network names), extra_specs, metadata, image
    // properties, scheduler hints and group rules are data, not shape.
    diffs.retain(|d| {
        ![".extra_specs.", ".image.properties.", ".scheduler_hints.", ".metadata.", ".rules."]
            .iter()
            .any(|k| d.contains(k))
    });
    assert!(diffs.is_empty(), "{name}: {diffs:#?}\nours: {ours:#}");
}

#[tokio::test]
async fn versions_flavors_limits_and_zones_match_samples() {
    let c = cloud().await;
    let (status, v) = c.call("member", "2.1", Method::GET, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    // Nova still lists the removed v2.0 too; only the v2.1 entry is compared.
    let mut s = sample("versions/versions-get-resp");
    s["versions"] = json!([s["versions"][1].clone()]);
    let diffs = shape_diff(&s, &v);
    assert!(diffs.is_empty(), "{diffs:?}");
    let (_, v) = c.call("member", "2.1", Method::GET, "/v2.1", None).await;
    assert_shape("versions/v21-version-get-resp", &v);

    for (version, dir) in [("2.1", ""), ("2.55", "v2.55/"), ("2.61", "v2.61/"), ("2.75", "v2.75/")] {
        let (_, body) = c.call("member", version, Method::GET, "/v2.1/flavors/detail", None).await;
        assert_shape(&format!("flavors/{dir}flavors-detail-resp"), &body);
    }
    let (_, body) = c.call("member", "2.1", Method::GET, "/v2.1/flavors", None).await;
    assert_shape("flavors/flavors-list-resp", &body);
    let (_, body) = c.call("member", "2.75", Method::GET, "/v2.1/flavors/1", None).await;
    // DevStack's flavors have no description; the sample's has one.
    assert_shape_except("flavors/v2.75/flavor-get-resp", &body, &[".flavor.description"]);
    assert_eq!(body["flavor"]["swap"], json!(0));
    let (_, body) = c.call("member", "2.1", Method::GET, "/v2.1/flavors/1", None).await;
    assert_eq!(body["flavor"]["swap"], json!(""));

    let (_, body) = c.call("member", "2.1", Method::GET, "/v2.1/limits", None).await;
    assert_shape("limits/limit-get-resp", &body);
    let (_, body) = c.call("member", "2.1", Method::GET, "/v2.1/os-availability-zone", None).await;
    assert_shape("os-availability-zone/availability-zone-list-resp", &body);
}

#[tokio::test]
async fn keypairs_match_samples() {
    let c = cloud().await;
    let (status, body) = c
        .call("member", "2.1", Method::POST, "/v2.1/os-keypairs", Some(sample("os-keypairs/keypairs-import-post-req")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("os-keypairs/keypairs-import-post-resp", &body);
    let name = body["keypair"]["name"].as_str().unwrap().to_owned();
    let (_, list) = c.call("member", "2.1", Method::GET, "/v2.1/os-keypairs", None).await;
    assert_shape("os-keypairs/keypairs-list-resp", &list);
    let (_, got) =
        c.call("member", "2.1", Method::GET, &format!("/v2.1/os-keypairs/{}", name.replace(' ', "%20")), None).await;
    assert_shape("os-keypairs/keypairs-get-resp", &got);

    let mut req = sample("os-keypairs/keypairs-import-post-req");
    req["keypair"]["name"] = json!("second");
    req["keypair"]["type"] = json!("ssh");
    let (status, body) = c.call("member", "2.2", Method::POST, "/v2.1/os-keypairs", Some(req)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_shape("os-keypairs/v2.2/keypairs-import-post-resp", &body);

    // 2.92: an admin imports for another user.
    let (status, body) = c
        .call(
            "admin",
            "2.92",
            Method::POST,
            "/v2.1/os-keypairs",
            Some(sample("os-keypairs/v2.92/keypairs-import-post-req")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_shape("os-keypairs/v2.92/keypairs-import-post-resp", &body);
    let (status, _) = c
        .call(
            "member",
            "2.92",
            Method::POST,
            "/v2.1/os-keypairs",
            Some(sample("os-keypairs/v2.92/keypairs-import-post-req")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        c.call("member", "2.92", Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "gen"}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["badRequest"]["message"].as_str().unwrap().contains("public_key"));
}

#[tokio::test]
async fn servers_match_samples_per_microversion() {
    let c = cloud().await;
    let id = c.boot("2.1", "servers/").await;
    let mut req = sample("servers/server-create-req");
    req["server"]["imageRef"] = json!(c.image_id);
    req["server"]["flavorRef"] = json!("1");
    req["server"]["availability_zone"] = json!("nova");
    let (_, created) = c.call("admin", "2.1", Method::POST, "/v2.1/servers", Some(req)).await;
    assert_shape("servers/server-create-resp", &created);
    // Listed once it is built, as the samples' servers are.
    let second = created["server"]["id"].as_str().unwrap();
    c.wait_active(second).await;

    for (version, dir) in [("2.1", ""), ("2.9", "v2.9/"), ("2.47", "v2.47/"), ("2.96", "v2.96/"), ("2.100", "v2.100/")]
    {
        let name = format!("servers/{dir}server-get-resp");
        // Nova's samples are taken as admin for some versions and not others:
        // ask as the caller the sample was taken by.
        let who = if sample(&name)["server"].get("OS-EXT-SRV-ATTR:host").is_some() { "admin" } else { "member" };
        let token = if who == "admin" { "admin" } else { "member" };
        let (status, body) = c.call(token, version, Method::GET, &format!("/v2.1/servers/{id}"), None).await;
        if who == "member" {
            // The member belongs to the same project, so sees the server.
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        // No Block Storage service yet: no volumes are attached.
        assert_shape_except(&name, &body, &["list .server.os-extended-volumes:volumes_attached"]);
        if version == "2.96" {
            assert_eq!(body["server"]["pinned_availability_zone"], "nova", "asked for at create");
        }
    }
    // The list samples were taken with a page limit; ours fit on one page.
    let (_, list) = c.call("member", "2.1", Method::GET, "/v2.1/servers", None).await;
    let mut s = sample("servers/servers-list-resp");
    s.as_object_mut().unwrap().remove("servers_links");
    let diffs = shape_diff(&s, &list);
    assert!(diffs.is_empty(), "{diffs:#?}");
    let (_, detail) = c.call("admin", "2.1", Method::GET, "/v2.1/servers/detail", None).await;
    let mut s = sample("servers/servers-details-resp");
    s.as_object_mut().unwrap().remove("servers_links");
    let mut diffs = shape_diff(&s, &detail);
    diffs.retain(|d| {
        !d.contains(".extra_specs.") && !d.contains("list .servers[0].os-extended-volumes:volumes_attached")
    });
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[tokio::test]
async fn quota_sets_match_samples_and_bound_boots() {
    let c = cloud().await;
    let (_, body) = c.call("member", "2.1", Method::GET, "/v2.1/os-quota-sets/p1", None).await;
    assert_shape("os-quota-sets/quotas-show-get-resp", &body);
    for (path, name) in [
        ("", "quotas-show-get-resp"),
        ("/detail", "quotas-show-detail-get-resp"),
        ("/defaults", "quotas-show-defaults-get-resp"),
    ] {
        let (_, body) = c.call("member", "2.57", Method::GET, &format!("/v2.1/os-quota-sets/p1{path}"), None).await;
        assert_shape(&format!("os-quota-sets/v2.57/{name}"), &body);
    }
    let req = sample("os-quota-sets/v2.57/quotas-update-post-req");
    let (status, _) = c.call("member", "2.57", Method::PUT, "/v2.1/os-quota-sets/p1", Some(req.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = c.call("admin", "2.57", Method::PUT, "/v2.1/os-quota-sets/p1", Some(req)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("os-quota-sets/v2.57/quotas-update-post-resp", &body);
    assert_eq!(body["quota_set"]["instances"], 20);

    // One instance allowed: the second boot is refused with Nova's body.
    let one = json!({"quota_set": {"instances": 1}});
    c.call("admin", "2.57", Method::PUT, "/v2.1/os-quota-sets/p1", Some(one)).await;
    c.boot("2.1", "servers/").await;
    let mut req = sample("servers/server-create-req");
    req["server"]["imageRef"] = json!(c.image_id);
    req["server"]["flavorRef"] = json!("1");
    req["server"]["availability_zone"] = json!("nova");
    let (status, body) = c.call("member", "2.1", Method::POST, "/v2.1/servers", Some(req)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["forbidden"]["message"],
        "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"
    );
    let (_, body) = c.call("member", "2.57", Method::GET, "/v2.1/os-quota-sets/p1/detail", None).await;
    assert_eq!(body["quota_set"]["instances"], json!({"limit": 1, "in_use": 1, "reserved": 0}));
    let (status, _) = c.call("admin", "2.57", Method::DELETE, "/v2.1/os-quota-sets/p1", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, body) = c.call("member", "2.57", Method::GET, "/v2.1/os-quota-sets/p1", None).await;
    assert_eq!(body["quota_set"]["instances"], 10);
}

#[tokio::test]
async fn metadata_tags_extra_specs_and_flavor_access_match_samples() {
    let c = cloud().await;
    let id = c.boot("2.26", "servers/").await;
    let base = format!("/v2.1/servers/{id}");
    let (status, body) = c
        .call(
            "member",
            "2.1",
            Method::POST,
            &format!("{base}/metadata"),
            Some(sample("server-metadata/server-metadata-all-req")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("server-metadata/server-metadata-all-resp", &body);
    let (status, body) = c
        .call(
            "member",
            "2.1",
            Method::PUT,
            &format!("{base}/metadata/foo"),
            Some(sample("server-metadata/server-metadata-req")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("server-metadata/server-metadata-resp", &body);
    let (_, body) = c.call("member", "2.1", Method::GET, &format!("{base}/metadata/foo"), None).await;
    assert_eq!(body["meta"]["foo"], "Bar Value");
    let (status, _) = c.call("member", "2.1", Method::DELETE, &format!("{base}/metadata/foo"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = c.call("member", "2.1", Method::GET, &format!("{base}/metadata/foo"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = c.call("member", "2.25", Method::GET, &format!("{base}/tags"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = c
        .call(
            "member",
            "2.26",
            Method::PUT,
            &format!("{base}/tags"),
            Some(sample("os-server-tags/v2.26/server-tags-put-all-req")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("os-server-tags/v2.26/server-tags-put-all-resp", &body);
    let (_, body) = c.call("member", "2.26", Method::GET, &format!("{base}/tags"), None).await;
    assert_shape("os-server-tags/v2.26/server-tags-index-resp", &body);
    let (status, _) = c.call("member", "2.26", Method::PUT, &format!("{base}/tags/new"), None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = c.call("member", "2.26", Method::GET, &format!("{base}/tags/new"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = c.call("member", "2.26", Method::GET, "/v2.1/servers?tags=new", None).await;
    assert_eq!(body["servers"].as_array().unwrap().len(), 1);

    let (status, body) = c
        .call(
            "admin",
            "2.1",
            Method::POST,
            "/v2.1/flavors/1/os-extra_specs",
            Some(sample("flavor-extra-specs/flavor-extra-specs-create-req")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("flavor-extra-specs/flavor-extra-specs-create-resp", &body);
    let (_, body) = c.call("member", "2.1", Method::GET, "/v2.1/flavors/1/os-extra_specs", None).await;
    assert_shape("flavor-extra-specs/flavor-extra-specs-list-resp", &body);
    let (_, body) = c.call("member", "2.1", Method::GET, "/v2.1/flavors/1/os-extra_specs/hw:numa_nodes", None).await;
    assert_shape("flavor-extra-specs/flavor-extra-specs-get-resp", &body);
    let (status, body) = c
        .call(
            "admin",
            "2.1",
            Method::PUT,
            "/v2.1/flavors/1/os-extra_specs/hw:numa_nodes",
            Some(sample("flavor-extra-specs/flavor-extra-specs-update-req")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("flavor-extra-specs/flavor-extra-specs-update-resp", &body);
    let (status, _) = c
        .call(
            "member",
            "2.1",
            Method::POST,
            "/v2.1/flavors/1/os-extra_specs",
            Some(sample("flavor-extra-specs/flavor-extra-specs-create-req")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A private flavor: invisible and unbootable until the project is given access.
    let (status, _) =
        c.call("admin", "2.1", Method::POST, "/v2.1/flavors", Some(sample("flavor-access/flavor-create-req"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = c.call("member", "2.1", Method::GET, "/v2.1/flavors", None).await;
    assert_eq!(status, StatusCode::OK);
    let visible = |b: &Value| b["flavors"].as_array().unwrap().iter().any(|f| f["id"] == "10");
    assert!(!visible(&c.call("member", "2.1", Method::GET, "/v2.1/flavors", None).await.1));
    let mut add = sample("flavor-access/flavor-access-add-tenant-req");
    add["addTenantAccess"]["tenant"] = json!("p1");
    let (status, body) = c.call("admin", "2.1", Method::POST, "/v2.1/flavors/10/action", Some(add)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("flavor-access/flavor-access-add-tenant-resp", &body);
    let (_, body) = c.call("admin", "2.1", Method::GET, "/v2.1/flavors/10/os-flavor-access", None).await;
    assert_shape("flavor-access/flavor-access-list-resp", &body);
    assert!(visible(&c.call("member", "2.1", Method::GET, "/v2.1/flavors", None).await.1));
    let mut remove = sample("flavor-access/flavor-access-remove-tenant-req");
    remove["removeTenantAccess"]["tenant"] = json!("p1");
    let (status, body) = c.call("admin", "2.1", Method::POST, "/v2.1/flavors/10/action", Some(remove)).await;
    assert_eq!(status, StatusCode::OK);
    assert_shape("flavor-access/flavor-access-remove-tenant-resp", &body);
}

impl Cloud {
    async fn action(&self, version: &str, id: &str, body: Value) -> (StatusCode, Value) {
        self.call("member", version, Method::POST, &format!("/v2.1/servers/{id}/action"), Some(body)).await
    }

    /// Waits until the server shows `status` with no task running.
    async fn wait_for(&self, id: &str, status: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            let (_, s) = self.call("member", "2.96", Method::GET, &format!("/v2.1/servers/{id}"), None).await;
            if s["server"]["status"] == status && s["server"]["OS-EXT-STS:task_state"].is_null() {
                return s["server"].clone();
            }
            last = s;
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("server {id} never reached {status}: {last}");
    }
}

#[tokio::test]
async fn rebuild_resize_rescue_shelve_console_and_snapshot() {
    let c = cloud().await;
    let id = c.boot("2.96", "servers/v2.47/").await;

    let (status, body) = c.action("2.96", &id, json!({"resize": {"flavorRef": "2"}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let s = c.wait_for(&id, "VERIFY_RESIZE").await;
    assert_eq!(s["flavor"]["original_name"], "m1.small");
    let (status, _) = c.action("2.96", &id, json!({"revertResize": null})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let s = c.wait_for(&id, "ACTIVE").await;
    assert_eq!(s["flavor"]["original_name"], "m1.tiny");
    c.action("2.96", &id, json!({"resize": {"flavorRef": "2"}})).await;
    c.wait_for(&id, "VERIFY_RESIZE").await;
    let (status, _) = c.action("2.96", &id, json!({"confirmResize": null})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let s = c.wait_for(&id, "ACTIVE").await;
    assert_eq!(s["flavor"]["original_name"], "m1.small");
    let (status, _) = c.action("2.96", &id, json!({"resize": {"flavorRef": "1"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a smaller disk is refused");

    let (status, body) = c.action("2.96", &id, json!({"rebuild": {"imageRef": c.image_id, "name": "rebuilt"}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body["server"]["adminPass"].is_string());
    let s = c.wait_for(&id, "ACTIVE").await;
    assert_eq!(s["name"], "rebuilt");

    let (status, body) = c.action("2.96", &id, json!({"rescue": {}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    c.wait_for(&id, "RESCUE").await;
    let (status, _) = c.action("2.96", &id, json!({"pause": null})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    c.action("2.96", &id, json!({"unrescue": null})).await;
    c.wait_for(&id, "ACTIVE").await;

    c.action("2.96", &id, json!({"shelve": null})).await;
    let s = c.wait_for(&id, "SHELVED_OFFLOADED").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    c.action("2.96", &id, json!({"unshelve": null})).await;
    c.wait_for(&id, "ACTIVE").await;

    let (status, body) = c.action("2.96", &id, json!({"os-getConsoleOutput": {"length": 1}})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["output"], "LAST LINE");

    let (status, body) = c.action("2.96", &id, json!({"createImage": {"name": "snap", "metadata": {"k": "v"}}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let image_id = body["image_id"].as_str().unwrap().to_owned();
    c.wait_for(&id, "ACTIVE").await;
    let (_, img) = c.call("member", "2.1", Method::GET, &format!("/v2.1/images/{image_id}"), None).await;
    assert_eq!(img["image"]["status"], "ACTIVE", "{img}");
    assert_eq!(img["image"]["metadata"]["image_type"], "snapshot");
    assert_eq!(img["image"]["metadata"]["k"], "v");
}

#[tokio::test]
async fn instance_actions_record_each_operation() {
    let c = cloud().await;
    let id = c.boot("2.96", "servers/v2.47/").await;
    c.action("2.96", &id, json!({"os-stop": null})).await;
    c.wait_for(&id, "SHUTOFF").await;
    let (_, list) =
        c.call("member", "2.84", Method::GET, &format!("/v2.1/servers/{id}/os-instance-actions"), None).await;
    assert_shape("os-instance-actions/v2.84/instance-actions-list-resp", &list);
    let names: Vec<&str> =
        list["instanceActions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(names, ["stop", "create"]);
    let request_id = list["instanceActions"][0]["request_id"].as_str().unwrap().to_owned();
    let path = format!("/v2.1/servers/{id}/os-instance-actions/{request_id}");
    let (_, admin) = c.call("admin", "2.84", Method::GET, &path, None).await;
    assert_shape("os-instance-actions/v2.84/instance-action-get-resp", &admin);
    assert_eq!(admin["instanceAction"]["events"][0]["event"], "compute_stop_instance");
    assert_eq!(admin["instanceAction"]["events"][0]["result"], "Success");
    let (_, member) = c.call("member", "2.84", Method::GET, &path, None).await;
    assert_shape("os-instance-actions/v2.84/instance-action-get-non-admin-resp", &member);
    let (_, old) = c.call("member", "2.1", Method::GET, &format!("/v2.1/servers/{id}/os-instance-actions"), None).await;
    assert_shape("os-instance-actions/instance-actions-list-resp", &old);

    // 2.21: a deleted server's actions can still be read.
    c.call("member", "2.96", Method::DELETE, &format!("/v2.1/servers/{id}"), None).await;
    let (status, list) =
        c.call("member", "2.21", Method::GET, &format!("/v2.1/servers/{id}/os-instance-actions"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["instanceActions"][0]["action"], "delete");
    let (status, _) =
        c.call("member", "2.20", Method::GET, &format!("/v2.1/servers/{id}/os-instance-actions"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn services_and_hypervisors_match_samples() {
    let c = cloud().await;
    c.boot("2.1", "servers/").await;
    for (version, dir) in [("2.1", ""), ("2.53", "v2.53/")] {
        let (_, body) = c.call("admin", version, Method::GET, "/v2.1/os-services", None).await;
        // The sample's first service was disabled with a reason; ours serves.
        assert_shape_except(&format!("os-services/{dir}services-list-get-resp"), &body, &["disabled_reason"]);
    }
    let (status, _) = c.call("member", "2.1", Method::GET, "/v2.1/os-services", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, list) = c.call("admin", "2.1", Method::GET, "/v2.1/os-hypervisors", None).await;
    assert_shape("os-hypervisors/hypervisors-list-resp", &list);
    let (_, detail) = c.call("admin", "2.1", Method::GET, "/v2.1/os-hypervisors/detail", None).await;
    assert_shape("os-hypervisors/hypervisors-detail-resp", &detail);
    let h = &detail["hypervisors"][0];
    assert_eq!(h["running_vms"], 1);
    assert_eq!(h["memory_mb_used"], 512);
    assert!(h["vcpus"].as_i64().unwrap() >= 1 && h["memory_mb"].as_i64().unwrap() > 0);
    let (_, stats) = c.call("admin", "2.1", Method::GET, "/v2.1/os-hypervisors/statistics", None).await;
    assert_shape("os-hypervisors/hypervisors-statistics-resp", &stats);
    let (_, shown) = c.call("admin", "2.1", Method::GET, "/v2.1/os-hypervisors/1", None).await;
    assert_shape("os-hypervisors/hypervisors-show-resp", &shown);

    let (_, list) = c.call("admin", "2.53", Method::GET, "/v2.1/os-hypervisors", None).await;
    let mut s = sample("os-hypervisors/v2.53/hypervisors-list-resp");
    s.as_object_mut().unwrap().remove("hypervisors_links");
    assert!(shape_diff(&s, &list).is_empty(), "{list}");
    let (_, detail) = c.call("admin", "2.88", Method::GET, "/v2.1/os-hypervisors/detail", None).await;
    let mut s = sample("os-hypervisors/v2.88/hypervisors-detail-resp");
    s.as_object_mut().unwrap().remove("hypervisors_links");
    assert!(shape_diff(&s, &detail).is_empty(), "{detail}");
    let (status, _) = c.call("admin", "2.88", Method::GET, "/v2.1/os-hypervisors/statistics", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn server_groups_match_samples_and_anti_affinity_holds() {
    let c = cloud().await;
    for (version, dir) in [("2.1", ""), ("2.13", "v2.13/"), ("2.64", "v2.64/")] {
        let req = sample(&format!("os-server-groups/{dir}server-groups-post-req"));
        let (status, body) = c.call("member", version, Method::POST, "/v2.1/os-server-groups", Some(req)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_shape(&format!("os-server-groups/{dir}server-groups-post-resp"), &body);
        let id = body["server_group"]["id"].as_str().unwrap().to_owned();
        let (_, body) = c.call("member", version, Method::GET, &format!("/v2.1/os-server-groups/{id}"), None).await;
        assert_shape(&format!("os-server-groups/{dir}server-groups-get-resp"), &body);
        let (_, body) = c.call("member", version, Method::GET, "/v2.1/os-server-groups", None).await;
        assert_shape(&format!("os-server-groups/{dir}server-groups-list-resp"), &body);
    }

    // Hard anti-affinity on one host: the first server is placed, the second
    // finds no valid host.
    let req = json!({"server_group": {"name": "spread", "policy": "anti-affinity"}});
    let (_, body) = c.call("member", "2.64", Method::POST, "/v2.1/os-server-groups", Some(req)).await;
    let group = body["server_group"]["id"].as_str().unwrap().to_owned();
    let boot = json!({"server": {"name": "a", "imageRef": c.image_id, "flavorRef": "1", "networks": "none",
                                  "min_count": 2, "max_count": 2},
                      "OS-SCH-HNT:scheduler_hints": {"group": group}});
    let (status, body) = c.call("member", "2.96", Method::POST, "/v2.1/servers", Some(boot)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mut statuses = vec![];
    for name in ["a-1", "a-2"] {
        let (_, list) = c.call("member", "2.96", Method::GET, &format!("/v2.1/servers?name=^{name}$"), None).await;
        let id = list["servers"][0]["id"].as_str().unwrap().to_owned();
        let want = if name == "a-1" { "ACTIVE" } else { "ERROR" };
        let s = c.wait_for(&id, want).await;
        if want == "ERROR" {
            assert_eq!(s["fault"]["message"], "No valid host was found. There are not enough hosts available.");
        }
        assert_eq!(s["server_groups"], json!([group]));
        statuses.push(s["status"].clone());
    }
    assert_eq!(statuses, [json!("ACTIVE"), json!("ERROR")]);
    let (_, body) = c.call("member", "2.64", Method::GET, &format!("/v2.1/os-server-groups/{group}"), None).await;
    assert_eq!(body["server_group"]["members"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn simple_tenant_usage_matches_samples() {
    let c = cloud().await;
    c.boot("2.1", "servers/").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = c.call("admin", "2.1", Method::GET, "/v2.1/os-simple-tenant-usage?detailed=1", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape("os-simple-tenant-usage/simple-tenant-usage-get-detail", &body);
    let (_, body) = c.call("admin", "2.1", Method::GET, "/v2.1/os-simple-tenant-usage", None).await;
    assert_shape("os-simple-tenant-usage/simple-tenant-usage-get", &body);
    let (_, body) = c.call("member", "2.1", Method::GET, "/v2.1/os-simple-tenant-usage/p1", None).await;
    assert_shape("os-simple-tenant-usage/simple-tenant-usage-get-specific", &body);
    assert!(body["tenant_usage"]["total_hours"].as_f64().unwrap() > 0.0);
    assert_eq!(body["tenant_usage"]["server_usages"][0]["flavor"], "m1.tiny");
    let (status, _) = c.call("member", "2.1", Method::GET, "/v2.1/os-simple-tenant-usage", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn quota_classes_diagnostics_and_force_delete() {
    let c = cloud().await;
    for (version, dir) in [("2.1", ""), ("2.50", "v2.50/"), ("2.57", "v2.57/")] {
        let (_, body) = c.call("admin", version, Method::GET, "/v2.1/os-quota-class-sets/default", None).await;
        assert_shape(&format!("os-quota-class-sets/{dir}quota-classes-show-get-resp"), &body);
        let req = sample(&format!("os-quota-class-sets/{dir}quota-classes-update-post-req"));
        let (status, body) =
            c.call("admin", version, Method::PUT, "/v2.1/os-quota-class-sets/test_class", Some(req)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_shape(&format!("os-quota-class-sets/{dir}quota-classes-update-post-resp"), &body);
    }
    // The default class is every project's default.
    let req = json!({"quota_class_set": {"instances": 1}});
    c.call("admin", "2.57", Method::PUT, "/v2.1/os-quota-class-sets/default", Some(req)).await;
    let (_, body) = c.call("member", "2.57", Method::GET, "/v2.1/os-quota-sets/p1", None).await;
    assert_eq!(body["quota_set"]["instances"], 1);
    let (status, _) = c.call("member", "2.57", Method::GET, "/v2.1/os-quota-class-sets/default", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let id = c.boot("2.96", "servers/v2.47/").await;
    let (status, body) = c.call("admin", "2.48", Method::GET, &format!("/v2.1/servers/{id}/diagnostics"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The fake driver gathers no counters (null, as Nova's schema allows),
    // on the server's port either.
    let counters =
        [".cpu_details[0].", ".disk_details[0].", ".memory_details.used", ".nic_details[0].rx_", ".nic_details[0].tx_"];
    assert_shape_except("os-server-diagnostics/v2.48/server-diagnostics-get-resp", &body, &counters);
    assert_eq!(body["state"], "running");
    let (status, _) = c.call("member", "2.48", Method::GET, &format!("/v2.1/servers/{id}/diagnostics"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = c.action("2.96", &id, json!({"forceDelete": null})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = c.call("member", "2.96", Method::GET, &format!("/v2.1/servers/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn changes_since_lists_deleted_servers_too() {
    let c = cloud().await;
    let before = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let id = c.boot("2.96", "servers/v2.47/").await;
    c.call("member", "2.96", Method::DELETE, &format!("/v2.1/servers/{id}"), None).await;
    let (_, live) = c.call("member", "2.96", Method::GET, "/v2.1/servers/detail", None).await;
    assert_eq!(live["servers"], json!([]));
    let (status, changed) =
        c.call("member", "2.96", Method::GET, &format!("/v2.1/servers/detail?changes-since={before}"), None).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["servers"][0]["id"], json!(id));
    assert_eq!(changed["servers"][0]["status"], "DELETED");
    let (status, _) = c.call("member", "2.96", Method::GET, "/v2.1/servers?changes-since=yesterday", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn aggregates_match_samples_and_give_the_host_its_zone() {
    let c = cloud().await;
    for (version, dir) in [("2.1", ""), ("2.41", "v2.41/")] {
        let mut req = sample(&format!("os-aggregates/{dir}aggregate-post-req"));
        req["aggregate"]["name"] = json!(format!("agg-{version}"));
        let (status, body) = c.call("admin", version, Method::POST, "/v2.1/os-aggregates", Some(req)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_shape(&format!("os-aggregates/{dir}aggregate-post-resp"), &body);
        let id = body["aggregate"]["id"].to_string();
        let (_, body) = c.call("admin", version, Method::GET, &format!("/v2.1/os-aggregates/{id}"), None).await;
        assert_shape(&format!("os-aggregates/{dir}aggregates-get-resp"), &body);
        let (status, body) = c
            .call(
                "admin",
                version,
                Method::PUT,
                &format!("/v2.1/os-aggregates/{id}"),
                Some(sample(&format!("os-aggregates/{dir}aggregate-update-post-req"))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_shape(&format!("os-aggregates/{dir}aggregate-update-post-resp"), &body);
        let (_, body) = c
            .call(
                "admin",
                version,
                Method::POST,
                &format!("/v2.1/os-aggregates/{id}/action"),
                Some(sample(&format!("os-aggregates/{dir}aggregate-metadata-post-req"))),
            )
            .await;
        assert_shape(&format!("os-aggregates/{dir}aggregates-metadata-post-resp"), &body);
        let (_, list) = c.call("admin", version, Method::GET, "/v2.1/os-aggregates", None).await;
        // The sample lists an aggregate with a host that was never updated;
        // this one was updated above and has no host.
        let state = [".aggregates[0].hosts", ".aggregates[0].updated_at"];
        assert_shape_except(&format!("os-aggregates/{dir}aggregates-list-get-resp"), &list, &state);
        let (status, _) = c.call("admin", version, Method::DELETE, &format!("/v2.1/os-aggregates/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = c.call("member", "2.1", Method::GET, "/v2.1/os-aggregates", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An aggregate with a zone moves the host into it: boots land there.
    let (_, body) = c
        .call(
            "admin",
            "2.41",
            Method::POST,
            "/v2.1/os-aggregates",
            Some(json!({"aggregate": {"name": "ldn", "availability_zone": "london"}})),
        )
        .await;
    let id = body["aggregate"]["id"].to_string();
    let (status, body) = c
        .call(
            "admin",
            "2.41",
            Method::POST,
            &format!("/v2.1/os-aggregates/{id}/action"),
            Some(json!({"add_host": {"host": "oxistack"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["aggregate"]["hosts"], json!(["oxistack"]));
    let (status, _) = c
        .call(
            "admin",
            "2.41",
            Method::POST,
            &format!("/v2.1/os-aggregates/{id}/action"),
            Some(json!({"add_host": {"host": "elsewhere"}})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, zones) = c.call("member", "2.1", Method::GET, "/v2.1/os-availability-zone", None).await;
    assert_eq!(zones["availabilityZoneInfo"][0]["zoneName"], "london");
    let boot = json!({"server": {"name": "z", "imageRef": c.image_id, "flavorRef": "1", "networks": "none", "availability_zone": "london"}});
    let (status, body) = c.call("member", "2.96", Method::POST, "/v2.1/servers", Some(boot)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let s = c.wait_for(body["server"]["id"].as_str().unwrap(), "ACTIVE").await;
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "london");
    let boot = json!({"server": {"name": "z", "imageRef": c.image_id, "flavorRef": "1", "networks": "none", "availability_zone": "nova"}});
    let (status, _) = c.call("member", "2.96", Method::POST, "/v2.1/servers", Some(boot)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn volumes_attach_detach_and_end_with_their_servers() {
    let c = cloud().await;
    let server = c.boot("2.1", "servers/").await;
    let vol = c.new_volume("admin").await;
    let path = format!("/v2.1/servers/{server}/os-volume_attachments");
    let mut req = sample("os-volume_attachments/v2.79/attach-volume-to-server-req");
    req["volumeAttachment"]["volumeId"] = json!(vol);
    req["volumeAttachment"].as_object_mut().unwrap().remove("device");
    let (status, r) = c.call("admin", "2.79", Method::POST, &path, Some(req.clone())).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_shape("os-volume_attachments/v2.79/attach-volume-to-server-resp", &r);
    assert_eq!(
        (r["volumeAttachment"]["device"].as_str(), r["volumeAttachment"]["tag"].as_str()),
        (Some("/dev/vdb"), Some("foo"))
    );
    // Block Storage says it is in use by the server; the driver has it.
    let shown = c.volume_status("admin", &vol, "in-use").await;
    assert_eq!(
        (shown["attachments"][0]["server_id"].as_str(), shown["attachments"][0]["device"].as_str()),
        (Some(server.as_str()), Some("/dev/vdb"))
    );
    let plugged = c.driver.volumes(&server);
    assert_eq!(plugged.len(), 1);
    assert_eq!(plugged[0].volume_id, vol);
    let (_, r) = c.call("admin", "2.3", Method::GET, &format!("/v2.1/servers/{server}"), None).await;
    assert_eq!(
        r["server"]["os-extended-volumes:volumes_attached"],
        json!([{"id": vol, "delete_on_termination": true}])
    );
    let (_, r) = c.call("admin", "2.1", Method::GET, "/v2.1/servers/detail", None).await;
    let listed = r["servers"].as_array().unwrap().iter().find(|s| s["id"] == server.as_str()).unwrap().clone();
    assert_eq!(listed["os-extended-volumes:volumes_attached"], json!([{"id": vol}]));

    let (_, r) = c.call("admin", "2.89", Method::GET, &path, None).await;
    // The sample lists two volumes, the first without a tag.
    assert_shape_except("os-volume_attachments/v2.89/list-volume-attachments-resp", &r, &["[1]", "[0].tag"]);
    let (status, r) = c.call("admin", "2.1", Method::GET, &format!("{path}/{vol}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_shape("os-volume_attachments/volume-attachment-detail-resp", &r);
    // A second attach of a volume that is not multiattach is refused, and
    // so is a tag before 2.49 or an invalid volume id.
    let other = c.boot("2.1", "servers/").await;
    let other_path = format!("/v2.1/servers/{other}/os-volume_attachments");
    let (status, r) =
        c.call("admin", "2.1", Method::POST, &other_path, Some(json!({"volumeAttachment": {"volumeId": vol}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    assert!(c.driver.volumes(&other).is_empty());
    let (status, _) = c.call("admin", "2.48", Method::POST, &other_path, Some(req.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) =
        c.call("admin", "2.1", Method::POST, &other_path, Some(json!({"volumeAttachment": {"volumeId": "x"}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Another project's volume is not found; an in-use volume is not deleted.
    let theirs = c.new_volume("other").await;
    let (status, r) = c
        .call("member", "2.1", Method::POST, &other_path, Some(json!({"volumeAttachment": {"volumeId": theirs}})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{r}");
    let (status, _) = c.call_volume("admin", Method::DELETE, &format!("/v3/volumes/{vol}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Detached, the volume is available and goes to the other server.
    let (status, _) = c.call("admin", "2.1", Method::DELETE, &format!("{path}/{vol}"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    c.volume_status("admin", &vol, "available").await;
    assert!(c.driver.volumes(&server).is_empty());
    let (status, _) = c.call("admin", "2.1", Method::DELETE, &format!("{path}/{vol}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, r) = c.call("admin", "2.79", Method::POST, &other_path, Some(req)).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let (_, actions) =
        c.call("admin", "2.1", Method::GET, &format!("/v2.1/servers/{server}/os-instance-actions"), None).await;
    let names: Vec<&str> =
        actions["instanceActions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(names.contains(&"attach_volume") && names.contains(&"detach_volume"), "{names:?}");

    // The server's delete ends the attachment; delete_on_termination deletes it.
    let keep = c.new_volume("admin").await;
    let (status, _) =
        c.call("admin", "2.1", Method::POST, &other_path, Some(json!({"volumeAttachment": {"volumeId": keep}}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = c.call("admin", "2.1", Method::DELETE, &format!("/v2.1/servers/{other}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    c.volume_status("admin", &keep, "available").await;
    c.volume_gone("admin", &vol, "a delete_on_termination volume outlived its server").await;
}

#[tokio::test]
async fn a_start_undoes_an_attach_and_finishes_a_detach_cut_short() {
    use oxistack_compute::store::volumes::{insert_bdm, Bdm, BdmStatus};
    let c = cloud().await;
    let server = c.boot("2.1", "servers/").await;
    let (attaching, detaching) = (c.new_volume("admin").await, c.new_volume("admin").await);
    let path = format!("/v2.1/servers/{server}/os-volume_attachments");
    let (status, _) =
        c.call("admin", "2.1", Method::POST, &path, Some(json!({"volumeAttachment": {"volumeId": detaching}}))).await;
    assert_eq!(status, StatusCode::OK);
    // A stop after an attach was recorded and before the driver plugged it
    // in: the volume reserved, the mapping `attaching`.
    let admin = caller("admin-user", "p1", &["admin", "member", "reader"]);
    let reserved = c.volume.reserve(&admin, &attaching, Some(&server), "rw").await.unwrap();
    let bdm = Bdm {
        id: uuid::Uuid::new_v4().to_string(),
        instance_uuid: server.clone(),
        volume_id: attaching.clone(),
        attachment_id: reserved.id,
        device_name: "/dev/vdc".into(),
        tag: None,
        delete_on_termination: false,
        status: BdmStatus::Attaching,
        created_at: "2026-01-01T00:00:00Z".into(),
        boot_index: None,
    };
    insert_bdm(&c.pool, &bdm).await.unwrap();
    c.volume_status("admin", &attaching, "reserved").await;
    // And a detach that had begun.
    let (_, r) = c.call("admin", "2.89", Method::GET, &path, None).await;
    let held = r["volumeAttachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["volumeId"] == detaching.as_str())
        .unwrap()
        .clone();
    oxistack_compute::store::volumes::set_bdm_status(&c.pool, held["bdm_uuid"].as_str().unwrap(), BdmStatus::Detaching)
        .await
        .unwrap();
    c.volume.begin_detaching(held["attachment_id"].as_str().unwrap()).await.unwrap();
    c.volume_status("admin", &detaching, "detaching").await;

    let after = start(c.pool.clone(), c.dir.clone(), c.image_id.clone(), false).await;
    after.volume_status("admin", &attaching, "available").await;
    after.volume_status("admin", &detaching, "available").await;
    let (_, r) = after.call("admin", "2.1", Method::GET, &path, None).await;
    assert_eq!(r["volumeAttachments"], json!([]), "no mapping is left half done");
}

mod boot_from_volume;
