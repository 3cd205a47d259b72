//! `oxistack`: the whole cloud in one process. `serve` runs it; `openrc` prints
//! the credentials file of any user.

mod config;
mod rc;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "oxistack", version, about = "An OpenStack-compatible cloud in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the cloud: every API on one listener, state in the data dir.
    Serve(Box<ServeArgs>),
    /// Print an OpenStack RC file (v3) for a user and project of this cloud.
    Openrc(OpenrcArgs),
    /// Joins one guest connection to the metadata service (QEMU runs it).
    #[command(hide = true)]
    MetadataRelay { socket: std::path::PathBuf, instance: String },
}

#[derive(Clone, Copy, Debug, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDriver {
    /// Nova's fake driver: instances exist only as records.
    Fake,
    /// Real virtual machines with qemu-system-x86_64.
    Qemu,
    /// qemu when qemu-system-x86_64 is installed, else fake.
    Auto,
}

#[derive(Clone, Copy, Debug, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelChoice {
    /// Hardware virtualization.
    Kvm,
    /// Software emulation.
    Tcg,
    /// kvm when /dev/kvm works for unmodified guests, else tcg.
    Auto,
}

/// Flags of `serve`. Unset ones come from the configuration file, then defaults.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (keys named as the flags, with
    /// `_` for `-`) [default: $XDG_CONFIG_HOME/oxistack/oxistack.toml when present]
    #[arg(long, env = "OXISTACK_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database, images and instance files live [default: $XDG_DATA_HOME/oxistack]
    #[arg(long, env = "OXISTACK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The database every service keeps its state in: a postgres:// URL, which
    /// several servers may share [default: SQLite, oxistack.db in the data dir]
    #[arg(long, env = "OXISTACK_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// The name of the compute host this server runs (Nova's `host`): servers
    /// sharing a database need one each [default: oxistack]
    #[arg(long, env = "OXISTACK_HOST")]
    host: Option<String>,
    /// Address and port to listen on [default: 127.0.0.1:5000]
    #[arg(long, env = "OXISTACK_LISTEN")]
    listen: Option<SocketAddr>,
    /// The base URL the catalog advertises [default: http://<listen address>]
    #[arg(long, env = "OXISTACK_PUBLIC_URL")]
    public_url: Option<String>,
    /// The virt driver of the compute service [default: auto]
    #[arg(long, env = "OXISTACK_COMPUTE_DRIVER", value_enum)]
    compute_driver: Option<ComputeDriver>,
    /// How the qemu driver runs guests [default: auto]
    #[arg(long, env = "OXISTACK_ACCEL", value_enum)]
    accel: Option<AccelChoice>,
    /// The range floating addresses come from; in 127.0.0.0/8 they reach
    /// instances from this machine only [default: 127.42.0.0/24]
    #[arg(long, env = "OXISTACK_PUBLIC_RANGE")]
    public_range: Option<String>,
    /// A disk image (qcow2) registered at start as the public image
    /// `oxistack-test`, unless an image of that name exists
    #[arg(long, env = "OXISTACK_TEST_IMAGE")]
    test_image: Option<PathBuf>,
    /// The admin user's password; kept from admin-openrc.sh, else generated, when not given.
    #[arg(long, env = "OXISTACK_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Token lifetime in seconds [default: 3600]
    #[arg(long, env = "OXISTACK_TOKEN_TTL")]
    token_ttl: Option<i64>,
    /// Where image files are kept [default: <data dir>/images]
    #[arg(long, env = "OXISTACK_IMAGE_DIR")]
    image_dir: Option<PathBuf>,
    /// Most bytes of image data one project may store [default: no limit]
    #[arg(long, env = "OXISTACK_IMAGE_QUOTA_BYTES")]
    image_quota_bytes: Option<u64>,
    /// Virtual CPUs scheduled per host CPU [default: 4.0]
    #[arg(long, env = "OXISTACK_CPU_ALLOCATION_RATIO")]
    cpu_allocation_ratio: Option<f64>,
    /// RAM scheduled per byte of host RAM [default: 1.0]
    #[arg(long, env = "OXISTACK_RAM_ALLOCATION_RATIO")]
    ram_allocation_ratio: Option<f64>,
    /// Disk scheduled per byte of host disk [default: 1.0]
    #[arg(long, env = "OXISTACK_DISK_ALLOCATION_RATIO")]
    disk_allocation_ratio: Option<f64>,
    /// Seconds between two sweeps of expired objects (Swift's
    /// object-expirer interval) [default: 300]
    #[arg(long, env = "OXISTACK_OBJECT_EXPIRER_INTERVAL")]
    object_expirer_interval: Option<u64>,
    /// Give every instance a config drive, asked for or not; without one a
    /// guest must reach the metadata service by itself [default: true]
    #[arg(long, env = "OXISTACK_FORCE_CONFIG_DRIVE", value_name = "BOOL")]
    force_config_drive: Option<bool>,
    /// Lock a user out after this many failed password logins in a row
    /// (Keystone's lockout_failure_attempts) [default: off]
    #[arg(long, env = "OXISTACK_LOCKOUT_FAILURE_ATTEMPTS")]
    lockout_failure_attempts: Option<u32>,
    /// How long a lockout lasts, in seconds [default: until an admin enables the user]
    #[arg(long, env = "OXISTACK_LOCKOUT_DURATION")]
    lockout_duration: Option<u64>,
    /// How many of a user's latest passwords, the new one included, must
    /// differ [default: 0, off]
    #[arg(long, env = "OXISTACK_UNIQUE_LAST_PASSWORD_COUNT")]
    unique_last_password_count: Option<u32>,
    /// Days a password must be used before its user may change it [default: 0]
    #[arg(long, env = "OXISTACK_MINIMUM_PASSWORD_AGE")]
    minimum_password_age: Option<u32>,
    /// A pattern every new password must match [default: none]
    #[arg(long, env = "OXISTACK_PASSWORD_REGEX")]
    password_regex: Option<String>,
    /// What the pattern asks, as users are told
    #[arg(long, env = "OXISTACK_PASSWORD_REGEX_DESCRIPTION")]
    password_regex_description: Option<String>,
}

#[derive(clap::Args)]
pub struct OpenrcArgs {
    /// The user name.
    #[arg(long)]
    user: String,
    /// The project name.
    #[arg(long)]
    project: String,
    /// The domain of the user and project.
    #[arg(long, default_value = "Default")]
    domain: String,
    /// Put this password in the file instead of prompting for it when sourced.
    #[arg(long)]
    password: Option<String>,
    /// The data dir of the cloud [default: $XDG_DATA_HOME/oxistack]
    #[arg(long, env = "OXISTACK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The cloud's database, when it is not the data dir's SQLite file
    #[arg(long, env = "OXISTACK_DATABASE", hide_env_values = true)]
    database: Option<String>,
}

/// `$XDG_DATA_HOME/oxistack`, else `~/.local/share/oxistack`.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("oxistack");
    }
    home().join(".local/share/oxistack")
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// Makes glibc serve large allocations with mmap and return them on free. By
/// default it raises that threshold after the first large free, after which
/// each 19 MiB Argon2 work area stays resident in an arena: a few hundred
/// logins took the server from 10 MiB to 225 MiB. With the threshold fixed
/// it stays near its idle size.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_allocations_to_the_os() {
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    // SAFETY: mallopt only changes an allocator tunable; it is called before any
    // other thread exists.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_os() {}

fn main() -> anyhow::Result<()> {
    return_large_allocations_to_the_os();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OXISTACK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = || tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match cli.command {
        Command::Serve(args) => runtime()?.block_on(serve::run(config::ServeConfig::resolve(*args)?)),
        Command::Openrc(args) => runtime()?.block_on(rc::print_openrc(args)),
        // One per guest connection: plain threads, no runtime.
        Command::MetadataRelay { socket, instance } => Ok(oxistack_compute::metadata::relay(&socket, &instance)?),
    }
}
