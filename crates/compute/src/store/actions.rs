//! The `instance_actions` table and the events of each action.

use oxistack_core::db::{self, Pool};
use oxistack_core::error::Result;
use sqlx::FromRow;

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

/// What starts an action: its row, and its one event.
pub struct NewAction<'a> {
    pub instance_id: &'a str,
    pub request_id: &'a str,
    pub action: &'a str,
    pub user_id: &'a str,
    pub project_id: &'a str,
    pub event: &'a str,
    pub host: Option<&'a str>,
    pub now: &'a str,
}

/// Inserts the action and its open event; the action's id.
pub async fn insert(pool: &Pool, a: &NewAction<'_>) -> Result<i64> {
    let id: i64 = db::query_scalar(
        "INSERT INTO instance_actions (instance_id, request_id, action, user_id, project_id, start_time, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(a.instance_id)
    .bind(a.request_id)
    .bind(a.action)
    .bind(a.user_id)
    .bind(a.project_id)
    .bind(a.now)
    .bind(a.now)
    .fetch_one(pool)
    .await?;
    db::query("INSERT INTO instance_action_events (action_id, event, start_time, host) VALUES (?, ?, ?, ?)")
        .bind(id)
        .bind(a.event)
        .bind(a.now)
        .bind(a.host)
        .execute(pool)
        .await?;
    Ok(id)
}

/// Closes the action's event with `result`, and the action with its message.
pub async fn close(pool: &Pool, action_id: i64, result: &str, error: Option<&str>, now: &str) -> Result<()> {
    db::query("UPDATE instance_action_events SET finish_time = ?, result = ?, traceback = ? WHERE action_id = ?")
        .bind(now)
        .bind(result)
        .bind(error)
        .bind(action_id)
        .execute(pool)
        .await?;
    db::query("UPDATE instance_actions SET updated_at = ?, message = ? WHERE id = ?")
        .bind(now)
        .bind(error.map(|_| "Error"))
        .bind(action_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn list(pool: &Pool, instance_id: &str) -> Result<Vec<ActionRow>> {
    Ok(db::query_as("SELECT * FROM instance_actions WHERE instance_id = ? ORDER BY id DESC")
        .bind(instance_id)
        .fetch_all(pool)
        .await?)
}

pub async fn events(pool: &Pool, action_id: i64) -> Result<Vec<EventRow>> {
    Ok(db::query_as("SELECT * FROM instance_action_events WHERE action_id = ?").bind(action_id).fetch_all(pool).await?)
}
