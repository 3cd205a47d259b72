//! The record of what was done to each instance (os-instance-actions): one
//! action per request, with the event of the compute work and its result.

use oxistack_core::context::Context;
use oxistack_core::db::Pool;
use oxistack_core::error::Result;
use sqlx::FromRow;

/// Nova writes action times with microseconds (`2018-04-25T01:26:36.341290`);
/// clients order actions by them, and operations come closer than a second.
fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

#[derive(Clone, Debug, FromRow)]
pub struct ActionRow {
    pub id: i64,
    pub instance_id: String,
    pub request_id: String,
    pub action: String,
    pub user_id: String,
    pub project_id: String,
    pub start_time: String,
    pub updated_at: String,
    pub message: Option<String>,
}

#[derive(Clone, Debug, FromRow)]
pub struct EventRow {
    pub action_id: i64,
    pub event: String,
    pub start_time: String,
    pub finish_time: Option<String>,
    pub result: Option<String>,
    pub traceback: Option<String>,
    pub host: Option<String>,
}

/// Records that `action` started on an instance, with the event of its compute
/// work open; returns the action's id for [`finish`].
pub async fn start(pool: &Pool, ctx: &Context, instance_id: &str, action: &str, host: Option<&str>) -> Result<i64> {
    let now = now();
    let request_id =
        if ctx.request_id.is_empty() { format!("req-{}", uuid::Uuid::new_v4()) } else { ctx.request_id.clone() };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO instance_actions (instance_id, request_id, action, user_id, project_id, start_time, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(instance_id)
    .bind(&request_id)
    .bind(action)
    .bind(&ctx.user_id)
    .bind(ctx.project_id().unwrap_or_default())
    .bind(&now)
    .bind(&now)
    .fetch_one(pool)
    .await?;
    sqlx::query("INSERT INTO instance_action_events (action_id, event, start_time, host) VALUES (?, ?, ?, ?)")
        .bind(id)
        .bind(format!("compute_{}", event_name(action)))
        .bind(&now)
        .bind(host)
        .execute(pool)
        .await?;
    Ok(id)
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
    let now = now();
    let result = if error.is_some() { "Error" } else { "Success" };
    sqlx::query("UPDATE instance_action_events SET finish_time = ?, result = ?, traceback = ? WHERE action_id = ?")
        .bind(&now)
        .bind(result)
        .bind(error)
        .bind(action_id)
        .execute(pool)
        .await?;
    sqlx::query("UPDATE instance_actions SET updated_at = ?, message = ? WHERE id = ?")
        .bind(&now)
        .bind(error.map(|_| "Error"))
        .bind(action_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn list(pool: &Pool, instance_id: &str) -> Result<Vec<ActionRow>> {
    Ok(sqlx::query_as("SELECT * FROM instance_actions WHERE instance_id = ? ORDER BY id DESC")
        .bind(instance_id)
        .fetch_all(pool)
        .await?)
}

pub async fn events(pool: &Pool, action_id: i64) -> Result<Vec<EventRow>> {
    Ok(sqlx::query_as("SELECT * FROM instance_action_events WHERE action_id = ?")
        .bind(action_id)
        .fetch_all(pool)
        .await?)
}
