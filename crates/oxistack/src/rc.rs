//! Credentials files: the admin's `admin-openrc.sh` and `clouds.yaml`, written in
//! the data dir at start, and `oxistack openrc` for any user.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context as _};

use oxistack_core::db;
use oxistack_identity::store;

use crate::OpenrcArgs;

/// What an RC file names.
pub struct Credentials<'a> {
    pub auth_url: &'a str,
    pub username: &'a str,
    pub password: Option<&'a str>,
    pub project_id: &'a str,
    pub project_name: &'a str,
    pub user_domain_name: &'a str,
    pub project_domain_id: &'a str,
    pub region: &'a str,
}

/// Single-quotes a value for a POSIX shell.
fn sh(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// Horizon's "OpenStack RC file v3", with the password inline or prompted for.
pub fn openrc(c: &Credentials) -> String {
    let password = match c.password {
        Some(p) => format!("export OS_PASSWORD={}\n", sh(p)),
        None => "echo \"Please enter your OpenStack Password for project $OS_PROJECT_NAME as user $OS_USERNAME: \"\n\
                 read -sr OS_PASSWORD_INPUT\nexport OS_PASSWORD=$OS_PASSWORD_INPUT\n"
            .to_string(),
    };
    format!(
        "#!/usr/bin/env bash\n\
         export OS_AUTH_URL={}\n\
         export OS_PROJECT_ID={}\n\
         export OS_PROJECT_NAME={}\n\
         export OS_USER_DOMAIN_NAME={}\n\
         export OS_PROJECT_DOMAIN_ID={}\n\
         unset OS_TENANT_ID\n\
         unset OS_TENANT_NAME\n\
         export OS_USERNAME={}\n\
         {password}\
         export OS_REGION_NAME={}\n\
         export OS_INTERFACE=public\n\
         export OS_IDENTITY_API_VERSION=3\n",
        sh(c.auth_url),
        sh(c.project_id),
        sh(c.project_name),
        sh(c.user_domain_name),
        sh(c.project_domain_id),
        sh(c.username),
        sh(c.region),
    )
}

/// A YAML double-quoted scalar.
fn yq(v: &str) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

pub fn clouds_yaml(c: &Credentials) -> String {
    format!(
        "clouds:\n  oxistack:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      \
         project_name: {}\n      user_domain_name: {}\n      project_domain_id: {}\n    region_name: {}\n    \
         interface: public\n    identity_api_version: 3\n",
        yq(c.auth_url),
        yq(c.username),
        yq(c.password.unwrap_or("")),
        yq(c.project_name),
        yq(c.user_domain_name),
        yq(c.project_domain_id),
        yq(c.region),
    )
}

/// Writes `contents` to `path` with mode 0600, atomically (a reader never sees
/// half a file).
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    // A left-over temporary file keeps its mode through `open`.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The `OS_PASSWORD` of an RC file we wrote earlier.
pub fn password_in(openrc: &str) -> Option<String> {
    let line = openrc.lines().find_map(|l| l.strip_prefix("export OS_PASSWORD="))?;
    let inner = line.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace(r"'\''", "'"))
}

pub async fn print_openrc(args: OpenrcArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.unwrap_or_else(crate::default_data_dir);
    if args.database.is_none() && !dir.join("oxistack.db").exists() {
        bail!("no cloud in {}: start `oxistack serve --data-dir {}` first", dir.display(), dir.display());
    }
    let pool = db::connect(args.database.as_deref(), &dir).await?;
    let domain = store::find_domain_by_name(&pool, &args.domain)
        .await?
        .with_context(|| format!("no domain named {:?}", args.domain))?;
    store::find_user_by_name(&pool, &domain.id, &args.user)
        .await?
        .with_context(|| format!("no user named {:?} in domain {:?}", args.user, args.domain))?;
    let project = store::find_project_by_name(&pool, &domain.id, &args.project)
        .await?
        .with_context(|| format!("no project named {:?} in domain {:?}", args.project, args.domain))?;
    let public = db::get_setting(&pool, "identity.catalog_public_url").await?.context("the cloud was never started")?;
    let auth_url = format!("{public}/identity/v3");
    print!(
        "{}",
        openrc(&Credentials {
            auth_url: &auth_url,
            username: &args.user,
            password: args.password.as_deref(),
            project_id: &project.id,
            project_name: &project.name,
            user_domain_name: &domain.name,
            project_domain_id: &domain.id,
            region: oxistack_identity::DEFAULT_REGION,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openrc_quotes_and_reads_back_the_password() {
        let c = Credentials {
            auth_url: "http://127.0.0.1:5000/identity/v3",
            username: "admin",
            password: Some("it's $secret"),
            project_id: "p",
            project_name: "admin",
            user_domain_name: "Default",
            project_domain_id: "default",
            region: "RegionOne",
        };
        let rc = openrc(&c);
        assert!(rc.contains("export OS_AUTH_URL='http://127.0.0.1:5000/identity/v3'\n"));
        assert!(rc.contains("export OS_IDENTITY_API_VERSION=3\n"));
        assert_eq!(password_in(&rc).as_deref(), Some("it's $secret"));
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{rc}\nprintf %s \"$OS_PASSWORD\""))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $secret");
        assert!(clouds_yaml(&c).contains("password: \"it's $secret\"\n"));
    }
}
