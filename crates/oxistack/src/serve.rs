//! `oxistack serve`: opens the data dir (refusing a second server on it),
//! bootstraps the cloud on first start, and serves every API on one listener
//! with a path prefix per service.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::Router;
use tokio::net::TcpListener;
use tower::Layer;

use oxistack_compute::virt::{FakeDriver, VirtDriver};
use oxistack_compute::{Compute, ComputeConfig};
use oxistack_core::{db, middleware};
use oxistack_identity::catalog::CatalogEntry;
use oxistack_identity::{Identity, IdentityConfig, DEFAULT_REGION};
use oxistack_image::{Image, ImageConfig};
use oxistack_network::{Network, NetworkConfig};
use oxistack_volume::backend::FileBackend;
use oxistack_volume::{Volume, VolumeConfig};

use crate::config::ServeConfig;
use crate::rc::{self, Credentials};
use crate::{AccelChoice, ComputeDriver};
use oxistack_virt_qemu::{Accel, MetadataRelay, QemuDriver};

/// Holds the data dir's lock for as long as the server runs.
fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join("oxistack.lock");
    let mut f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "another oxistack server (pid {}) is already using the data dir {}; stop it or choose another --data-dir",
                pid.trim(),
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e).context("locking the data dir"),
    }
    f.set_len(0)?;
    write!(f, "{}", std::process::id())?;
    Ok(f)
}

pub async fn run(args: ServeConfig) -> anyhow::Result<()> {
    let dir = args.data_dir.clone();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))?;
    let _lock = lock_data_dir(&dir)?;

    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let bound = listener.local_addr()?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
    let public_url = public_url.trim_end_matches('/').to_owned();

    let pool = db::connect(args.database.as_deref(), &dir).await.context("opening the database")?;
    db::migrate(&pool, "core", &db::CORE_MIGRATIONS).await?;
    let identity = Identity::open(
        pool.clone(),
        IdentityConfig {
            token_ttl_secs: args.token_ttl,
            public_url: public_url.clone(),
            security_compliance: args.security_compliance.clone(),
        },
    )
    .await?;

    // The admin password: given, else the one of the RC file we wrote before,
    // else a new one.
    let openrc_path = dir.join("admin-openrc.sh");
    let previous = std::fs::read_to_string(&openrc_path).ok().and_then(|rc| rc::password_in(&rc));
    let (password, set_password) = match (&args.admin_password, previous) {
        (Some(p), _) => (p.clone(), true),
        (None, Some(p)) => (p, false),
        (None, None) => {
            let p = uuid::Uuid::new_v4().simple().to_string();
            tracing::info!("generated a password for the admin user (see admin-openrc.sh)");
            (p, true)
        }
    };
    let image = Image::open(
        pool.clone(),
        ImageConfig { store_dir: args.image_dir.clone(), quota_bytes: args.image_quota_bytes },
    )
    .await?;
    let image_url = format!("{public_url}/image");
    let network_url = format!("{public_url}/network");
    let network = Network::open(
        pool.clone(),
        NetworkConfig { public_cidr: args.public_range.to_string(), private_cidr: "10.0.0.0/24".into() },
    )
    .await?;
    let volume_url = format!("{public_url}/volume");
    let volume = Volume::open(
        pool.clone(),
        VolumeConfig { host: args.host.clone(), availability_zone: "nova".into(), url: volume_url.clone() },
        Arc::new(FileBackend::open(&dir.join("volumes")).context("opening the volume store")?),
        image.clone(),
    )
    .await?;
    let object_storage = oxistack_object::ObjectStorage::open(
        pool.clone(),
        Arc::new(
            oxistack_object::backend::FileBackend::open(&dir.join("objects")).context("opening the object store")?,
        ),
        oxistack_object::ObjectConfig::default(),
    )
    .await?;
    object_storage.clone().spawn_expirer(std::time::Duration::from_secs(args.object_expirer_interval));
    let driver = compute_driver(&args)?;
    let compute_url = format!("{public_url}/compute");
    let compute = Compute::open(
        pool.clone(),
        driver,
        image.clone(),
        network.clone(),
        volume.clone(),
        ComputeConfig {
            host: args.host.clone(),
            availability_zone: "nova".into(),
            url: compute_url.clone(),
            state_path: dir.clone(),
            allocation_ratios: args.allocation_ratios,
            force_config_drive: args.force_config_drive,
        },
    )
    .await?;
    compute.spawn_power_sync(Duration::from_secs(10));
    // Nova's `report_interval`.
    compute.spawn_heartbeat(Duration::from_secs(10));
    // Operations other servers on the database accepted for this host; a
    // SQLite file has no other server (the data dir's lock sees to that).
    if pool.engine() == db::Engine::Postgres {
        compute.spawn_worker(Duration::from_millis(250));
    }
    let metadata = oxistack_compute::metadata::RelayListener::bind(&metadata_socket(&dir))
        .context("binding the metadata service's socket")?;
    let metadata_compute = compute.clone();
    tokio::spawn(async move {
        if let Err(e) = oxistack_compute::metadata::serve_relayed(metadata_compute, metadata).await {
            tracing::error!(error = %e, "the metadata service stopped");
        }
    });
    let services = vec![
        CatalogEntry { service_type: "identity".into(), name: "keystone".into(), url: identity.config.identity_url() },
        CatalogEntry { service_type: "image".into(), name: "glance".into(), url: image_url.clone() },
        CatalogEntry { service_type: "compute".into(), name: "nova".into(), url: format!("{compute_url}/v2.1") },
        CatalogEntry { service_type: "network".into(), name: "neutron".into(), url: network_url.clone() },
        // Block Storage under both of the types clients look for.
        CatalogEntry { service_type: "block-storage".into(), name: "cinder".into(), url: format!("{volume_url}/v3") },
        CatalogEntry { service_type: "volumev3".into(), name: "cinderv3".into(), url: format!("{volume_url}/v3") },
        // Each project's account, as Swift's Keystone middleware names it.
        CatalogEntry {
            service_type: "object-store".into(),
            name: "swift".into(),
            url: format!("{public_url}/object/v1/AUTH_%(project_id)s"),
        },
    ];
    identity.bootstrap(set_password.then_some(password.as_str()), &services).await?;

    let app = Router::new()
        .nest("/identity", oxistack_identity::api::router(identity.clone()))
        .nest("/image", oxistack_image::api::router(image.clone(), identity.clone(), image_url))
        .nest("/compute", oxistack_compute::api::router(compute.clone(), identity.clone()))
        .nest("/console", oxistack_compute::consoles::router(compute))
        .nest("/network", oxistack_network::api::router(network.clone(), identity.clone(), network_url))
        .nest("/volume", oxistack_volume::api::router(volume, identity.clone()))
        .nest("/object", oxistack_object::api::router(object_storage.clone(), identity.clone()))
        .nest("/s3", oxistack_object::s3::router(object_storage, identity.clone()))
        .merge(oxistack_identity::api::tempauth_router(identity.clone()))
        // python-swiftclient asks for the cluster's capabilities at the root.
        .route("/info", axum::routing::get(oxistack_object::api::info))
        .layer(axum::middleware::from_fn(middleware::request_id));

    let admin_project = oxistack_identity::store::find_project_by_name(&pool, "default", "admin")
        .await?
        .context("bootstrap left no admin project")?;
    let auth_url = format!("{}/v3", identity.config.identity_url());
    let creds = Credentials {
        auth_url: &auth_url,
        username: "admin",
        password: Some(&password),
        project_id: &admin_project.id,
        project_name: "admin",
        user_domain_name: "Default",
        project_domain_id: "default",
        region: DEFAULT_REGION,
    };
    network.bootstrap(&admin_project.id).await.map_err(|e| anyhow::anyhow!("{}: {}", e.kind, e.message))?;
    if let Some(path) = &args.test_image {
        register_test_image(&image, &identity, &admin_project.id, path).await?;
    }
    rc::write_private(&openrc_path, &rc::openrc(&creds))?;
    rc::write_private(&dir.join("clouds.yaml"), &rc::clouds_yaml(&creds))?;

    let pruner = identity.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = pruner.prune().await {
                tracing::warn!(error = %e, "pruning revocation events failed");
            }
        }
    });

    tracing::info!(
        listen = %bound,
        public_url,
        data_dir = %dir.display(),
        openrc = %openrc_path.display(),
        clouds_yaml = %dir.join("clouds.yaml").display(),
        "oxistack is serving; `source {}` to use it",
        openrc_path.display()
    );
    let app = axum::middleware::from_fn(middleware::trim_trailing_slash).layer(app);
    // The peer's address is known to handlers (TempURLs bound to an
    // address range check it).
    let app =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<std::net::SocketAddr>(app);
    // Answers go out as they are written: a response streamed after its
    // headers (an object's data) would otherwise wait on the client's
    // delayed ACK (Nagle's algorithm) for tens of milliseconds.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The virt driver `--compute-driver` asks for; `auto` takes QEMU when it is
/// installed.
fn compute_driver(args: &ServeConfig) -> anyhow::Result<Arc<dyn VirtDriver>> {
    let qemu = oxistack_virt_qemu::find_qemu();
    let qemu = match (args.compute_driver, qemu) {
        (ComputeDriver::Fake, _) => {
            tracing::info!("compute driver: fake");
            return Ok(Arc::new(FakeDriver::default()));
        }
        (ComputeDriver::Auto, None) => {
            tracing::info!("compute driver: fake (qemu-system-x86_64 is not installed)");
            return Ok(Arc::new(FakeDriver::default()));
        }
        (ComputeDriver::Qemu, None) => {
            bail!("--compute-driver qemu needs qemu-system-x86_64 (Debian: apt-get install qemu-system-x86)")
        }
        (_, Some(qemu)) => qemu,
    };
    let requested = match args.accel {
        AccelChoice::Kvm => Some(Accel::Kvm),
        AccelChoice::Tcg => Some(Accel::Tcg),
        AccelChoice::Auto => None,
    };
    let (accel, why) = oxistack_virt_qemu::choose_accel(requested);
    tracing::info!(qemu = %qemu.display(), ?accel, "compute driver: qemu; accelerator {accel:?}: {why}");
    let relay = MetadataRelay { program: std::env::current_exe()?, socket: metadata_socket(&args.data_dir) };
    let driver = Arc::new(QemuDriver::new(qemu, accel, &args.data_dir)?.with_metadata(relay));
    driver.spawn_console_rotation(Duration::from_secs(1));
    Ok(driver)
}

/// Registers the disk at `path` as the public image `oxistack-test` of the
/// admin project, as DevStack registers CirrOS, unless an image of that name
/// exists.
async fn register_test_image(
    image: &Image,
    identity: &Identity,
    admin_project: &str,
    path: &Path,
) -> anyhow::Result<()> {
    const NAME: &str = "oxistack-test";
    let admin = oxistack_identity::store::find_user_by_name(&identity.pool, "default", "admin")
        .await?
        .context("bootstrap left no admin user")?;
    let ctx = oxistack_core::context::Context {
        user_id: admin.id,
        user_name: "admin".into(),
        user_domain_id: "default".into(),
        scope: oxistack_core::context::Scope::Project {
            id: admin_project.into(),
            name: "admin".into(),
            domain_id: "default".into(),
            domain_name: "Default".into(),
        },
        roles: vec!["admin".into(), "member".into(), "reader".into()],
        audit_ids: vec![],
        request_id: "req-bootstrap".into(),
        restricted: false,
    };
    let query = oxistack_image::service::ListQuery { params: vec![("name".into(), NAME.into())] };
    let (existing, _) = image.list(&ctx, &query).await?;
    if existing.iter().any(|i| i.status == "active") {
        return Ok(());
    }
    let file =
        tokio::fs::File::open(path).await.with_context(|| format!("opening the test image {}", path.display()))?;
    let body = serde_json::json!({"name": NAME, "disk_format": "qcow2", "container_format": "bare",
        "visibility": "public", "min_ram": 128, "min_disk": 1});
    let body = body.as_object().cloned().unwrap_or_default();
    let created = image.create(&ctx, &body).await?;
    let data = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    image.upload(&ctx, &created.id, data).await?;
    tracing::info!(image = %created.id, path = %path.display(), "registered the test image {NAME}");
    Ok(())
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Where the metadata service listens for the relays QEMU starts.
fn metadata_socket(data_dir: &Path) -> std::path::PathBuf {
    oxistack_virt_qemu::socket_path(data_dir, "metadata.sock")
}
