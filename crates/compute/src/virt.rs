//! The boundary with the hypervisor, as Nova's `ComputeDriver`, and the fake
//! driver (a product feature, as in Nova: instances that exist only as records,
//! for API tests and demos). Drivers never touch the database: the compute
//! service owns the instance's states and writes them around each call.

use std::collections::HashMap;
use std::sync::Mutex;

pub use crate::network::Vif;
pub use oxistack_volume::backend::Connection;

/// Nova's power states, as `OS-EXT-STS:power_state` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    NoState = 0,
    Running = 1,
    Paused = 3,
    Shutdown = 4,
    Crashed = 6,
    Suspended = 7,
}

/// What a driver needs to start an instance.
#[derive(Clone, Debug, Default)]
pub struct InstanceSpec {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub project_id: String,
    pub availability_zone: String,
    pub flavor_name: String,
    pub vcpus: i64,
    pub ram_mb: i64,
    pub disk_gb: i64,
    pub ephemeral_gb: i64,
    pub swap_mb: i64,
    pub image_id: String,
    /// The image's data on this host; `None` when it has none (the fake
    /// driver needs none) or the instance boots from a volume.
    pub image: Option<BootImage>,
    /// The volume the instance boots from, instead of an image.
    pub root_volume: Option<AttachedVolume>,
    pub key_name: Option<String>,
    pub public_key: Option<String>,
    /// As the API took it: base64.
    pub user_data: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// A config drive is attached (asked for, or forced by the cloud); else
    /// the guest has the metadata service only.
    pub config_drive: bool,
    /// The password of the create request, for the config drive only (as
    /// Nova, it is never stored, so the metadata service never has it).
    pub admin_pass: Option<String>,
    pub vifs: Vec<Vif>,
    /// The volumes attached (a rebuild or unshelve boots with them).
    pub volumes: Vec<AttachedVolume>,
    pub launched_at: String,
}

/// A volume as a hypervisor plugs it: Block Storage's connection, the
/// device the API reports, and the serial the guest sees it by (the
/// volume's id, as `/dev/disk/by-id/virtio-<first 20 characters>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedVolume {
    pub volume_id: String,
    pub device: String,
    pub connection: Connection,
}

/// A host's size: vCPUs, RAM and disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
}

#[derive(Clone, Debug)]
pub struct BootImage {
    pub path: std::path::PathBuf,
    pub disk_format: String,
    /// What names the data itself (its SHA-512): a cache of converted
    /// images is keyed by it, so an id deleted and made again never boots
    /// the old data.
    pub content_hash: String,
}

#[derive(Debug)]
pub enum DriverError {
    NotFound(String),
    NotSupported(&'static str),
    Failed(String),
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::NotFound(id) => write!(f, "instance {id} is not on this host"),
            DriverError::NotSupported(op) => write!(f, "{op} is not supported by this driver"),
            DriverError::Failed(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for DriverError {}

pub type DriverResult<T> = Result<T, DriverError>;

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What the compute service asks of a hypervisor.
pub trait VirtDriver: Send + Sync {
    fn name(&self) -> &'static str;
    /// What the host offers guests, when the driver decides it rather than
    /// the machine (Nova's fake driver claims a large host).
    fn capacity(&self) -> Option<Capacity> {
        None
    }
    /// Boots the instance. On error, nothing of it is left behind.
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>>;
    /// Idempotent: destroying an unknown instance is Ok.
    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn reboot<'a>(&'a self, id: &'a str, hard: bool) -> BoxFuture<'a, DriverResult<()>>;
    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn power_state<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<PowerState>>;
    /// Gives a running instance the vCPUs, RAM and disk of `spec`.
    fn resize<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>>;
    /// Boots the instance from a rescue image, its own disk attached.
    fn rescue<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn unrescue<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    /// Applies an instance's changed interfaces (a floating address given
    /// or taken, forwarded ports) to the running instance.
    fn update_network<'a>(&'a self, id: &'a str, vifs: &'a [Vif]) -> BoxFuture<'a, DriverResult<()>> {
        let _ = (id, vifs);
        Box::pin(async { Ok(()) })
    }
    /// Whether the driver's instances have serial consoles.
    fn has_serial_consoles(&self) -> bool {
        false
    }
    /// The Unix socket of the instance's serial console, for the console
    /// proxy; `NotSupported` when the driver has none.
    fn serial_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<std::path::PathBuf>> {
        let _ = id;
        Box::pin(async { Err(DriverError::NotSupported("serial consoles")) })
    }
    /// Plugs a new interface into the instance.
    fn attach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, DriverResult<()>> {
        let _ = (id, vif);
        Box::pin(async { Ok(()) })
    }
    /// Unplugs an interface from the instance.
    fn detach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, DriverResult<()>> {
        let _ = (id, vif);
        Box::pin(async { Ok(()) })
    }
    /// Plugs a volume into the instance: at once if it runs, at its next
    /// start if not.
    fn attach_volume<'a>(&'a self, id: &'a str, volume: &'a AttachedVolume) -> BoxFuture<'a, DriverResult<()>> {
        let _ = (id, volume);
        Box::pin(async { Err(DriverError::NotSupported("attaching volumes")) })
    }
    /// Unplugs a volume; one the instance does not have is already unplugged.
    fn detach_volume<'a>(&'a self, id: &'a str, volume: &'a AttachedVolume) -> BoxFuture<'a, DriverResult<()>> {
        let _ = (id, volume);
        Box::pin(async { Err(DriverError::NotSupported("detaching volumes")) })
    }
    /// The disk format of this driver's snapshots; `None` when its instances
    /// have no disks of their own (a snapshot then holds the boot image).
    fn snapshot_format(&self) -> Option<&'static str> {
        None
    }
    /// Writes the instance's disk, flattened into one image of
    /// [`Self::snapshot_format`], to `dest`.
    fn snapshot<'a>(&'a self, id: &'a str, dest: &'a std::path::Path) -> BoxFuture<'a, DriverResult<()>> {
        let _ = (id, dest);
        Box::pin(async { Err(DriverError::NotSupported("snapshot")) })
    }
    /// The instance's console log.
    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<String>>;
    /// Takes back, after a restart of the service, an instance the database
    /// records on this host in `power` state; `NotFound` when nothing of it is
    /// left to take back.
    fn adopt<'a>(&'a self, spec: &'a InstanceSpec, power: PowerState) -> BoxFuture<'a, DriverResult<()>>;
}

/// Nova's fake driver: keeps each instance's power state and volumes in
/// memory and answers at once.
#[derive(Default)]
pub struct FakeDriver {
    instances: Mutex<HashMap<String, PowerState>>,
    volumes: Mutex<HashMap<String, Vec<AttachedVolume>>>,
}

impl FakeDriver {
    /// The volumes instance `id` has plugged in, its root volume first.
    pub fn volumes(&self, id: &str) -> Vec<AttachedVolume> {
        self.volumes.lock().map(|v| v.get(id).cloned().unwrap_or_default()).unwrap_or_default()
    }
}

impl FakeDriver {
    fn set(&self, id: &str, from: &[PowerState], to: PowerState) -> DriverResult<()> {
        let mut all = self.instances.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?;
        let state = all.get_mut(id).ok_or_else(|| DriverError::NotFound(id.to_owned()))?;
        if !from.is_empty() && !from.contains(state) {
            return Err(DriverError::Failed(format!("instance {id} is {state:?}, not in {from:?}")));
        }
        *state = to;
        Ok(())
    }
}

impl VirtDriver for FakeDriver {
    fn name(&self) -> &'static str {
        "fake"
    }

    /// Nova's fake driver's host: 1000 vCPUs, 800,000 MiB, 600,000 GiB.
    fn capacity(&self) -> Option<Capacity> {
        Some(Capacity { vcpus: 1000, memory_mb: 800_000, local_gb: 600_000 })
    }

    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let mut all = self.instances.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?;
            all.insert(spec.id.clone(), PowerState::Running);
            let mut volumes = self.volumes.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?;
            volumes.insert(spec.id.clone(), spec.root_volume.iter().chain(&spec.volumes).cloned().collect());
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.instances.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?.remove(id);
            self.volumes.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?.remove(id);
            Ok(())
        })
    }

    fn attach_volume<'a>(&'a self, id: &'a str, volume: &'a AttachedVolume) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            if !self.instances.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?.contains_key(id)
            {
                return Err(DriverError::NotFound(id.to_owned()));
            }
            let mut all = self.volumes.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?;
            let plugged = all.entry(id.to_owned()).or_default();
            plugged.retain(|v| v.volume_id != volume.volume_id);
            plugged.push(volume.clone());
            Ok(())
        })
    }

    fn detach_volume<'a>(&'a self, id: &'a str, volume: &'a AttachedVolume) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let mut all = self.volumes.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?;
            if let Some(plugged) = all.get_mut(id) {
                plugged.retain(|v| v.volume_id != volume.volume_id);
            }
            Ok(())
        })
    }

    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[], PowerState::Shutdown) })
    }

    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[], PowerState::Running) })
    }

    fn reboot<'a>(&'a self, id: &'a str, _hard: bool) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[], PowerState::Running) })
    }

    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[PowerState::Running], PowerState::Paused) })
    }

    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[PowerState::Paused], PowerState::Running) })
    }

    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[PowerState::Running], PowerState::Suspended) })
    }

    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[PowerState::Suspended], PowerState::Running) })
    }

    fn power_state<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<PowerState>> {
        Box::pin(async move {
            let all = self.instances.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?;
            all.get(id).copied().ok_or_else(|| DriverError::NotFound(id.to_owned()))
        })
    }

    fn resize<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(&spec.id, &[], PowerState::Running) })
    }

    fn rescue<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[], PowerState::Running) })
    }

    fn unrescue<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.set(id, &[], PowerState::Running) })
    }

    /// The fake driver's instances live in memory: after a restart it recreates
    /// them as the database records them.
    fn adopt<'a>(&'a self, spec: &'a InstanceSpec, power: PowerState) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let mut all = self.instances.lock().map_err(|_| DriverError::Failed("fake driver poisoned".into()))?;
            all.insert(spec.id.clone(), power);
            Ok(())
        })
    }

    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<String>> {
        Box::pin(async move {
            self.power_state(id).await?;
            Ok(format!("FAKE CONSOLE OUTPUT\nfor instance {id}\nLAST LINE\n"))
        })
    }
}
