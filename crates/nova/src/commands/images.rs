//! `image-list` and `image-show`, answered from the Image service of the
//! catalog (Nova's own image proxy went away at microversion 2.36).

use serde_json::{json, Value};

use crate::find::{self, query};
use crate::session::{Result, Session};
use crate::table::{self, Table};

pub async fn list(s: &mut Session, limit: Option<u64>) -> Result<()> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(l) = limit {
        q.push(("limit", l.to_string()));
    }
    let mut images: Vec<Value> = Vec::new();
    let mut next = Some(format!("/v2/images{}", query(&q)));
    while let Some(path) = next.take() {
        let body = s.service_get("image", &path).await?;
        images.extend(body["images"].as_array().cloned().unwrap_or_default());
        if limit.is_none() {
            next = body["next"].as_str().map(str::to_string);
        }
    }
    let mut t = Table::new(&["ID", "Name", "Status", "Server"]);
    for image in &images {
        t.push(vec![
            table::cell(image.get("id")),
            table::cell(image.get("name")),
            image["status"].as_str().unwrap_or_default().to_uppercase(),
            image["instance_uuid"].as_str().unwrap_or_default().to_string(),
        ]);
    }
    t.print();
    Ok(())
}

/// An image's attributes, its `status` as the compute proxy showed it.
pub fn print_image(image: &Value) {
    let mut info = image.as_object().cloned().unwrap_or_default();
    for key in ["self", "file", "schema", "locations"] {
        info.remove(key);
    }
    if let Some(status) = info.get("status").and_then(Value::as_str) {
        info.insert("status".into(), json!(status.to_uppercase()));
    }
    table::print_dict(&info);
}

pub async fn show(s: &mut Session, key: &str) -> Result<()> {
    let image = find::image(s, key).await?;
    print_image(&image);
    Ok(())
}
