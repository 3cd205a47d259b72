//! An instance's states as Nova names them (`nova/compute/vm_states.py`,
//! `task_states.py`, `power_state.py`): the vm_state it is in, the task an
//! operation has it in, and the power state its driver reports, with the
//! status the API shows for them. They are kept as Nova's text (and the power
//! state as its number) in the instance's row.

use oxistack_core::db::{Bind, Param, ParamType};

pub use crate::virt::PowerState;

oxistack_core::text_enum! {
    /// Where an instance is in its life.
    VmState {
        Active => "active",
        Building => "building",
        Paused => "paused",
        Suspended => "suspended",
        Stopped => "stopped",
        Rescued => "rescued",
        Resized => "resized",
        SoftDeleted => "soft-delete",
        Deleted => "deleted",
        Error => "error",
        Shelved => "shelved",
        ShelvedOffloaded => "shelved_offloaded",
    }
}

oxistack_core::text_enum! {
    /// What an operation is doing to an instance.
    TaskState {
        Scheduling => "scheduling",
        BlockDeviceMapping => "block_device_mapping",
        Networking => "networking",
        Spawning => "spawning",
        ImageSnapshot => "image_snapshot",
        ImageSnapshotPending => "image_snapshot_pending",
        ImagePendingUpload => "image_pending_upload",
        ImageUploading => "image_uploading",
        ImageBackup => "image_backup",
        UpdatingPassword => "updating_password",
        ResizePrep => "resize_prep",
        ResizeMigrating => "resize_migrating",
        ResizeMigrated => "resize_migrated",
        ResizeFinish => "resize_finish",
        ResizeReverting => "resize_reverting",
        ResizeConfirming => "resize_confirming",
        Rebooting => "rebooting",
        RebootPending => "reboot_pending",
        RebootStarted => "reboot_started",
        RebootingHard => "rebooting_hard",
        RebootPendingHard => "reboot_pending_hard",
        RebootStartedHard => "reboot_started_hard",
        Pausing => "pausing",
        Unpausing => "unpausing",
        Suspending => "suspending",
        Resuming => "resuming",
        PoweringOff => "powering-off",
        PoweringOn => "powering-on",
        Rescuing => "rescuing",
        Unrescuing => "unrescuing",
        Rebuilding => "rebuilding",
        RebuildBlockDeviceMapping => "rebuild_block_device_mapping",
        RebuildSpawning => "rebuild_spawning",
        Migrating => "migrating",
        Deleting => "deleting",
        SoftDeleting => "soft-deleting",
        Restoring => "restoring",
        Shelving => "shelving",
        ShelvingImagePendingUpload => "shelving_image_pending_upload",
        ShelvingImageUploading => "shelving_image_uploading",
        ShelvingOffloading => "shelving_offloading",
        Unshelving => "unshelving",
    }
}

impl TaskState {
    /// The status an active server shows while it is in this task, when it
    /// is not ACTIVE.
    fn active_status(self) -> Option<&'static str> {
        use TaskState::*;
        Some(match self {
            Rebooting | RebootPending | RebootStarted => "REBOOT",
            RebootingHard | RebootPendingHard | RebootStartedHard => "HARD_REBOOT",
            Rebuilding | RebuildBlockDeviceMapping | RebuildSpawning => "REBUILD",
            ResizePrep | ResizeMigrating | ResizeMigrated | ResizeFinish => "RESIZE",
            Migrating => "MIGRATING",
            _ => return None,
        })
    }
}

/// Nova's status for a vm_state and task_state (`nova/api/openstack/common.py`).
pub fn status(vm_state: VmState, task_state: Option<TaskState>) -> &'static str {
    match vm_state {
        VmState::Building => "BUILD",
        VmState::Active => task_state.and_then(TaskState::active_status).unwrap_or("ACTIVE"),
        VmState::Stopped => "SHUTOFF",
        VmState::Paused => "PAUSED",
        VmState::Suspended => "SUSPENDED",
        VmState::Resized => "VERIFY_RESIZE",
        VmState::Rescued => "RESCUE",
        VmState::Shelved => "SHELVED",
        VmState::ShelvedOffloaded => "SHELVED_OFFLOADED",
        VmState::SoftDeleted => "SOFT_DELETED",
        VmState::Deleted => "DELETED",
        VmState::Error => "ERROR",
    }
}

/// The vm_states whose servers can show `wanted` (a status as the API
/// names it), for a status filter the database answers.
pub fn states_showing(wanted: &str) -> Vec<VmState> {
    VmState::ALL
        .iter()
        .copied()
        .filter(|&vm| {
            status(vm, None) == wanted
                || (vm == VmState::Active && TaskState::ALL.iter().any(|&t| status(vm, Some(t)) == wanted))
        })
        .collect()
}

impl PowerState {
    /// The state a stored number names; an unknown one is no state.
    pub fn from_number(n: i64) -> PowerState {
        match n {
            1 => PowerState::Running,
            3 => PowerState::Paused,
            4 => PowerState::Shutdown,
            6 => PowerState::Crashed,
            7 => PowerState::Suspended,
            _ => PowerState::NoState,
        }
    }
}

/// As `OS-EXT-STS:power_state` shows it: Nova's number.
impl serde::Serialize for PowerState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*self as i64)
    }
}

impl<DB: sqlx::Database> sqlx::Type<DB> for PowerState
where
    i64: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as sqlx::Type<DB>>::type_info()
    }
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for PowerState
where
    i64: sqlx::Decode<'r, DB>,
{
    fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(PowerState::from_number(<i64 as sqlx::Decode<DB>>::decode(value)?))
    }
}

impl Bind for PowerState {
    fn param(&self) -> Param {
        Param::Int(*self as i64)
    }
    fn param_type() -> ParamType {
        ParamType::Int
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_text() {
        for &s in VmState::ALL {
            assert_eq!(VmState::parse(s.as_str()), Some(s));
        }
        for &t in TaskState::ALL {
            assert_eq!(TaskState::parse(t.as_str()), Some(t));
        }
        assert_eq!(VmState::parse("nonsense"), None);
        for p in [PowerState::NoState, PowerState::Running, PowerState::Shutdown, PowerState::Suspended] {
            assert_eq!(PowerState::from_number(p as i64), p);
        }
    }

    #[test]
    fn statuses_as_nova_shows_them() {
        assert_eq!(status(VmState::Active, None), "ACTIVE");
        assert_eq!(status(VmState::Active, Some(TaskState::RebootingHard)), "HARD_REBOOT");
        assert_eq!(status(VmState::Active, Some(TaskState::PoweringOff)), "ACTIVE");
        assert_eq!(status(VmState::Stopped, Some(TaskState::PoweringOn)), "SHUTOFF");
        assert_eq!(states_showing("REBOOT"), [VmState::Active]);
        assert_eq!(states_showing("SHUTOFF"), [VmState::Stopped]);
        assert!(states_showing("NONSENSE").is_empty());
    }
}
