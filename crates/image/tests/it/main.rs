//! The Image API in-process on an in-memory store, its answers compared with
//! Glance's published samples (same keys, same JSON types). Tokens are mapped to
//! callers by a stand-in for Identity: the token check is Identity's, tested there.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use oxistack_core::context::SharedValidator;
use oxistack_core::testing::{shape_diff, Callers};
use oxistack_image::{api, Image, ImageConfig};

fn caller(project: &str, roles: &[&str]) -> oxistack_core::Context {
    oxistack_core::testing::caller(&format!("user-of-{project}"), project, roles)
}

fn sample(name: &str) -> Value {
    oxistack_core::testing::sample(name)
}

async fn app() -> (Router, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let pool = oxistack_core::testing::database().await;
    let image = Image::open(pool, ImageConfig { store_dir: dir.0.clone(), quota_bytes: None }).await.unwrap();
    let callers: SharedValidator = Arc::new(Callers(HashMap::from([
        ("admin", caller("pa", &["admin", "member", "reader"])),
        ("alice", caller("pa", &["member", "reader"])),
        ("bob", caller("pb", &["member", "reader"])),
    ])));
    (api::router(image, callers, "http://cloud.test/image".into()), dir)
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!("oxistack-image-it-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn call(
    app: &Router,
    token: &str,
    method: Method,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path).header("x-auth-token", token);
    let req = match body {
        Some((ctype, bytes)) => req.header("content-type", ctype).body(Body::from(bytes)),
        None => {
            req = req.header("content-length", "0");
            req.body(Body::empty())
        }
    }
    .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 24).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn json_body(v: &Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", v.to_string().into_bytes()))
}

fn assert_shape(name: &str, ours: &Value) {
    assert_shape_except(name, ours, &[]);
}

/// As `assert_shape`, but for the differences named (each a difference of
/// state between the sample's cloud and ours, said at the call).
fn assert_shape_except(name: &str, ours: &Value, expected: &[&str]) {
    let mut diffs = shape_diff(&sample(name), ours);
    // `locations` is shown only by clouds configured to expose store locations;
    // ours never does.
    diffs.retain(|d| !d.ends_with(".locations"));
    diffs.retain(|d| !expected.iter().any(|e| d.contains(e)));
    assert!(diffs.is_empty(), "{name}: {diffs:#?}\nours: {ours:#}");
}

#[tokio::test]
async fn images_match_glance_samples() {
    let (app, _dir) = app().await;
    let (status, created) =
        call(&app, "alice", Method::POST, "/v2/images", json_body(&sample("image-create-request"))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_shape("image-create-response", &created);
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, _) = call(
        &app,
        "alice",
        Method::PUT,
        &format!("/v2/images/{id}/file"),
        Some(("application/octet-stream", vec![7u8; 4096])),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, shown) = call(&app, "alice", Method::GET, &format!("/v2/images/{id}"), None).await;
    // The samples' Glance left virtual_size unset for data it did not
    // inspect; ours inspects every upload and knows it.
    let inspected = ["virtual_size: sample null, ours 4096"];
    // Listed after the update above tagged it; the sample lists an untagged image.
    let tagged = ["virtual_size: sample null, ours 4096", "list .images[0].tags"];
    assert_shape_except("image-show-response", &shown, &inspected);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["size"], 4096);
    assert_eq!(shown["os_hash_algo"], "sha512");

    let patch =
        Some(("application/openstack-images-v2.1-json-patch", sample("image-update-request").to_string().into_bytes()));
    let (status, updated) = call(&app, "alice", Method::PATCH, &format!("/v2/images/{id}"), patch).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_shape_except("image-update-response", &updated, &inspected);
    assert_eq!(updated["name"], "Fedora 17");
    assert_eq!(updated["tags"], json!(["fedora", "beefy"]));

    let (_, list) = call(&app, "alice", Method::GET, "/v2/images", None).await;
    assert_shape_except("images-list-response", &list, &tagged);
    let (_, info) = call(&app, "alice", Method::GET, "/v2/info/import", None).await;
    assert_shape("image-info-import-response", &info);
    let (_, stores) = call(&app, "alice", Method::GET, "/v2/info/stores", None).await;
    assert_eq!(stores["stores"][0]["id"], "file");
}

#[tokio::test]
async fn members_match_glance_samples_and_decide_visibility() {
    let (app, _dir) = app().await;
    let (_, img) =
        call(&app, "alice", Method::POST, "/v2/images", json_body(&json!({"name": "s", "visibility": "shared"}))).await;
    let id = img["id"].as_str().unwrap().to_owned();
    let (status, _) = call(&app, "bob", Method::GET, &format!("/v2/images/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut req = sample("image-member-create-request");
    req["member"] = json!("pb");
    let (status, member) =
        call(&app, "alice", Method::POST, &format!("/v2/images/{id}/members"), json_body(&req)).await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_shape("image-member-create-response", &member);
    let (status, _) = call(&app, "alice", Method::POST, &format!("/v2/images/{id}/members"), json_body(&req)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, members) = call(&app, "alice", Method::GET, &format!("/v2/images/{id}/members"), None).await;
    assert_shape("image-members-list-response", &members);

    // Pending: bob sees the image by id, not in his list; the owner cannot accept for him.
    let (status, _) = call(&app, "bob", Method::GET, &format!("/v2/images/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = call(&app, "bob", Method::GET, "/v2/images", None).await;
    assert_eq!(list["images"], json!([]));
    let accept = json_body(&sample("image-member-update-request"));
    let (status, _) = call(&app, "alice", Method::PUT, &format!("/v2/images/{id}/members/pb"), accept.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, updated) = call(&app, "bob", Method::PUT, &format!("/v2/images/{id}/members/pb"), accept).await;
    assert_eq!(status, StatusCode::OK);
    assert_shape("image-member-update-response", &updated);
    let (_, shown) = call(&app, "bob", Method::GET, &format!("/v2/images/{id}/members/pb"), None).await;
    assert_shape("image-member-details-response", &shown);
    let (_, list) = call(&app, "bob", Method::GET, "/v2/images", None).await;
    assert_eq!(list["images"][0]["id"], json!(id));
    // A member changes nothing but its own membership.
    let patch = Some((
        "application/openstack-images-v2.1-json-patch",
        br#"[{"op":"replace","path":"/name","value":"x"}]"#.to_vec(),
    ));
    let (status, _) = call(&app, "bob", Method::PATCH, &format!("/v2/images/{id}"), patch).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn listing_filters_sorts_and_pages() {
    let (app, _dir) = app().await;
    for (name, size) in [("a", 10), ("b", 30), ("c", 20)] {
        let (_, img) = call(
            &app,
            "alice",
            Method::POST,
            "/v2/images",
            json_body(&json!({"name": name, "disk_format": "raw", "container_format": "bare", "tags": [name]})),
        )
        .await;
        let id = img["id"].as_str().unwrap();
        call(
            &app,
            "alice",
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(("application/octet-stream", vec![1u8; size])),
        )
        .await;
    }
    let names = |v: &Value| {
        v["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let (_, l) = call(&app, "alice", Method::GET, "/v2/images?sort=size:asc", None).await;
    assert_eq!(names(&l), ["a", "c", "b"]);
    let (_, l) = call(&app, "alice", Method::GET, "/v2/images?sort_key=name&sort_dir=desc", None).await;
    assert_eq!(names(&l), ["c", "b", "a"]);
    let (_, l) = call(&app, "alice", Method::GET, "/v2/images?size_min=15&size_max=25", None).await;
    assert_eq!(names(&l), ["c"]);
    let (_, l) = call(&app, "alice", Method::GET, "/v2/images?tag=b", None).await;
    assert_eq!(names(&l), ["b"]);
    let (_, l) = call(&app, "alice", Method::GET, "/v2/images?sort=name:asc&limit=2", None).await;
    assert_eq!(names(&l), ["a", "b"]);
    let next = l["next"].as_str().unwrap().to_owned();
    let (_, l) = call(&app, "alice", Method::GET, &next, None).await;
    assert_eq!(names(&l), ["c"]);
    assert!(l.get("next").is_none());
    let (status, _) = call(&app, "alice", Method::GET, "/v2/images?sort_key=bogus", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, l) = call(&app, "bob", Method::GET, "/v2/images", None).await;
    assert_eq!(names(&l), Vec::<String>::new());
    let (_, l) = call(&app, "admin", Method::GET, "/v2/images", None).await;
    assert_eq!(names(&l).len(), 3);
}

#[tokio::test]
async fn lists_in_sql_keep_to_what_the_caller_may_see_and_page_newest_first() {
    let (app, _dir) = app().await;
    let mut ids = HashMap::new();
    for visibility in ["public", "community", "shared", "private"] {
        let body = json!({"name": visibility, "visibility": visibility});
        // Publishing is an admin's (of alice's project here).
        let who = if visibility == "public" { "admin" } else { "alice" };
        let (status, img) = call(&app, who, Method::POST, "/v2/images", json_body(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{img}");
        ids.insert(visibility, img["id"].as_str().unwrap().to_owned());
    }
    let names = |v: &Value| {
        let mut n: Vec<String> =
            v["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect();
        n.sort();
        n
    };
    let list = |who: &'static str, query: &'static str| {
        let app = app.clone();
        async move {
            let (status, l) = call(&app, who, Method::GET, &format!("/v2/images{query}"), None).await;
            assert_eq!(status, StatusCode::OK, "{who} {query}: {l}");
            l
        }
    };
    // The owner lists its own of every visibility.
    assert_eq!(names(&list("alice", "").await), ["community", "private", "public", "shared"]);
    assert_eq!(names(&list("alice", "?visibility=all").await), ["community", "private", "public", "shared"]);
    // Another project: public by default, community when asked, never private.
    assert_eq!(names(&list("bob", "").await), ["public"]);
    assert_eq!(names(&list("bob", "?visibility=community").await), ["community"]);
    assert_eq!(names(&list("bob", "?visibility=all").await), ["community", "public"]);
    assert_eq!(names(&list("bob", "?visibility=private").await), Vec::<String>::new());
    assert_eq!(names(&list("bob", "?visibility=shared").await), Vec::<String>::new());
    // A member: the shared image by member status.
    let member = json_body(&json!({"member": "pb"}));
    let (status, _) = call(&app, "alice", Method::POST, &format!("/v2/images/{}/members", ids["shared"]), member).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&list("bob", "").await), ["public"]);
    assert_eq!(names(&list("bob", "?member_status=pending").await), ["public", "shared"]);
    assert_eq!(names(&list("bob", "?visibility=shared&member_status=all").await), ["shared"]);
    assert_eq!(names(&list("bob", "?visibility=shared").await), Vec::<String>::new());
    assert_eq!(names(&list("admin", "?visibility=all").await).len(), 4);

    // Pages newest first (then by id), by `next` links, as one list.
    let whole = list("alice", "?visibility=all").await;
    let order: Vec<&str> = whole["images"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    let mut walked = vec![];
    let mut path = "/v2/images?visibility=all&limit=3".to_owned();
    loop {
        let (_, page) = call(&app, "alice", Method::GET, &path, None).await;
        walked.extend(page["images"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(walked, order);
    // Sorted by a column in SQL, and a marker the caller may not list.
    let (_, by_visibility) =
        call(&app, "alice", Method::GET, "/v2/images?visibility=all&sort=visibility:asc", None).await;
    let v: Vec<&str> =
        by_visibility["images"].as_array().unwrap().iter().map(|i| i["visibility"].as_str().unwrap()).collect();
    assert_eq!(v, ["community", "private", "public", "shared"]);
    let path = format!("/v2/images?marker={}", ids["private"]);
    let (status, _) = call(&app, "bob", Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
