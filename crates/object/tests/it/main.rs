//! The Swift API in-process on an in-memory store and a file backend in a
//! temporary directory: what a write leaves in the index and on disk, the
//! totals it keeps, delimiter listings across many names, and a restart
//! that finds data a stop left half received. Tokens are mapped to callers
//! by a stand-in for Identity.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use oxistack_core::context::SharedValidator;
use oxistack_core::testing::{caller, Callers};
use oxistack_object::backend::FileBackend;
use oxistack_object::{api, ObjectConfig, ObjectStorage};

struct Store {
    app: Router,
    storage: Arc<ObjectStorage>,
    dir: std::path::PathBuf,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn store(max_file_size: u64) -> Store {
    let dir = std::env::temp_dir().join(format!("oxistack-object-it-{}", uuid::Uuid::new_v4()));
    let pool = oxistack_core::testing::database().await;
    let backend = Arc::new(FileBackend::open(&dir).unwrap());
    let storage = ObjectStorage::open(pool, backend, ObjectConfig { max_file_size }).await.unwrap();
    let callers: SharedValidator = Arc::new(Callers(HashMap::from([
        ("alice", caller("alice", "pa", &["member", "reader"])),
        ("bob", caller("bob", "pb", &["member", "reader"])),
    ])));
    Store { app: api::router(storage.clone(), callers), storage, dir }
}

impl Store {
    async fn call(&self, token: &str, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, String) {
        self.call_with(token, method, path, &[], body).await
    }

    async fn call_with(
        &self,
        token: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut req = Request::builder().method(method).uri(path).header("x-auth-token", token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.header("content-length", body.len()).body(Body::from(body)).unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 26).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn data_files(&self) -> usize {
        walk(&self.dir.join("data"))
    }
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum::<usize>())
        .unwrap_or(0)
}

#[tokio::test]
async fn writes_keep_the_totals_and_the_files_in_step() {
    let s = store(1 << 20).await;
    assert_eq!(s.call("alice", Method::PUT, "/v1/AUTH_pa/c", vec![]).await.0, StatusCode::CREATED);
    assert_eq!(s.call("alice", Method::PUT, "/v1/AUTH_pa/c/o", b"12345".to_vec()).await.0, StatusCode::CREATED);
    // An overwrite replaces the data: one file, the new size counted.
    assert_eq!(s.call("alice", Method::PUT, "/v1/AUTH_pa/c/o", b"123".to_vec()).await.0, StatusCode::CREATED);
    assert_eq!(s.data_files(), 1);
    let (_, listing) = s.call("alice", Method::GET, "/v1/AUTH_pa?format=json", vec![]).await;
    let listing: serde_json::Value = serde_json::from_str(&listing).unwrap();
    assert_eq!((listing[0]["count"].as_i64(), listing[0]["bytes"].as_i64()), (Some(1), Some(3)));
    // Past the largest object: 413, and nothing is kept.
    let (status, _) = s.call("alice", Method::PUT, "/v1/AUTH_pa/c/big", vec![0; (1 << 20) + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(s.data_files(), 1);
    assert_eq!(walk(&s.dir.join("tmp")), 0, "no received data is left behind");
    // Another project's member is refused, never told what is there.
    assert_eq!(s.call("bob", Method::GET, "/v1/AUTH_pa/c/o", vec![]).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.call("bob", Method::GET, "/v1/AUTH_pa/nothing", vec![]).await.0, StatusCode::FORBIDDEN);
    // The delete takes the data with the row.
    assert_eq!(s.call("alice", Method::DELETE, "/v1/AUTH_pa/c/o", vec![]).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.data_files(), 0);
    assert_eq!(s.call("alice", Method::DELETE, "/v1/AUTH_pa/c", vec![]).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn delimiter_listings_name_each_pseudo_directory_once() {
    let s = store(1 << 20).await;
    s.call("alice", Method::PUT, "/v1/AUTH_pa/c", vec![]).await;
    let names = ["a", "b/1", "b/2", "b/3/x", "c/", "c/d", "d", "\u{e9}t\u{e9}/1"];
    for n in names {
        let path = format!("/v1/AUTH_pa/c/{}", n.replace('\u{e9}', "%C3%A9"));
        assert_eq!(s.call("alice", Method::PUT, &path, b"x".to_vec()).await.0, StatusCode::CREATED, "{n}");
    }
    let list = |q: &str| {
        let path = format!("/v1/AUTH_pa/c?{q}");
        let s = &s;
        async move { s.call("alice", Method::GET, &path, vec![]).await.1 }
    };
    assert_eq!(list("delimiter=/").await, "a\nb/\nc/\nd\n\u{e9}t\u{e9}/\n");
    assert_eq!(list("delimiter=/&prefix=b/").await, "b/1\nb/2\nb/3/\n");
    assert_eq!(list("delimiter=/&limit=2").await, "a\nb/\n");
    // The marker's own pseudo-directory is not listed again (Swift's paging).
    assert_eq!(list("delimiter=/&marker=b/").await, "c/\nd\n\u{e9}t\u{e9}/\n");
    assert_eq!(list("delimiter=/&reverse=true").await, "\u{e9}t\u{e9}/\nd\nc/\nb/\na\n");
}

#[tokio::test]
async fn a_restart_drops_data_no_object_took() {
    let s = store(1 << 20).await;
    std::fs::write(s.dir.join("tmp").join(uuid::Uuid::new_v4().to_string()), b"half an upload").unwrap();
    FileBackend::open(&s.dir).unwrap();
    assert_eq!(walk(&s.dir.join("tmp")), 0);
}

#[tokio::test]
async fn static_large_objects_nest_and_refuse_segments_changed_since() {
    let s = store(1 << 20).await;
    s.call("alice", Method::PUT, "/v1/AUTH_pa/c", vec![]).await;
    s.call("alice", Method::PUT, "/v1/AUTH_pa/c/s1", b"abc".to_vec()).await;
    s.call("alice", Method::PUT, "/v1/AUTH_pa/c/s2", b"def".to_vec()).await;
    let put = |name: &'static str, manifest: serde_json::Value| {
        let s = &s;
        async move {
            let path = format!("/v1/AUTH_pa/c/{name}?multipart-manifest=put");
            s.call("alice", Method::PUT, &path, manifest.to_string().into_bytes()).await
        }
    };
    let inner = serde_json::json!([{"path": "/c/s1"}, {"path": "c/s2", "size_bytes": 3}]);
    assert_eq!(put("inner", inner).await.0, StatusCode::CREATED);
    let outer = serde_json::json!([{"path": "/c/inner"}, {"path": "/c/s1", "etag": null}]);
    assert_eq!(put("outer", outer).await.0, StatusCode::CREATED);
    assert_eq!(s.call("alice", Method::GET, "/v1/AUTH_pa/c/outer", vec![]).await.1, "abcdefabc");
    let (status, body) =
        s.call_with("alice", Method::GET, "/v1/AUTH_pa/c/outer", &[("range", "bytes=2-6")], vec![]).await;
    assert_eq!((status, body.as_str()), (StatusCode::PARTIAL_CONTENT, "cdefa"));
    // Another account's objects are not segments of this one's.
    s.call("bob", Method::PUT, "/v1/AUTH_pb/c", vec![]).await;
    let (status, body) =
        s.call("bob", Method::PUT, "/v1/AUTH_pb/c/m?multipart-manifest=put", br#"[{"path": "/c/s1"}]"#.to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A segment overwritten since is a conflict, not other data served.
    s.call("alice", Method::PUT, "/v1/AUTH_pa/c/s2", b"xyz".to_vec()).await;
    assert_eq!(s.call("alice", Method::GET, "/v1/AUTH_pa/c/outer", vec![]).await.0, StatusCode::CONFLICT);
    // The manifest, its nested manifest and their segments go together.
    let (status, body) = s.call("alice", Method::DELETE, "/v1/AUTH_pa/c/outer?multipart-manifest=delete", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("Number Deleted: 4\nNumber Not Found: 1\n"), "{body}");
    assert_eq!(s.data_files(), 0);
}

#[tokio::test]
async fn expired_objects_are_not_served_and_the_expirer_removes_them() {
    let s = store(1 << 20).await;
    s.call("alice", Method::PUT, "/v1/AUTH_pa/c", vec![]).await;
    let due = [("x-delete-after", "0")];
    assert_eq!(
        s.call_with("alice", Method::PUT, "/v1/AUTH_pa/c/gone", &due, b"x".to_vec()).await.0,
        StatusCode::CREATED
    );
    let later = [("x-delete-after", "3600")];
    assert_eq!(
        s.call_with("alice", Method::PUT, "/v1/AUTH_pa/c/kept", &later, b"y".to_vec()).await.0,
        StatusCode::CREATED
    );
    assert_eq!(s.call("alice", Method::GET, "/v1/AUTH_pa/c/gone", vec![]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call("alice", Method::GET, "/v1/AUTH_pa/c/kept", vec![]).await.1, "y");
    assert_eq!(s.storage.expire().await.unwrap(), 1);
    assert_eq!(s.call("alice", Method::GET, "/v1/AUTH_pa/c", vec![]).await.1, "kept\n");
    assert_eq!(s.data_files(), 1);
    let (_, listing) = s.call("alice", Method::GET, "/v1/AUTH_pa?format=json", vec![]).await;
    assert!(listing.contains(r#""count":1"#), "{listing}");
}
