//! How every server operation runs, one way, power actions and moves alike:
//! [`Compute::begin`] checks that the instance may take it (visible to the
//! caller, unlocked unless the caller is an admin, in one of the operation's
//! vm_states, with no task) and records its task_state by compare-and-swap
//! and its instance action; the request is answered; the work runs (here, or
//! on the server of the instance's host) and [`settle`] writes where it left
//! the instance, or ERROR with a fault saying why. A restart between the two
//! finds the task_state and reconciles it.

use std::future::Future;

use serde_json::json;

use oxistack_core::context::Context;
use oxistack_core::db::Pool;
use oxistack_core::error::{Error, Result};

use crate::service::{locked_error, now};
use crate::states::{PowerState, TaskState, VmState};
use crate::store::{self, Flavor, Instance};
use crate::{actions, Compute};

/// Where an operation leaves the instance.
pub(crate) struct Outcome {
    pub vm_state: VmState,
    pub power: PowerState,
    pub image_ref: String,
    pub flavor: Flavor,
    pub old_flavor: Option<Flavor>,
    pub host: Option<String>,
}

impl Outcome {
    /// `inst` in `vm_state` and `power`, its image, flavors and host as they were.
    pub fn unchanged(inst: &Instance, vm_state: VmState, power: PowerState) -> Outcome {
        Outcome {
            vm_state,
            power,
            image_ref: inst.image_ref.clone(),
            flavor: inst.flavor.clone(),
            old_flavor: inst.old_flavor.clone(),
            host: inst.host.clone(),
        }
    }
}

impl Compute {
    /// Starts operation `name` on server `id` if it may take it now:
    /// records `task` and the instance action; the instance and the
    /// action's id.
    pub(crate) async fn begin(
        &self,
        ctx: &Context,
        id: &str,
        name: &str,
        allowed: &[VmState],
        task: TaskState,
    ) -> Result<(Instance, i64)> {
        let inst = self.instance(ctx, id).await?;
        if inst.locked && !ctx.is_admin() {
            return Err(locked_error(id));
        }
        if !allowed.contains(&inst.vm_state) {
            return Err(Error::Conflict(format!(
                "Cannot '{name}' instance {id} while it is in vm_state {}",
                inst.vm_state
            )));
        }
        let current = inst.task_state;
        if current.is_some() || !store::begin_task(&self.pool, id, None, task, &now()).await? {
            return Err(Error::Conflict(format!(
                "Cannot '{name}' instance {id} while it is in task_state {}",
                current.map_or("busy", TaskState::as_str)
            )));
        }
        let action = actions::start(&self.pool, ctx, id, name, inst.host.as_deref()).await?;
        Ok((inst, action))
    }

    /// Runs `work` after the answer and settles the operation with its outcome.
    pub(crate) fn finish<F>(&self, (inst, action): (Instance, i64), name: &'static str, task: TaskState, work: F)
    where
        F: Future<Output = Result<Outcome>> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let outcome = work.await.map_err(|e| e.to_string());
            settle(&pool, &inst.id, action, name, task, outcome).await;
        });
    }
}

/// Records the end of operation `name` (task `task`, instance action
/// `action`) on instance `id`: where it left the instance, or ERROR with a
/// fault of `why` it failed.
pub(crate) async fn settle(
    pool: &Pool,
    id: &str,
    action: i64,
    name: &str,
    task: TaskState,
    outcome: std::result::Result<Outcome, String>,
) {
    if let Err(e) = actions::finish(pool, action, outcome.as_ref().err().map(String::as_str)).await {
        tracing::error!(instance = %id, error = %e, "recording an action's event failed");
    }
    let now = now();
    let written = match outcome {
        Ok(o) => store::end_task_with(
            pool,
            id,
            task,
            o.vm_state,
            o.power,
            &o.image_ref,
            &o.flavor,
            o.old_flavor.as_ref(),
            o.host.as_deref(),
            &now,
        )
        .await
        .map(|_| ()),
        Err(why) => {
            tracing::warn!(instance = %id, action = name, error = %why, "server operation failed");
            let fault = json!({"code": 500, "message": format!("{name} failed: {why}"), "created": now}).to_string();
            store::set_error(pool, id, &fault, &now).await
        }
    };
    if let Err(e) = written {
        tracing::error!(instance = %id, error = %e, "recording the end of an operation failed");
    }
}
