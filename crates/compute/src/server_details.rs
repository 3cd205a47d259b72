//! What a server's user says of it: names, description, access addresses
//! (`PUT /servers/{id}`), metadata within its project's `metadata_items`
//! quota, and tags (at most 50).

use oxistack_core::error::{Error, Result};

use crate::service::now;
use crate::store::{self, Instance, Metadata};
use crate::{quotas, Compute};

/// Nova's per-server tag limit.
const MAX_TAGS: usize = 50;

impl Compute {
    /// Replaces `inst`'s metadata with `metadata`.
    pub async fn set_server_metadata(&self, inst: &Instance, metadata: &Metadata) -> Result<()> {
        let limit = quotas::limits(&self.pool, &inst.project_id).await?.get("metadata_items").copied().unwrap_or(-1);
        if !quotas::fits(limit, 0, metadata.len() as i64) {
            return Err(Error::Forbidden(
                "Quota exceeded for metadata_items: too many metadata items for this server.".into(),
            ));
        }
        store::set_metadata(&self.pool, &inst.id, metadata, &now()).await
    }

    /// Replaces server `id`'s tags with `tags`.
    pub async fn set_server_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        if tags.len() > MAX_TAGS {
            return Err(Error::BadRequest(format!("The number of tags exceeded the per-server limit {MAX_TAGS}")));
        }
        store::set_tags(&self.pool, id, tags, &now()).await
    }

    /// Records what `PUT /servers/{id}` changes.
    pub async fn describe_server(&self, id: &str, change: &store::Descriptive<'_>) -> Result<()> {
        store::set_descriptive(&self.pool, id, change, &now()).await
    }
}
