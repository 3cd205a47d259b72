//! The settings of `oxistack serve`, from (strongest first) its flags, their
//! `OXISTACK_*` environment variables, a TOML configuration file, and defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

use oxistack_compute::host::AllocationRatios;
use oxistack_identity::compliance::SecurityCompliance;
use oxistack_network::ipam::Cidr;

use crate::{AccelChoice, ComputeDriver, ServeArgs};

/// The configuration file: every key optional, named as the long flags are
/// (with `_` for `-`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database: Option<String>,
    host: Option<String>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    compute_driver: Option<ComputeDriver>,
    accel: Option<AccelChoice>,
    public_range: Option<String>,
    test_image: Option<PathBuf>,
    admin_password: Option<String>,
    token_ttl: Option<i64>,
    image_dir: Option<PathBuf>,
    image_quota_bytes: Option<u64>,
    cpu_allocation_ratio: Option<f64>,
    ram_allocation_ratio: Option<f64>,
    disk_allocation_ratio: Option<f64>,
    force_config_drive: Option<bool>,
    object_expirer_interval: Option<u64>,
    lockout_failure_attempts: Option<u32>,
    lockout_duration: Option<u64>,
    unique_last_password_count: Option<u32>,
    minimum_password_age: Option<u32>,
    password_regex: Option<String>,
    password_regex_description: Option<String>,
}

/// What `serve` runs with, every value decided.
#[derive(Debug)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    /// A postgres:// URL, or none for the data dir's SQLite file.
    pub database: Option<String>,
    /// The compute host this server runs.
    pub host: String,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub compute_driver: ComputeDriver,
    pub accel: AccelChoice,
    pub public_range: Cidr,
    pub test_image: Option<PathBuf>,
    pub admin_password: Option<String>,
    pub token_ttl: i64,
    pub image_dir: PathBuf,
    pub image_quota_bytes: Option<u64>,
    pub allocation_ratios: AllocationRatios,
    pub force_config_drive: bool,
    /// Seconds between sweeps of expired objects.
    pub object_expirer_interval: u64,
    pub security_compliance: SecurityCompliance,
}

/// `$XDG_CONFIG_HOME/oxistack/oxistack.toml`, else `~/.config/oxistack/oxistack.toml`.
fn default_config_path() -> PathBuf {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("oxistack/oxistack.toml"),
        None => crate::home().join(".config/oxistack/oxistack.toml"),
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in the configuration file {}", path.display()))
}

impl ServeConfig {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<ServeConfig> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => {
                let path = default_config_path();
                if path.exists() {
                    read_file(&path)?
                } else {
                    FileConfig::default()
                }
            }
        };
        let token_ttl = args.token_ttl.or(file.token_ttl).unwrap_or(3600);
        if token_ttl <= 0 {
            anyhow::bail!("the token lifetime must be a positive number of seconds, not {token_ttl}");
        }
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(crate::default_data_dir);
        let host = args.host.or(file.host).unwrap_or_else(|| "oxistack".into());
        if host.is_empty() || host.len() > 255 || !host.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            anyhow::bail!("--host {host:?}: a name of letters, digits, '-', '_' and '.' is needed");
        }
        let public_range = args.public_range.or(file.public_range).unwrap_or_else(|| "127.42.0.0/24".into());
        let public_range =
            Cidr::parse(&public_range).ok().filter(|c| c.version == 4 && (8..=29).contains(&c.prefix)).ok_or_else(
                || anyhow::anyhow!("--public-range {public_range}: an IPv4 CIDR from /8 to /29 is needed"),
            )?;
        let defaults = AllocationRatios::default();
        let ratio = |flag: &str, value: Option<f64>, default: f64| match value {
            None => Ok(default),
            Some(r) if r > 0.0 && r.is_finite() => Ok(r),
            Some(r) => Err(anyhow::anyhow!("--{flag}-allocation-ratio {r}: a positive number is needed")),
        };
        let allocation_ratios = AllocationRatios {
            cpu: ratio("cpu", args.cpu_allocation_ratio.or(file.cpu_allocation_ratio), defaults.cpu)?,
            ram: ratio("ram", args.ram_allocation_ratio.or(file.ram_allocation_ratio), defaults.ram)?,
            disk: ratio("disk", args.disk_allocation_ratio.or(file.disk_allocation_ratio), defaults.disk)?,
        };
        let security_compliance = SecurityCompliance {
            lockout_failure_attempts: args.lockout_failure_attempts.or(file.lockout_failure_attempts),
            lockout_duration_secs: args.lockout_duration.or(file.lockout_duration),
            unique_last_password_count: args
                .unique_last_password_count
                .or(file.unique_last_password_count)
                .unwrap_or(0),
            minimum_password_age_days: args.minimum_password_age.or(file.minimum_password_age).unwrap_or(0),
            password_regex: args.password_regex.or(file.password_regex),
            password_regex_description: args.password_regex_description.or(file.password_regex_description),
        };
        security_compliance.check()?;
        let object_expirer_interval = args.object_expirer_interval.or(file.object_expirer_interval).unwrap_or(300);
        if object_expirer_interval == 0 {
            anyhow::bail!("the object expirer interval must be a positive number of seconds");
        }
        Ok(ServeConfig {
            security_compliance,
            allocation_ratios,
            force_config_drive: args.force_config_drive.or(file.force_config_drive).unwrap_or(true),
            object_expirer_interval,
            image_dir: args.image_dir.or(file.image_dir).unwrap_or_else(|| data_dir.join("images")),
            data_dir,
            database: args.database.or(file.database),
            host,
            listen: args.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5000))),
            public_url: args.public_url.or(file.public_url),
            compute_driver: args.compute_driver.or(file.compute_driver).unwrap_or(ComputeDriver::Auto),
            accel: args.accel.or(file.accel).unwrap_or(AccelChoice::Auto),
            public_range,
            test_image: args.test_image.or(file.test_image),
            admin_password: args.admin_password.or(file.admin_password),
            token_ttl,
            image_quota_bytes: args.image_quota_bytes.or(file.image_quota_bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<PathBuf>) -> ServeArgs {
        ServeArgs {
            config,
            data_dir: None,
            database: None,
            host: None,
            listen: Some("127.0.0.1:6000".parse().unwrap()),
            public_url: None,
            compute_driver: None,
            accel: None,
            public_range: None,
            test_image: None,
            admin_password: None,
            token_ttl: None,
            image_dir: None,
            image_quota_bytes: None,
            cpu_allocation_ratio: None,
            ram_allocation_ratio: None,
            disk_allocation_ratio: None,
            force_config_drive: None,
            object_expirer_interval: None,
            lockout_failure_attempts: None,
            lockout_duration: None,
            unique_last_password_count: None,
            minimum_password_age: None,
            password_regex: None,
            password_regex_description: None,
        }
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("oxistack-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oxistack.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:7000\"\ntoken_ttl = 60\ncompute_driver = \"fake\"\n\
             lockout_failure_attempts = 2\nlockout_duration = 5\nunique_last_password_count = 2\n\
             minimum_password_age = 0\n",
        )
        .unwrap();
        let c = ServeConfig::resolve(args(Some(path.clone()))).unwrap();
        // Tempest's security compliance settings, as the file says them.
        assert_eq!(c.security_compliance.lockout_failure_attempts, Some(2));
        assert_eq!(c.security_compliance.lockout_duration_secs, Some(5));
        assert_eq!(c.security_compliance.unique_last_password_count, 2);
        assert_eq!(c.listen.port(), 6000);
        assert_eq!(c.token_ttl, 60);
        assert!(matches!(c.compute_driver, ComputeDriver::Fake));
        std::fs::write(&path, "listne = \"x\"\n").unwrap();
        let e = ServeConfig::resolve(args(Some(path))).unwrap_err();
        assert!(format!("{e:#}").contains("unknown field `listne`"), "{e:#}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
