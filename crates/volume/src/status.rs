//! A volume's status as Cinder names it (`cinder/objects/fields.py`
//! `VolumeStatus`). Each transitional status is written before the step it
//! names starts, so a restart finds what was in flight.

oxistack_core::text_enum! {
    VolumeStatus {
        Creating => "creating",
        Available => "available",
        Reserved => "reserved",
        Attaching => "attaching",
        Detaching => "detaching",
        InUse => "in-use",
        Maintenance => "maintenance",
        Deleting => "deleting",
        AwaitingTransfer => "awaiting-transfer",
        Error => "error",
        ErrorDeleting => "error_deleting",
        BackingUp => "backing-up",
        RestoringBackup => "restoring-backup",
        ErrorBackingUp => "error_backing-up",
        ErrorRestoring => "error_restoring",
        ErrorExtending => "error_extending",
        Downloading => "downloading",
        Uploading => "uploading",
        Retyping => "retyping",
        Extending => "extending",
    }
}

impl VolumeStatus {
    /// The statuses a volume may be deleted from without `force`
    /// (`cinder/volume/api.py` `API.delete`).
    pub const DELETABLE: &'static [VolumeStatus] =
        &[VolumeStatus::Available, VolumeStatus::Error, VolumeStatus::ErrorRestoring, VolumeStatus::ErrorExtending];

    /// What a status left by a stopped server becomes at the next start,
    /// as cinder-volume's `init_host` decides: work on data that was cut
    /// short is an error of that work; a delete is finished (`None`).
    pub fn after_restart(self) -> Option<Option<VolumeStatus>> {
        use VolumeStatus::*;
        match self {
            Creating | Downloading => Some(Some(Error)),
            Extending => Some(Some(ErrorExtending)),
            // A backup's copy only read the volume: it is as it was (its
            // attachments say whether in use).
            BackingUp | Uploading => Some(Some(Available)),
            RestoringBackup => Some(Some(ErrorRestoring)),
            Deleting => Some(None),
            _ => None,
        }
    }
}

oxistack_core::text_enum! {
    /// A snapshot's status (`cinder/objects/fields.py` `SnapshotStatus`).
    SnapshotStatus {
        Creating => "creating",
        Available => "available",
        Deleting => "deleting",
        Error => "error",
        ErrorDeleting => "error_deleting",
        BackingUp => "backing-up",
        Restoring => "restoring",
    }
}

impl SnapshotStatus {
    /// As [`VolumeStatus::after_restart`]: a copy cut short is an error,
    /// a delete is finished.
    pub fn after_restart(self) -> Option<Option<SnapshotStatus>> {
        match self {
            SnapshotStatus::Creating => Some(Some(SnapshotStatus::Error)),
            SnapshotStatus::Deleting => Some(None),
            _ => None,
        }
    }
}

oxistack_core::text_enum! {
    /// An attachment's status (`cinder/objects/fields.py`
    /// `VolumeAttachStatus`).
    AttachStatus {
        Reserved => "reserved",
        Attaching => "attaching",
        Attached => "attached",
        Detaching => "detaching",
        ErrorAttaching => "error_attaching",
        ErrorDetaching => "error_detaching",
    }
}

oxistack_core::text_enum! {
    /// A backup's status (`cinder/objects/fields.py` `BackupStatus`).
    BackupStatus {
        Creating => "creating",
        Available => "available",
        Deleting => "deleting",
        Error => "error",
        ErrorDeleting => "error_deleting",
        Restoring => "restoring",
    }
}

impl BackupStatus {
    /// As cinder-backup's start decides: a copy cut short is an error, a
    /// restore cut short leaves the backup as it was, a delete is finished.
    pub fn after_restart(self) -> Option<Option<BackupStatus>> {
        match self {
            BackupStatus::Creating => Some(Some(BackupStatus::Error)),
            BackupStatus::Restoring => Some(Some(BackupStatus::Available)),
            BackupStatus::Deleting => Some(None),
            _ => None,
        }
    }
}
