//! The record of what was done to each instance (os-instance-actions): one
//! action per request, with the event of the compute work and its result.

use oxistack_core::context::Context;
use oxistack_core::db::Pool;
use oxistack_core::error::Result;

use crate::store::actions::{self as store, NewAction};
pub use crate::store::actions::{events, list, ActionRow, EventRow};

/// Nova writes action times with microseconds (`2018-04-25T01:26:36.341290`);
/// clients order actions by them, and operations come closer than a second.
fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Records that `action` started on an instance, with the event of its compute
/// work open; returns the action's id for [`finish`].
pub async fn start(pool: &Pool, ctx: &Context, instance_id: &str, action: &str, host: Option<&str>) -> Result<i64> {
    let now = now();
    let request_id =
        if ctx.request_id.is_empty() { format!("req-{}", uuid::Uuid::new_v4()) } else { ctx.request_id.clone() };
    let project_id = ctx.project_id().unwrap_or_default();
    let event = format!("compute_{}", event_name(action));
    store::insert(
        pool,
        &NewAction {
            instance_id,
            request_id: &request_id,
            action,
            user_id: &ctx.user_id,
            project_id,
            event: &event,
            host,
            now: &now,
        },
    )
    .await
}

/// Nova's event names: `compute_stop_instance`, `compute_reboot_instance`, ...
fn event_name(action: &str) -> String {
    match action {
        "create" => "build_and_run_instance".into(),
        "delete" => "terminate_instance".into(),
        "createImage" => "snapshot_instance".into(),
        "confirmResize" => "confirm_resize".into(),
        "revertResize" => "revert_resize".into(),
        "shelveOffload" => "shelve_offload_instance".into(),
        other => format!("{other}_instance"),
    }
}

/// Closes the action's event with its result.
pub async fn finish(pool: &Pool, action_id: i64, error: Option<&str>) -> Result<()> {
    let result = if error.is_some() { "Error" } else { "Success" };
    store::close(pool, action_id, result, error, &now()).await
}
