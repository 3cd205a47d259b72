//! Helpers for the services' tests (feature `testing`): comparing our bodies
//! with OpenStack's published samples, and a stand-in for Identity that maps
//! token strings to callers.

use std::collections::HashMap;

use serde_json::Value;

use crate::context::{BoxFuture, Context, Scope, TokenValidator};
use crate::error::{Error, Result};

/// Differences of shape between a sample and our body: keys missing or extra
/// at any level, and JSON types that differ (`null` is a type of its own:
/// a value the sample leaves null is null in ours). A list empty on one side
/// only differs; otherwise the first element of a list stands for the rest.
pub fn shape_diff(sample: &Value, ours: &Value) -> Vec<String> {
    let mut out = vec![];
    diff(sample, ours, "", &mut out);
    out
}

fn diff(sample: &Value, ours: &Value, path: &str, out: &mut Vec<String>) {
    match (sample, ours) {
        (Value::Object(s), Value::Object(o)) => {
            for (k, sv) in s {
                match o.get(k) {
                    None => out.push(format!("missing {path}.{k}")),
                    Some(ov) => diff(sv, ov, &format!("{path}.{k}"), out),
                }
            }
            for k in o.keys().filter(|k| !s.contains_key(*k)) {
                out.push(format!("extra {path}.{k}"));
            }
        }
        (Value::Array(s), Value::Array(o)) => match (s.first(), o.first()) {
            (Some(s0), Some(o0)) => diff(s0, o0, &format!("{path}[0]"), out),
            (None, None) => {}
            _ => out.push(format!("list {path}: sample has {}, ours {}", s.len(), o.len())),
        },
        (s, o) if std::mem::discriminant(s) == std::mem::discriminant(o) => {}
        (s, o) => out.push(format!("type of {path}: sample {s}, ours {o}")),
    }
}

/// The directory of the crate under test, read when the test runs (cargo
/// sets it), not when it was built: a test binary may come from another
/// checkout sharing the target directory.
pub fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("tests are run by cargo")
}

/// A sample file of the crate under test's `tests/samples/`.
pub fn sample(name: &str) -> Value {
    let path = format!("{}/tests/samples/{name}.json", manifest_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Tokens named after their callers.
pub struct Callers(pub HashMap<&'static str, Context>);

impl TokenValidator for Callers {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Context>> {
        Box::pin(async move { self.0.get(token).cloned().ok_or_else(|| Error::Unauthorized("unknown token".into())) })
    }
}

/// A caller scoped to `project` with `roles`.
pub fn caller(user: &str, project: &str, roles: &[&str]) -> Context {
    Context {
        user_id: user.into(),
        user_name: user.into(),
        user_domain_id: "default".into(),
        scope: Scope::Project {
            id: project.into(),
            name: project.into(),
            domain_id: "default".into(),
            domain_name: "Default".into(),
        },
        roles: roles.iter().map(|r| r.to_string()).collect(),
        audit_ids: vec![],
        request_id: String::new(),
        restricted: false,
    }
}

/// A fresh, empty database for a service test: an in-memory SQLite one, or,
/// when OXISTACK_TEST_POSTGRES names a PostgreSQL cluster (a base URL such
/// as `postgres://postgres@127.0.0.1:5433`, as `scripts/test.sh` sets it), a
/// new database there, so the same tests run on both engines.
#[allow(clippy::disallowed_methods)] // CREATE DATABASE belongs to no service's store
pub async fn database() -> crate::db::Pool {
    let Ok(base) = std::env::var("OXISTACK_TEST_POSTGRES") else {
        return crate::db::open_memory().await.expect("an in-memory SQLite database");
    };
    let base = base.trim_end_matches('/');
    let name = format!("oxi_test_{}", uuid::Uuid::new_v4().simple());
    let admin = crate::db::open_postgres(&format!("{base}/postgres")).await.expect("the test cluster");
    crate::db::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("CREATE DATABASE");
    admin.close().await;
    crate::db::open_postgres(&format!("{base}/{name}")).await.expect("the new test database")
}
