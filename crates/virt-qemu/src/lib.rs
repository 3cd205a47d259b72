//! The QEMU compute driver: each instance is one `qemu-system-x86_64`
//! process, daemonized so that it outlives the service, with a QMP socket,
//! its serial console appended to a file, a qcow2 overlay on a cached base
//! image, a config drive, and QEMU user-mode networking in which the guest
//! gets its fixed address by DHCP and its floating address (in 127.0.0.0/8)
//! forwards the allowed TCP ports.
//!
//! Everything the driver knows of an instance lives in the instance's
//! directory (`instances/<id>/`: launch.json, disk.qcow2, config.iso,
//! console.log, qemu.pid, qmp.sock, suspended.state), so a restarted service
//! finds its instances again exactly as it left them.

pub mod config_drive;
pub mod disk;
pub mod qmp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use oxistack_compute::virt::Vif;
use oxistack_compute::virt::{
    AttachedVolume, BoxFuture, Connection, DriverError, DriverResult, InstanceSpec, PowerState, VirtDriver,
};

/// How long a guest gets to power off on ACPI's request before it is stopped
/// by force (Nova's `shutdown_timeout`).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of the console log `console_output` answers.
const CONSOLE_TAIL: u64 = 1 << 20;
/// virtlogd's bound on a console log: 2 MiB, and one older file of as much.
const CONSOLE_MAX: u64 = 2 << 20;

/// How QEMU runs guests' code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    /// Software emulation.
    Tcg,
}

/// The accelerator to use: `requested` unless it is `None` (auto), in which
/// case KVM when `/dev/kvm` can be opened and is not a nested PVM (which
/// stalls unmodified Linux guests), else TCG. Answers why, for the log.
pub fn choose_accel(requested: Option<Accel>) -> (Accel, &'static str) {
    if let Some(a) = requested {
        return (a, "as configured");
    }
    if Path::new("/sys/module/kvm_pvm").exists() {
        return (Accel::Tcg, "/dev/kvm is PVM nested virtualization, which cannot run unmodified guests");
    }
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        Ok(_) => (Accel::Kvm, "/dev/kvm is usable"),
        Err(_) => (Accel::Tcg, "/dev/kvm is missing or not accessible"),
    }
}

/// The QEMU binary, when installed.
pub fn find_qemu() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("qemu-system-x86_64")).find(|p| p.is_file())
}

/// What is kept of an instance to launch it again.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Launch {
    id: String,
    vcpus: i64,
    ram_mb: i64,
    disk_gb: i64,
    base: PathBuf,
    vifs: Vec<Vif>,
    ephemeral: bool,
    swap: bool,
    rescue: bool,
    /// Whether config.iso is attached.
    #[serde(default = "attached")]
    config_drive: bool,
    /// The PCIe root ports NICs sit on, by the MAC of the NIC each holds
    /// (`None`: free for a hot-plugged one). Laid out anew at each cold boot;
    /// kept across a suspend, whose saved state expects the same devices.
    #[serde(default)]
    nic_slots: Vec<Option<String>>,
    /// Block Storage volumes attached to the instance.
    #[serde(default)]
    volumes: Vec<LaunchVolume>,
    /// The PCIe root ports volumes sit on, by volume id (`None`: free for
    /// one attached later). Laid out anew at each cold boot and kept across
    /// a suspend, as `nic_slots`; `None` in launches from before volumes
    /// could be attached, whose saved state has no such ports.
    #[serde(default)]
    volume_slots: Option<Vec<Option<String>>>,
    /// The Block Storage volume the instance boots from, in place of
    /// disk.qcow2 (`base` is then empty).
    #[serde(default)]
    root_volume: Option<LaunchVolume>,
}

/// A volume as QEMU opens it: always as raw data (what a tenant writes
/// into a volume is never probed for a format), named to the guest by a
/// serial of the volume id's first 20 characters.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct LaunchVolume {
    id: String,
    path: PathBuf,
}

impl LaunchVolume {
    fn serial(&self) -> String {
        self.id.chars().take(20).collect()
    }
}

/// Root ports left free at boot for volumes attached later.
const SPARE_VOLUME_SLOTS: usize = 4;

/// Launch files from before the config drive was optional always had one.
fn attached() -> bool {
    true
}

/// Root ports left free at boot for interfaces attached later.
const SPARE_NIC_SLOTS: usize = 4;

impl Launch {
    /// The slots this launch's QEMU has: as recorded, or a fresh layout of
    /// one per interface and the spares.
    fn slots(&self) -> Vec<Option<String>> {
        if self.nic_slots.is_empty() {
            Self::fresh_slots(&self.vifs)
        } else {
            self.nic_slots.clone()
        }
    }

    fn fresh_slots(vifs: &[Vif]) -> Vec<Option<String>> {
        vifs.iter().map(|v| Some(v.mac.clone())).chain(std::iter::repeat_n(None, SPARE_NIC_SLOTS)).collect()
    }

    fn slot_of(&self, mac: &str) -> Option<usize> {
        self.slots().iter().position(|m| m.as_deref() == Some(mac))
    }

    fn fresh_volume_slots(volumes: &[LaunchVolume]) -> Vec<Option<String>> {
        volumes.iter().map(|v| Some(v.id.clone())).chain(std::iter::repeat_n(None, SPARE_VOLUME_SLOTS)).collect()
    }

    fn volume_slot_of(&self, volume: &str) -> Option<usize> {
        self.volume_slots.as_ref()?.iter().position(|v| v.as_deref() == Some(volume))
    }
}

/// A path in a QEMU option string, its commas doubled.
fn option_path(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

/// The files of one instance.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn launch(&self) -> PathBuf {
        self.path("launch.json")
    }
    fn pid(&self) -> PathBuf {
        self.path("qemu.pid")
    }
    fn console(&self) -> PathBuf {
        self.path("console.log")
    }
    /// The console log's older half, after a rotation.
    fn console_old(&self) -> PathBuf {
        self.path("console.log.0")
    }
    fn state(&self) -> PathBuf {
        self.path("suspended.state")
    }
    /// The monitor socket.
    fn qmp(&self) -> PathBuf {
        self.socket("qmp.sock")
    }
    /// The serial console's socket (its output is also appended to
    /// console.log).
    fn serial(&self) -> PathBuf {
        self.socket("console.sock")
    }
    fn socket(&self, name: &str) -> PathBuf {
        socket_path(&self.dir, name)
    }
}

/// The Unix socket `name` of directory `dir`. A socket's path must fit in
/// 108 bytes: a deep directory gets its sockets in the temporary directory
/// instead, named by a hash of the directory.
pub fn socket_path(dir: &Path, name: &str) -> PathBuf {
    let beside = dir.join(name);
    if beside.as_os_str().len() < 100 {
        return beside;
    }
    let hash = dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    std::env::temp_dir().join(format!("oxistack-{hash:016x}-{name}"))
}

pub struct QemuDriver {
    qemu: PathBuf,
    accel: Accel,
    instances: PathBuf,
    cache: PathBuf,
    metadata: Option<MetadataRelay>,
}

/// The command QEMU runs for each guest connection to the metadata address:
/// `<program> metadata-relay <socket> <instance id>`.
#[derive(Clone, Debug)]
pub struct MetadataRelay {
    pub program: PathBuf,
    pub socket: PathBuf,
}

/// Nova's metadata address, link-local in every guest.
const METADATA_ADDRESS: &str = "169.254.169.254";

fn failed(e: impl std::fmt::Display) -> DriverError {
    DriverError::Failed(e.to_string())
}

impl QemuDriver {
    /// A driver keeping its instances and image cache under `state_path`.
    pub fn new(qemu: PathBuf, accel: Accel, state_path: &Path) -> std::io::Result<Self> {
        let instances = state_path.join("instances");
        let cache = state_path.join("_base");
        std::fs::create_dir_all(&instances)?;
        std::fs::create_dir_all(&cache)?;
        Ok(QemuDriver { qemu, accel, instances, cache, metadata: None })
    }

    /// Keeps every guest's console log within [`CONSOLE_MAX`] (and one older
    /// file of as much), checking every `every`: a guest that prints without
    /// end must not fill the host's disk.
    pub fn spawn_console_rotation(self: &Arc<Self>, every: Duration) {
        let driver = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(driver) = driver.upgrade() else { return };
                let instances = driver.instances.clone();
                let rotated = tokio::task::spawn_blocking(move || rotate_consoles(&instances)).await;
                if let Ok(Err(e)) = rotated {
                    tracing::warn!(error = %e, "rotating console logs failed");
                }
            }
        });
    }

    /// Guests reach the metadata service at 169.254.169.254 through `relay`.
    pub fn with_metadata(mut self, relay: MetadataRelay) -> Self {
        self.metadata = Some(relay);
        self
    }

    fn files(&self, id: &str) -> DriverResult<Files> {
        // Ids name directories: nothing but a UUID's characters.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(DriverError::NotFound(id.to_owned()));
        }
        Ok(Files { dir: self.instances.join(id) })
    }

    /// The files of an instance this host has.
    fn existing(&self, id: &str) -> DriverResult<Files> {
        let files = self.files(id)?;
        if !files.launch().exists() {
            return Err(DriverError::NotFound(id.to_owned()));
        }
        Ok(files)
    }

    fn read_launch(files: &Files) -> DriverResult<Launch> {
        let raw = std::fs::read(files.launch()).map_err(failed)?;
        serde_json::from_slice(&raw).map_err(failed)
    }

    fn write_launch(files: &Files, launch: &Launch) -> DriverResult<()> {
        let tmp = files.path("launch.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(launch).map_err(failed)?).map_err(failed)?;
        std::fs::rename(tmp, files.launch()).map_err(failed)
    }

    /// The pid of the instance's QEMU while it runs. The pid file may outlive
    /// the process and its pid be reused: the command line must name the instance.
    fn pid(files: &Files, id: &str) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(files.pid()).ok()?.trim().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let wanted = format!("guest={id},");
        cmdline.split(|b| *b == 0).any(|arg| arg.starts_with(wanted.as_bytes())).then_some(pid)
    }

    fn args(&self, files: &Files, l: &Launch, incoming: Option<&Path>) -> Vec<String> {
        let p = |name: &str| files.path(name).display().to_string();
        let mut a: Vec<String> = vec![
            "-name".into(),
            format!("guest={},debug-threads=off", l.id),
            "-uuid".into(),
            l.id.clone(),
            "-machine".into(),
            "q35".into(),
        ];
        match self.accel {
            Accel::Kvm => a.extend(["-accel".into(), "kvm".into(), "-cpu".into(), "host".into()]),
            Accel::Tcg => a.extend(["-accel".into(), "tcg".into(), "-cpu".into(), "max".into()]),
        }
        a.extend([
            "-m".into(),
            l.ram_mb.to_string(),
            "-smp".into(),
            l.vcpus.to_string(),
            "-nodefaults".into(),
            "-no-user-config".into(),
            "-display".into(),
            "none".into(),
            "-vga".into(),
            "none".into(),
            "-chardev".into(),
            format!(
                "socket,id=console,path={},server=on,wait=off,logfile={},logappend=on",
                files.serial().display(),
                p("console.log")
            ),
            "-serial".into(),
            "chardev:console".into(),
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", files.qmp().display()),
        ]);
        let mut disks = vec![];
        if l.rescue {
            disks.push(("rescue", "rescue.qcow2", "qcow2"));
        }
        if l.root_volume.is_none() {
            disks.push(("root", "disk.qcow2", "qcow2"));
        }
        if l.ephemeral {
            disks.push(("ephemeral", "disk.eph0", "qcow2"));
        }
        if l.swap {
            disks.push(("swap", "disk.swap", "qcow2"));
        }
        if let Some(v) = &l.root_volume {
            // As raw data, as every volume: what a tenant wrote is never
            // probed for a format. A rescue disk boots before it.
            a.extend([
                "-blockdev".into(),
                format!("driver=raw,node-name=rootvol,file.driver=file,file.filename={}", option_path(&v.path)),
                "-device".into(),
                format!(
                    "virtio-blk-pci,id=root,drive=rootvol,serial={},bootindex={}",
                    v.serial(),
                    usize::from(l.rescue)
                ),
            ]);
        }
        for (i, (id, file, format)) in disks.iter().enumerate() {
            a.push("-drive".into());
            a.push(format!("file={},if=none,id={id},format={format}", p(file)));
            a.push("-device".into());
            a.push(if i == 0 && (l.rescue || l.root_volume.is_none()) {
                format!("virtio-blk-pci,drive={id},bootindex=0")
            } else {
                format!("virtio-blk-pci,drive={id}")
            });
        }
        if l.config_drive {
            a.extend([
                "-drive".into(),
                format!("file={},if=none,id=config,format=raw,readonly=on", p("config.iso")),
                "-device".into(),
                "virtio-blk-pci,drive=config".into(),
            ]);
        }
        // Each NIC on a PCIe root port of its own, so that it can be
        // unplugged; spare ports take NICs plugged later.
        for (slot, mac) in l.slots().iter().enumerate() {
            a.extend(["-device".into(), format!("pcie-root-port,id=nicslot{slot},bus=pcie.0,chassis={}", slot + 1)]);
            if let Some(vif) = mac.as_ref().and_then(|m| l.vifs.iter().find(|v| &v.mac == m)) {
                a.extend(["-netdev".into(), self.netdev(slot, vif, &l.id).option(), "-device".into(), nic(slot, vif)]);
            }
        }
        // Each volume on a root port of its own too, so that it can be
        // plugged and unplugged while the guest runs.
        for (slot, volume) in l.volume_slots.iter().flatten().enumerate() {
            a.extend(["-device".into(), format!("pcie-root-port,id=volslot{slot},bus=pcie.0,chassis={}", 64 + slot)]);
            if let Some(v) = volume.as_ref().and_then(|id| l.volumes.iter().find(|v| &v.id == id)) {
                a.extend([
                    "-blockdev".into(),
                    format!(
                        "driver=raw,node-name=volnode{slot},file.driver=file,file.filename={}",
                        option_path(&v.path)
                    ),
                    "-device".into(),
                    format!("virtio-blk-pci,id=vol{slot},drive=volnode{slot},bus=volslot{slot},serial={}", v.serial()),
                ]);
            }
        }
        if let Some(state) = incoming {
            a.extend(["-incoming".into(), format!("exec:cat {}", shell_quote(&state.display().to_string()))]);
        }
        a.extend(["-daemonize".into(), "-pidfile".into(), p("qemu.pid")]);
        a
    }

    /// The user-mode network of the NIC in `slot`. restrict=on: the guest
    /// reaches nothing outside but the metadata address; only the forwarded
    /// ports reach it. QEMU forwards guest connections only to addresses
    /// inside its network, and the link-local metadata address is in no
    /// tenant subnet: with the metadata service the network is 0.0.0.0/0, and
    /// guests take their subnet's mask from network_data.json (DHCP hands
    /// those that ignore it a /0, on which QEMU answers only its own
    /// addresses).
    fn netdev(&self, slot: usize, vif: &Vif, instance: &str) -> UserNet {
        let net = match &self.metadata {
            Some(_) => "0.0.0.0/0.0.0.0".to_string(),
            None => format!("{}/{}", network_of(vif), vif.prefix),
        };
        let guestfwd = self.metadata.iter().map(|relay| {
            let command = format!(
                "{} metadata-relay {} {instance}",
                shell_quote(&relay.program.display().to_string()),
                shell_quote(&relay.socket.display().to_string()),
            );
            format!("tcp:{METADATA_ADDRESS}:80-cmd:{command}")
        });
        UserNet {
            id: format!("net{slot}"),
            net,
            host: vif.gateway.to_string(),
            dns: dns_of(vif).to_string(),
            dhcpstart: vif.fixed_ip.to_string(),
            guestfwd: guestfwd.collect(),
            hostfwd: forwards(vif)
                .into_iter()
                .map(|(addr, port)| format!("tcp:{addr}:{port}-{}:{port}", vif.fixed_ip))
                .collect(),
        }
    }

    /// A human monitor command whose success prints nothing: any text it
    /// answers is its error.
    async fn hmp(files: &Files, command: &str) -> DriverResult<()> {
        let out = Self::qmp(files, "human-monitor-command", Some(json!({"command-line": command}))).await?;
        match out.as_str().map(str::trim) {
            Some(text) if !text.is_empty() => Err(failed(format!("{command}: {text}"))),
            _ => Ok(()),
        }
    }

    /// Waits up to 20 seconds for the guest to let device `id` go after a
    /// `device_del` (the guest's own hot-unplug ends it).
    /// Whether the running QEMU has device `id`.
    async fn has_device(files: &Files, id: &str) -> DriverResult<bool> {
        let devices = Self::qmp(files, "qom-list", Some(json!({"path": "/machine/peripheral"}))).await?;
        Ok(devices.as_array().into_iter().flatten().any(|d| d["name"] == id))
    }

    /// Whether the running QEMU has block node `name`.
    async fn has_node(files: &Files, name: &str) -> DriverResult<bool> {
        let nodes = Self::qmp(files, "query-named-block-nodes", None).await?;
        Ok(nodes.as_array().into_iter().flatten().any(|n| n["node-name"] == name))
    }

    /// Takes back what a failed hot-plug of the volume in `slot` added.
    async fn unplug_volume(files: &Files, slot: usize) {
        if Self::has_device(files, &format!("vol{slot}")).await.unwrap_or(false) {
            let _ = Self::qmp(files, "device_del", Some(json!({"id": format!("vol{slot}")}))).await;
            let _ = Self::wait_released(files, &format!("vol{slot}"), "volume").await;
        }
        let _ = Self::qmp(files, "blockdev-del", Some(json!({"node-name": format!("volnode{slot}")}))).await;
    }

    async fn wait_released(files: &Files, id: &str, what: &str) -> DriverResult<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if !Self::has_device(files, id).await? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(failed(format!("the guest did not release the {what}")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts the instance's QEMU; it daemonizes once its monitor listens.
    async fn launch(&self, files: &Files, l: &Launch, incoming: Option<&Path>) -> DriverResult<()> {
        let mut l = l.clone();
        if incoming.is_none() {
            l.nic_slots = Launch::fresh_slots(&l.vifs);
            l.volume_slots = Some(Launch::fresh_volume_slots(&l.volumes));
            Self::write_launch(files, &l)?;
        }
        let l = &l;
        let _ = std::fs::remove_file(files.qmp());
        let _ = std::fs::remove_file(files.serial());
        let _ = std::fs::remove_file(files.pid());
        let out = tokio::process::Command::new(&self.qemu)
            .args(self.args(files, l, incoming))
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| failed(format!("starting {}: {e}", self.qemu.display())))?;
        if !out.status.success() {
            return Err(failed(format!("QEMU did not start: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        tracing::info!(instance = %l.id, pid = Self::pid(files, &l.id), accel = ?self.accel, "QEMU started");
        Ok(())
    }

    async fn qmp(files: &Files, command: &str, args: Option<Value>) -> DriverResult<Value> {
        qmp::execute(&files.qmp(), command, args).await.map_err(failed)
    }

    /// Waits until the instance's QEMU is gone; false when `limit` passed first.
    async fn wait_gone(files: &Files, id: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while Self::pid(files, id).is_some() {
            if start.elapsed() > limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }

    /// Stops QEMU at once: `quit`, then SIGKILL when it does not go.
    async fn kill(files: &Files, id: &str) {
        let Some(pid) = Self::pid(files, id) else { return };
        let _ = Self::qmp(files, "quit", None).await;
        if !Self::wait_gone(files, id, Duration::from_secs(5)).await {
            // SAFETY: kill(2) with a pid read back from /proc as this instance's QEMU.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            Self::wait_gone(files, id, Duration::from_secs(5)).await;
        }
    }

    /// ACPI power-down, then force when the guest ignores it.
    async fn shut_down(files: &Files, id: &str) {
        if Self::pid(files, id).is_none() {
            return;
        }
        let asked = Self::qmp(files, "system_powerdown", None).await.is_ok();
        if !asked || !Self::wait_gone(files, id, SHUTDOWN_TIMEOUT).await {
            tracing::warn!(instance = id, "the guest did not power off in time; stopping it by force");
            Self::kill(files, id).await;
        }
    }

    async fn status(files: &Files) -> DriverResult<String> {
        let s = Self::qmp(files, "query-status", None).await?;
        Ok(s["status"].as_str().unwrap_or_default().to_owned())
    }

    async fn relaunch(&self, id: &str, change: impl FnOnce(&mut Launch)) -> DriverResult<()> {
        let files = self.existing(id)?;
        let mut launch = Self::read_launch(&files)?;
        Self::shut_down(&files, id).await;
        change(&mut launch);
        Self::write_launch(&files, &launch)?;
        self.launch(&files, &launch, None).await
    }
}

/// A user-mode (slirp) network backend, as a command-line option or as the
/// arguments of QMP's `netdev_add`.
struct UserNet {
    id: String,
    net: String,
    host: String,
    dns: String,
    dhcpstart: String,
    guestfwd: Vec<String>,
    hostfwd: Vec<String>,
}

impl UserNet {
    fn option(&self) -> String {
        let mut s = format!(
            "user,id={},net={},host={},dns={},dhcpstart={},restrict=on",
            self.id, self.net, self.host, self.dns, self.dhcpstart
        );
        for g in &self.guestfwd {
            // QEMU's option syntax doubles a comma that is part of a value.
            s.push_str(&format!(",guestfwd={}", g.replace(',', ",,")));
        }
        for h in &self.hostfwd {
            s.push_str(&format!(",hostfwd={h}"));
        }
        s
    }

    fn qmp(&self) -> Value {
        let strings = |items: &[String]| items.iter().map(|i| json!({"str": i})).collect::<Vec<_>>();
        json!({
            "type": "user", "id": self.id, "net": self.net, "host": self.host, "dns": self.dns,
            "dhcpstart": self.dhcpstart, "restrict": true,
            "guestfwd": strings(&self.guestfwd), "hostfwd": strings(&self.hostfwd),
        })
    }
}

/// The virtio NIC of `vif` on its root port.
fn nic(slot: usize, vif: &Vif) -> String {
    format!("virtio-net-pci,netdev=net{slot},mac={},id=nic{slot},bus=nicslot{slot}", vif.mac)
}

/// The (host address, port) pairs an interface forwards.
fn forwards(vif: &Vif) -> Vec<(std::net::Ipv4Addr, u16)> {
    vif.floating_ip.map(|f| vif.tcp_ports.iter().map(|p| (f, *p)).collect()).unwrap_or_default()
}

/// QEMU's user network has a DNS address of its own, by default the
/// subnet's third; it must not be the guest's: the highest address of the
/// subnet that is neither the guest's nor the gateway's.
fn dns_of(vif: &Vif) -> std::net::Ipv4Addr {
    let broadcast = u32::from(network_of(vif)) | (u32::MAX >> u32::from(vif.prefix));
    let taken = [u32::from(vif.fixed_ip), u32::from(vif.gateway)];
    let pick = (1..4).map(|k| broadcast - k).find(|a| !taken.contains(a)).unwrap_or(broadcast - 1);
    std::net::Ipv4Addr::from(pick)
}

/// The network address of an interface's subnet.
fn network_of(vif: &Vif) -> std::net::Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(vif.prefix)).unwrap_or(0);
    std::net::Ipv4Addr::from(u32::from(vif.fixed_ip) & mask)
}

/// A volume as this driver opens it.
fn launch_volume(v: &AttachedVolume) -> LaunchVolume {
    let Connection::File { device_path } = &v.connection;
    LaunchVolume { id: v.volume_id.clone(), path: device_path.clone() }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl VirtDriver for QemuDriver {
    fn name(&self) -> &'static str {
        "qemu"
    }

    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.files(&spec.id)?;
            let root_volume = spec.root_volume.as_ref().map(launch_volume);
            let image = match (&root_volume, &spec.image) {
                (Some(_), _) => None,
                (None, Some(image)) => Some(image),
                (None, None) => return Err(failed(format!("image {} has no data", spec.image_id))),
            };
            let _ = std::fs::remove_dir_all(&files.dir);
            std::fs::create_dir_all(&files.dir).map_err(failed)?;
            let prepared = async {
                // Booted from a volume, the instance has no disk of its own.
                let mut base = PathBuf::new();
                if let Some(image) = image {
                    base = disk::base_image(&self.cache, &image.content_hash, &image.path, &image.disk_format).await?;
                    disk::overlay(&base, &files.path("disk.qcow2"), spec.disk_gb).await?;
                }
                if spec.ephemeral_gb > 0 {
                    disk::blank(&files.path("disk.eph0"), &format!("{}G", spec.ephemeral_gb)).await?;
                }
                if spec.swap_mb > 0 {
                    disk::blank(&files.path("disk.swap"), &format!("{}M", spec.swap_mb)).await?;
                }
                if spec.config_drive {
                    let tree = files.path("config");
                    config_drive::write_tree(spec, &tree).map_err(|e| format!("writing the config drive: {e}"))?;
                    config_drive::make_iso(&tree, &files.path("config.iso")).await?;
                    let _ = std::fs::remove_dir_all(&tree);
                }
                Ok::<_, String>(base)
            };
            let launch = match prepared.await {
                Ok(base) => Launch {
                    id: spec.id.clone(),
                    vcpus: spec.vcpus.max(1),
                    ram_mb: spec.ram_mb,
                    disk_gb: spec.disk_gb,
                    base,
                    vifs: spec.vifs.clone(),
                    ephemeral: spec.ephemeral_gb > 0,
                    swap: spec.swap_mb > 0,
                    rescue: false,
                    config_drive: spec.config_drive,
                    nic_slots: Vec::new(),
                    volumes: spec.volumes.iter().map(launch_volume).collect(),
                    volume_slots: None,
                    root_volume,
                },
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&files.dir);
                    return Err(failed(e));
                }
            };
            let started = match Self::write_launch(&files, &launch) {
                Ok(()) => self.launch(&files, &launch, None).await,
                Err(e) => Err(e),
            };
            if let Err(e) = started {
                Self::kill(&files, &spec.id).await;
                let _ = std::fs::remove_dir_all(&files.dir);
                return Err(e);
            }
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let Ok(files) = self.files(id) else { return Ok(()) };
            Self::kill(&files, id).await;
            if Self::pid(&files, id).is_some() {
                return Err(failed(format!("QEMU of instance {id} does not stop")));
            }
            let _ = std::fs::remove_file(files.qmp());
            let _ = std::fs::remove_file(files.serial());
            match std::fs::remove_dir_all(&files.dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed(e)),
                _ => Ok(()),
            }
        })
    }

    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            Self::shut_down(&files, id).await;
            Ok(())
        })
    }

    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            if Self::pid(&files, id).is_some() {
                return Ok(());
            }
            let launch = Self::read_launch(&files)?;
            self.launch(&files, &launch, None).await
        })
    }

    /// Hard: a reset. Soft: a clean power-off and a new boot, as Nova's
    /// libvirt driver does.
    fn reboot<'a>(&'a self, id: &'a str, hard: bool) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            if hard && Self::pid(&files, id).is_some() {
                Self::qmp(&files, "system_reset", None).await?;
                if Self::status(&files).await? != "running" {
                    Self::qmp(&files, "cont", None).await?;
                }
                return Ok(());
            }
            self.relaunch(id, |_| {}).await
        })
    }

    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            Self::qmp(&files, "stop", None).await.map(|_| ())
        })
    }

    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            Self::qmp(&files, "cont", None).await.map(|_| ())
        })
    }

    /// The guest's memory and device state are saved to a file and QEMU
    /// exits: a suspended instance costs no memory.
    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            let part = files.path("suspended.state.part");
            Self::qmp(&files, "stop", None).await?;
            let uri = format!("exec:cat > {}", shell_quote(&part.display().to_string()));
            Self::qmp(&files, "migrate", Some(json!({"uri": uri}))).await?;
            let start = Instant::now();
            loop {
                let m = Self::qmp(&files, "query-migrate", None).await?;
                match m["status"].as_str() {
                    Some("completed") => break,
                    Some("failed" | "cancelled") => {
                        let _ = Self::qmp(&files, "cont", None).await;
                        let _ = std::fs::remove_file(&part);
                        return Err(failed(format!("saving the instance's state failed: {}", m["error-desc"])));
                    }
                    _ if start.elapsed() > SHUTDOWN_TIMEOUT => {
                        let _ = Self::qmp(&files, "migrate_cancel", None).await;
                        let _ = Self::qmp(&files, "cont", None).await;
                        return Err(failed("saving the instance's state took too long"));
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            std::fs::rename(&part, files.state()).map_err(failed)?;
            Self::kill(&files, id).await;
            Ok(())
        })
    }

    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            if Self::pid(&files, id).is_some() {
                return Self::qmp(&files, "cont", None).await.map(|_| ());
            }
            let launch = Self::read_launch(&files)?;
            let state = files.state();
            if !state.exists() {
                return self.launch(&files, &launch, None).await;
            }
            self.launch(&files, &launch, Some(&state)).await?;
            let start = Instant::now();
            while Self::status(&files).await? == "inmigrate" {
                if start.elapsed() > SHUTDOWN_TIMEOUT {
                    return Err(failed("restoring the instance's state took too long"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Self::qmp(&files, "cont", None).await?;
            let _ = std::fs::remove_file(&state);
            Ok(())
        })
    }

    fn power_state<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<PowerState>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            if Self::pid(&files, id).is_none() {
                return Ok(if files.state().exists() { PowerState::Suspended } else { PowerState::Shutdown });
            }
            Ok(match Self::status(&files).await?.as_str() {
                "running" => PowerState::Running,
                "shutdown" => PowerState::Shutdown,
                "internal-error" | "io-error" | "guest-panicked" => PowerState::Crashed,
                _ => PowerState::Paused,
            })
        })
    }

    fn resize<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(&spec.id)?;
            let boots_from_volume = Self::read_launch(&files)?.root_volume.is_some();
            Self::shut_down(&files, &spec.id).await;
            // A root volume keeps its size: the flavor's disk is not it.
            if !boots_from_volume {
                disk::grow(&files.path("disk.qcow2"), spec.disk_gb).await.map_err(failed)?;
            }
            self.relaunch(&spec.id, |l| {
                l.vcpus = spec.vcpus.max(1);
                l.ram_mb = spec.ram_mb;
                l.disk_gb = spec.disk_gb;
            })
            .await
        })
    }

    /// Boots from a fresh overlay of the instance's image, its own disk second.
    fn rescue<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            let launch = Self::read_launch(&files)?;
            if launch.root_volume.is_some() {
                return Err(DriverError::NotSupported("rescue of a server booted from a volume"));
            }
            Self::shut_down(&files, id).await;
            let rescue = files.path("rescue.qcow2");
            let _ = std::fs::remove_file(&rescue);
            disk::overlay(&launch.base, &rescue, 0).await.map_err(failed)?;
            self.relaunch(id, |l| l.rescue = true).await
        })
    }

    fn unrescue<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            self.relaunch(id, |l| l.rescue = false).await?;
            let _ = std::fs::remove_file(files.path("rescue.qcow2"));
            Ok(())
        })
    }

    /// Floating addresses and forwarded ports change on the running QEMU
    /// through its monitor (`hostfwd_add`/`hostfwd_remove`), and in
    /// launch.json for the next start.
    fn update_network<'a>(&'a self, id: &'a str, vifs: &'a [Vif]) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            let mut launch = Self::read_launch(&files)?;
            let running = Self::pid(&files, id).is_some();
            for vif in &launch.vifs {
                let Some(new) = vifs.iter().find(|v| v.mac == vif.mac) else { continue };
                let (Some(slot), true) = (launch.slot_of(&vif.mac), running) else { continue };
                let (old_fwd, new_fwd) = (forwards(vif), forwards(new));
                for (addr, port) in old_fwd.iter().filter(|f| !new_fwd.contains(f)) {
                    // Unlike the others, this one answers a line when it succeeds.
                    let cmd = format!("hostfwd_remove net{slot} tcp:{addr}:{port}");
                    Self::qmp(&files, "human-monitor-command", Some(json!({"command-line": cmd}))).await?;
                }
                for (addr, port) in new_fwd.iter().filter(|f| !old_fwd.contains(f)) {
                    Self::hmp(&files, &format!("hostfwd_add net{slot} tcp:{addr}:{port}-{}:{port}", new.fixed_ip))
                        .await?;
                }
            }
            for vif in launch.vifs.iter_mut() {
                if let Some(new) = vifs.iter().find(|v| v.mac == vif.mac) {
                    vif.floating_ip = new.floating_ip;
                    vif.tcp_ports = new.tcp_ports.clone();
                }
            }
            Self::write_launch(&files, &launch)
        })
    }

    /// A running guest gets the NIC on a free root port (PCIe hotplug); a
    /// stopped one finds it at its next boot.
    fn attach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            let mut launch = Self::read_launch(&files)?;
            if Self::pid(&files, id).is_some() {
                let mut slots = launch.slots();
                let slot = slots
                    .iter()
                    .position(Option::is_none)
                    .ok_or_else(|| failed("every PCIe slot for interfaces is taken; stop and start the server"))?;
                Self::qmp(&files, "netdev_add", Some(self.netdev(slot, vif, id).qmp())).await?;
                if let Err(e) = Self::hmp(&files, &format!("device_add {}", nic(slot, vif))).await {
                    let _ = Self::hmp(&files, &format!("netdev_del net{slot}")).await;
                    return Err(e);
                }
                slots[slot] = Some(vif.mac.clone());
                launch.nic_slots = slots;
            }
            launch.vifs.push(vif.clone());
            Self::write_launch(&files, &launch)
        })
    }

    /// A running guest is asked to release the NIC (PCIe hot-unplug) and
    /// must within 20 seconds; a stopped one boots without it.
    fn detach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            let mut launch = Self::read_launch(&files)?;
            if let (Some(slot), Some(_)) = (launch.slot_of(&vif.mac), Self::pid(&files, id)) {
                Self::hmp(&files, &format!("device_del nic{slot}")).await?;
                Self::wait_released(&files, &format!("nic{slot}"), "interface").await?;
                Self::hmp(&files, &format!("netdev_del net{slot}")).await?;
                let mut slots = launch.slots();
                slots[slot] = None;
                launch.nic_slots = slots;
            }
            launch.vifs.retain(|v| v.mac != vif.mac);
            Self::write_launch(&files, &launch)
        })
    }

    /// A running guest gets the volume on a free root port (PCIe hotplug);
    /// a stopped or suspended one at its next cold boot.
    fn attach_volume<'a>(&'a self, id: &'a str, volume: &'a AttachedVolume) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            let mut launch = Self::read_launch(&files)?;
            let v = launch_volume(volume);
            if launch.volumes.contains(&v) {
                return Ok(());
            }
            if Self::pid(&files, id).is_none() {
                launch.volumes.push(v);
                return Self::write_launch(&files, &launch);
            }
            let mut slots = launch.volume_slots.clone().unwrap_or_default();
            let slot = slots
                .iter()
                .position(Option::is_none)
                .ok_or_else(|| failed("every PCIe slot for volumes is taken; stop and start the server"))?;
            // The slot is recorded before QEMU gets the volume: a stop in
            // between leaves launch.json naming what a detach must undo.
            let before = launch.clone();
            slots[slot] = Some(v.id.clone());
            launch.volume_slots = Some(slots);
            launch.volumes.push(v.clone());
            Self::write_launch(&files, &launch)?;
            let node = format!("volnode{slot}");
            let file = json!({"driver": "file", "filename": v.path});
            let plugged = async {
                Self::qmp(&files, "blockdev-add", Some(json!({"driver": "raw", "node-name": node, "file": file})))
                    .await?;
                let device = json!({
                    "driver": "virtio-blk-pci",
                    "id": format!("vol{slot}"),
                    "drive": node,
                    "bus": format!("volslot{slot}"),
                    "serial": v.serial(),
                });
                Self::qmp(&files, "device_add", Some(device)).await.map(|_| ())
            };
            if let Err(e) = plugged.await {
                Self::unplug_volume(&files, slot).await;
                Self::write_launch(&files, &before)?;
                return Err(e);
            }
            Ok(())
        })
    }

    /// A running guest is asked to release the volume (PCIe hot-unplug) and
    /// must within 20 seconds; a stopped one boots without it.
    fn detach_volume<'a>(&'a self, id: &'a str, volume: &'a AttachedVolume) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            let mut launch = Self::read_launch(&files)?;
            if let (Some(slot), Some(_)) = (launch.volume_slot_of(&volume.volume_id), Self::pid(&files, id)) {
                // An attach cut short may have left the device or only
                // its block node: each goes if it is there.
                if Self::has_device(&files, &format!("vol{slot}")).await? {
                    Self::qmp(&files, "device_del", Some(json!({"id": format!("vol{slot}")}))).await?;
                    Self::wait_released(&files, &format!("vol{slot}"), "volume").await?;
                }
                if Self::has_node(&files, &format!("volnode{slot}")).await? {
                    Self::qmp(&files, "blockdev-del", Some(json!({"node-name": format!("volnode{slot}")}))).await?;
                }
                if let Some(slots) = launch.volume_slots.as_mut() {
                    slots[slot] = None;
                }
            }
            launch.volumes.retain(|v| v.id != volume.volume_id);
            Self::write_launch(&files, &launch)
        })
    }

    fn snapshot_format(&self) -> Option<&'static str> {
        Some("qcow2")
    }

    /// Pauses a running guest while its disk is copied, so the copy is whole.
    fn snapshot<'a>(&'a self, id: &'a str, dest: &'a Path) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            if Self::read_launch(&files)?.root_volume.is_some() {
                return Err(DriverError::NotSupported("a disk snapshot of a server booted from a volume"));
            }
            let running = Self::pid(&files, id).is_some() && Self::status(&files).await? == "running";
            if running {
                Self::qmp(&files, "stop", None).await?;
            }
            let copied = disk::flatten(&files.path("disk.qcow2"), dest).await;
            if running {
                Self::qmp(&files, "cont", None).await?;
            }
            copied.map_err(failed)
        })
    }

    fn has_serial_consoles(&self) -> bool {
        true
    }

    fn serial_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<PathBuf>> {
        Box::pin(async move {
            let files = self.existing(id)?;
            if Self::pid(&files, id).is_none() {
                return Err(failed(format!("instance {id} is not running")));
            }
            Ok(files.serial())
        })
    }

    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<String>> {
        Box::pin(async move {
            use std::io::{Read, Seek, SeekFrom};
            let files = self.existing(id)?;
            let mut f = match std::fs::File::open(files.console()) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
                Err(e) => return Err(failed(e)),
            };
            let len = f.metadata().map_err(failed)?.len();
            f.seek(SeekFrom::Start(len.saturating_sub(CONSOLE_TAIL))).map_err(failed)?;
            let mut raw = vec![];
            // Just after a rotation the newest lines start in the older file.
            if len < CONSOLE_TAIL {
                if let Ok(mut old) = std::fs::File::open(files.console_old()) {
                    let old_len = old.metadata().map_err(failed)?.len();
                    old.seek(SeekFrom::Start(old_len.saturating_sub(CONSOLE_TAIL - len))).map_err(failed)?;
                    old.read_to_end(&mut raw).map_err(failed)?;
                }
            }
            f.read_to_end(&mut raw).map_err(failed)?;
            Ok(String::from_utf8_lossy(&raw).replace('\r', ""))
        })
    }

    /// The instance's files are its whole state: when they are gone there is
    /// nothing to take back.
    fn adopt<'a>(&'a self, spec: &'a InstanceSpec, _power: PowerState) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move { self.existing(&spec.id).map(|_| ()) })
    }
}

/// Rotates the console log of every instance under `instances` that passed
/// [`CONSOLE_MAX`].
fn rotate_consoles(instances: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(instances)? {
        let files = Files { dir: entry?.path() };
        if files.console().metadata().is_ok_and(|m| m.len() > CONSOLE_MAX) {
            rotate_console(&files)?;
        }
    }
    Ok(())
}

/// Copy and truncate, as logrotate's `copytruncate`: QEMU holds the log
/// open for appending, so the file is emptied in place (its next write lands
/// at the new end) after its last [`CONSOLE_MAX`] bytes became the older file.
fn rotate_console(files: &Files) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut log = std::fs::OpenOptions::new().read(true).write(true).open(files.console())?;
    let len = log.metadata()?.len();
    log.seek(SeekFrom::Start(len.saturating_sub(CONSOLE_MAX)))?;
    let mut tail = Vec::with_capacity(CONSOLE_MAX as usize);
    Read::by_ref(&mut log).take(CONSOLE_MAX).read_to_end(&mut tail)?;
    let tmp = files.path("console.log.0.tmp");
    std::fs::File::create(&tmp)?.write_all(&tail)?;
    std::fs::rename(&tmp, files.console_old())?;
    log.set_len(0)
}

/// The interface the unit tests plug: on `private`, with a floating address
/// forwarding SSH.
#[cfg(test)]
pub(crate) fn test_vif() -> Vif {
    Vif {
        port_id: "port".into(),
        network: "private".into(),
        mac: "fa:16:3e:00:00:01".into(),
        fixed_ip: "10.0.0.10".parse().unwrap(),
        fixed_ips_v6: vec![],
        prefix: 24,
        gateway: "10.0.0.1".parse().unwrap(),
        floating_ip: Some("127.42.0.2".parse().unwrap()),
        tcp_ports: vec![22],
        security_groups: vec!["default".into()],
        preserve: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        Launch {
            id: "6f8b2d47-6a4c-4a0e-9d1e-2c1f4b9b3d10".into(),
            vcpus: 1,
            ram_mb: 128,
            disk_gb: 1,
            base: "/var/lib/base.qcow2".into(),
            vifs: vec![crate::test_vif()],
            ephemeral: false,
            swap: false,
            rescue: false,
            config_drive: true,
            nic_slots: Vec::new(),
            volumes: Vec::new(),
            volume_slots: None,
            root_volume: None,
        }
    }

    #[test]
    fn command_line_names_formats_and_forwards_only_the_floating_address() {
        let d = QemuDriver {
            qemu: "qemu".into(),
            accel: Accel::Tcg,
            instances: "/i".into(),
            cache: "/c".into(),
            metadata: Some(MetadataRelay { program: "/bin/oxistack".into(), socket: "/d/metadata.sock".into() }),
        };
        let files = Files { dir: "/i/x".into() };
        let a = d.args(&files, &launch(), None).join(" ");
        assert!(a.contains("-accel tcg"));
        assert!(a.contains("file=/i/x/disk.qcow2,if=none,id=root,format=qcow2"));
        assert!(a.contains("file=/i/x/config.iso,if=none,id=config,format=raw,readonly=on"));
        assert!(a.contains(
            "user,id=net0,net=0.0.0.0/0.0.0.0,host=10.0.0.1,dns=10.0.0.254,dhcpstart=10.0.0.10,restrict=on,\
             guestfwd=tcp:169.254.169.254:80-cmd:'/bin/oxistack' metadata-relay '/d/metadata.sock' \
             6f8b2d47-6a4c-4a0e-9d1e-2c1f4b9b3d10,hostfwd=tcp:127.42.0.2:22-10.0.0.10:22"
        ));
        assert!(a.contains("-device virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:01,id=nic0,bus=nicslot0"));
        // Spare root ports for interfaces attached later.
        assert!(a.contains("-device pcie-root-port,id=nicslot4,bus=pcie.0,chassis=5"));
        assert!(!a.contains("nicslot5"));
        assert!(a.contains("guest=6f8b2d47-6a4c-4a0e-9d1e-2c1f4b9b3d10,"));
        assert!(!a.contains("-incoming"));
        let without = d.args(&files, &Launch { config_drive: false, ..launch() }, None).join(" ");
        assert!(!without.contains("config.iso"));
        let resumed = d.args(&files, &launch(), Some(Path::new("/i/x/suspended.state"))).join(" ");
        assert!(resumed.contains("-incoming exec:cat '/i/x/suspended.state'"));
        assert!(!a.contains("volslot"), "a launch from before volumes has no volume ports");
        // Volumes are raw whatever they hold, each on a port of its own,
        // named to the guest by their id.
        let volume = LaunchVolume { id: "0123456789abcdef0123456789".into(), path: "/d/volumes/a,b".into() };
        let with = Launch {
            volume_slots: Some(Launch::fresh_volume_slots(std::slice::from_ref(&volume))),
            volumes: vec![volume],
            ..launch()
        };
        let a = d.args(&files, &with, None).join(" ");
        assert!(a.contains(
            "-blockdev driver=raw,node-name=volnode0,file.driver=file,file.filename=/d/volumes/a,,b -device \
             virtio-blk-pci,id=vol0,drive=volnode0,bus=volslot0,serial=0123456789abcdef0123"
        ));
        assert!(a.contains("-device pcie-root-port,id=volslot4,bus=pcie.0,chassis=68") && !a.contains("volslot5"));
    }

    #[test]
    fn rescue_boots_the_rescue_disk_first() {
        let d = QemuDriver {
            qemu: "qemu".into(),
            accel: Accel::Kvm,
            instances: "/i".into(),
            cache: "/c".into(),
            metadata: None,
        };
        let mut l = launch();
        l.rescue = true;
        let a = d.args(&Files { dir: "/i/x".into() }, &l, None).join(" ");
        assert!(a.contains("-accel kvm -cpu host"));
        let rescue = a.find("id=rescue").unwrap();
        assert!(rescue < a.find("id=root").unwrap());
        assert!(a.contains("virtio-blk-pci,drive=rescue,bootindex=0"));
    }

    #[test]
    fn a_server_booted_from_a_volume_has_no_disk_of_its_own() {
        let d = QemuDriver {
            qemu: "qemu".into(),
            accel: Accel::Tcg,
            instances: "/i".into(),
            cache: "/c".into(),
            metadata: None,
        };
        let root = LaunchVolume { id: "0123456789abcdef0123456789".into(), path: "/d/volumes/volume-r".into() };
        let l = Launch { root_volume: Some(root), base: PathBuf::new(), ..launch() };
        let a = d.args(&Files { dir: "/i/x".into() }, &l, None).join(" ");
        assert!(!a.contains("disk.qcow2"), "{a}");
        assert!(a.contains(
            "-blockdev driver=raw,node-name=rootvol,file.driver=file,file.filename=/d/volumes/volume-r -device \
             virtio-blk-pci,id=root,drive=rootvol,serial=0123456789abcdef0123,bootindex=0"
        ));
        assert_eq!(a.matches("bootindex=").count(), 1, "{a}");
    }

    #[test]
    fn long_paths_get_short_sockets() {
        let deep = Files {
            dir: PathBuf::from(format!("/tmp/{}/instances/6f8b2d47-6a4c-4a0e-9d1e-2c1f4b9b3d10", "d".repeat(80))),
        };
        assert!(deep.qmp().as_os_str().len() < 100);
        assert!(deep.serial().as_os_str().len() < 100);
        assert_ne!(deep.qmp(), deep.serial());
        assert_eq!(Files { dir: "/x/i".into() }.qmp(), PathBuf::from("/x/i/qmp.sock"));
    }
}

#[cfg(test)]
mod console_tests {
    use super::*;

    #[test]
    fn a_console_log_past_its_bound_keeps_its_tail_and_starts_again() {
        let dir = std::env::temp_dir().join(format!("oxistack-console-{}", std::process::id()));
        let inst = dir.join("0000");
        std::fs::create_dir_all(&inst).unwrap();
        let files = Files { dir: inst.clone() };
        let mut data = vec![b'a'; CONSOLE_MAX as usize];
        data.extend(vec![b'b'; 1000]);
        std::fs::write(files.console(), &data).unwrap();
        rotate_consoles(&dir).unwrap();
        let old = std::fs::read(files.console_old()).unwrap();
        assert_eq!(old.len() as u64, CONSOLE_MAX);
        assert!(old.ends_with(&[b'b'; 1000]));
        assert_eq!(std::fs::metadata(files.console()).unwrap().len(), 0);
        // Under the bound, nothing moves.
        std::fs::write(files.console(), b"short").unwrap();
        rotate_consoles(&dir).unwrap();
        assert_eq!(std::fs::read(files.console()).unwrap(), b"short");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
