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

use crate::config::ServeConfig;
use crate::rc::{self, Credentials};
use crate::ComputeDriver;

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

    let pool = db::open(&dir.join("oxistack.db")).await?;
    db::migrate(&pool, "core", db::CORE_MIGRATIONS).await?;
    let identity =
        Identity::open(pool.clone(), IdentityConfig { token_ttl_secs: args.token_ttl, public_url: public_url.clone() })
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
    let driver: Arc<dyn VirtDriver> = match args.compute_driver {
        ComputeDriver::Fake => Arc::new(FakeDriver::default()),
        ComputeDriver::Auto => {
            tracing::info!("compute driver: fake (the QEMU driver is not part of this build yet)");
            Arc::new(FakeDriver::default())
        }
        ComputeDriver::Qemu => {
            bail!("the qemu compute driver is not part of this build yet; use --compute-driver fake")
        }
    };
    let compute_url = format!("{public_url}/compute");
    let compute = Compute::open(
        pool.clone(),
        driver,
        image.clone(),
        ComputeConfig {
            host: "oxistack".into(),
            availability_zone: "nova".into(),
            url: compute_url.clone(),
            state_path: dir.clone(),
        },
    )
    .await?;
    let services = vec![
        CatalogEntry { service_type: "identity".into(), name: "keystone".into(), url: identity.config.identity_url() },
        CatalogEntry { service_type: "image".into(), name: "glance".into(), url: image_url.clone() },
        CatalogEntry { service_type: "compute".into(), name: "nova".into(), url: format!("{compute_url}/v2.1") },
    ];
    identity.bootstrap(set_password.then_some(password.as_str()), &services).await?;

    let app = Router::new()
        .nest("/identity", oxistack_identity::api::router(identity.clone()))
        .nest("/image", oxistack_image::api::router(image, identity.clone(), image_url))
        .nest("/compute", oxistack_compute::api::router(compute, identity.clone()))
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
    axum::serve(listener, axum::ServiceExt::<axum::extract::Request>::into_make_service(app))
        .with_graceful_shutdown(shutdown())
        .await?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
