//! Who may do what in Object Storage, as Swift's keystoneauth and tempurl
//! middlewares decide: a project's operators own its account (readers read
//! it), reseller admins reach every account, a container's ACLs open its
//! objects (and listing) to other projects' users or, through referrer
//! entries, to anyone, an account's ACL opens the whole account to other
//! projects' users (read-only, read-write, or as its owner), and a TempURL signed with an account's or a
//! container's key opens one object for one method until it expires.

use std::net::IpAddr;

use oxistack_core::context::{Context, Scope};
use oxistack_core::error::{Error, Result};

use crate::service::RESELLER_PREFIX;
use crate::store::{self, ContainerRow, Metadata};
use crate::ObjectStorage;

/// The roles that may change an account (keystoneauth's `operator_roles`),
/// the ones that may read it (`project_reader_roles`), and the one that
/// reaches every account (`reseller_admin_role`).
const OPERATOR_ROLES: &[&str] = &["admin", "member", "swiftoperator"];
const READER_ROLES: &[&str] = &["reader"];
pub const RESELLER_ADMIN: &str = "ResellerAdmin";

/// Who sent a request.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A Keystone token's user.
    User(Box<Context>),
    /// No token: what referrer ACLs grant.
    Anonymous { referer: Option<String> },
    /// A valid TempURL: objects of `account`, for reading or writing as
    /// signed (the request itself is the one object the signature names;
    /// a large object's segments are read on its behalf).
    TempUrl { account: String, write: bool },
}

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    ReadAccount,
    WriteAccount,
    /// A container's HEAD and listing.
    ReadContainer,
    /// A container's PUT, POST and DELETE (its ACLs, its metadata).
    WriteContainer,
    ReadObject,
    WriteObject,
}

impl Op {
    fn writes(self) -> bool {
        matches!(self, Op::WriteAccount | Op::WriteContainer | Op::WriteObject)
    }
}

impl Caller {
    pub fn context(&self) -> Option<&Context> {
        match self {
            Caller::User(ctx) => Some(ctx),
            _ => None,
        }
    }

    /// Whether the caller owns `account`, and may so do `op` on anything in
    /// it: its project's operators (readers for reads), reseller admins.
    pub fn owns(&self, account: &str, op: Op) -> bool {
        let Caller::User(ctx) = self else { return false };
        if ctx.has_role(RESELLER_ADMIN) {
            return true;
        }
        let own = ctx.project_id().is_some_and(|p| account.strip_prefix(RESELLER_PREFIX) == Some(p));
        let operator = OPERATOR_ROLES.iter().any(|r| ctx.has_role(r));
        let reader = READER_ROLES.iter().any(|r| ctx.has_role(r));
        own && (operator || (reader && !op.writes()))
    }

    /// The refusal: 401 to a caller without a token (it may get one), 403
    /// to a user.
    fn denied(&self) -> Error {
        match self {
            Caller::User(_) => Error::Forbidden("Access was denied to this resource.".into()),
            _ => Error::Unauthorized("The request you have made requires authentication.".into()),
        }
    }
}

/// An account's ACL (`X-Account-Access-Control`), in the JSON form Swift's
/// v2 ACLs have: who reads the account, who reads and writes its
/// containers and objects, and who administers it as its owner would.
/// Entries are `project:user` (ids, names in the default domain, or `*`)
/// or a project alone (its id, or its name in the default domain: any of
/// its users).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountAcl {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin: Vec<String>,
    #[serde(default, rename = "read-write", skip_serializing_if = "Vec::is_empty")]
    pub read_write: Vec<String>,
    #[serde(default, rename = "read-only", skip_serializing_if = "Vec::is_empty")]
    pub read_only: Vec<String>,
}

/// What an account's ACL grants a user, least first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccountAccess {
    None,
    ReadOnly,
    ReadWrite,
    Admin,
}

impl AccountAcl {
    /// An `X-Account-Access-Control` value checked and written as stored
    /// (empty when it grants nothing).
    pub fn clean(value: &str) -> Result<String> {
        if value.trim().is_empty() {
            return Ok(String::new());
        }
        let acl: AccountAcl = serde_json::from_str(value)
            .map_err(|e| Error::BadRequest(format!("Invalid X-Account-Access-Control header value: {e}")))?;
        if let Some(bad) = acl.admin.iter().chain(&acl.read_write).chain(&acl.read_only).find(|e| e.trim().is_empty()) {
            return Err(Error::BadRequest(format!("Invalid X-Account-Access-Control entry {bad:?}")));
        }
        if acl == AccountAcl::default() {
            return Ok(String::new());
        }
        Ok(serde_json::to_string(&acl).unwrap_or_default())
    }

    /// The ACL as stored (an empty or unreadable one grants nothing).
    pub fn parse(stored: &str) -> AccountAcl {
        serde_json::from_str(stored).unwrap_or_default()
    }

    /// The most this ACL grants `ctx`.
    pub fn access(&self, ctx: &Context) -> AccountAccess {
        let Some(who) = Names::of(ctx) else { return AccountAccess::None };
        let listed = |entries: &[String]| {
            entries.iter().any(|entry| match entry.split_once(':') {
                Some((p, u)) => who.is(p, u),
                None => entry != "*" && who.projects.contains(&entry.as_str()),
            })
        };
        if listed(&self.admin) {
            AccountAccess::Admin
        } else if listed(&self.read_write) {
            AccountAccess::ReadWrite
        } else if listed(&self.read_only) {
            AccountAccess::ReadOnly
        } else {
            AccountAccess::None
        }
    }
}

impl AccountAccess {
    /// Whether this access lets `op` through: reads for read-only (the
    /// account's listing too), container and object writes for read-write,
    /// everything for admin.
    fn allows(self, op: Op) -> bool {
        match self {
            AccountAccess::None => false,
            AccountAccess::ReadOnly => !op.writes(),
            AccountAccess::ReadWrite => op != Op::WriteAccount,
            AccountAccess::Admin => true,
        }
    }
}

/// The referrer and identity entries of a container ACL.
#[derive(Debug, Default, PartialEq, Eq)]
struct Acl<'a> {
    referrers: Vec<&'a str>,
    listings: bool,
    /// `project:user` entries (ids, names in the default domain, or `*`),
    /// and role names.
    identities: Vec<&'a str>,
}

fn parse_acl(acl: &str) -> Acl<'_> {
    let mut out = Acl::default();
    for entry in acl.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == ".rlistings" {
            out.listings = true;
        } else if let Some(r) = entry.strip_prefix(".r:") {
            out.referrers.push(r);
        } else {
            out.identities.push(entry);
        }
    }
    out
}

/// An ACL as given in `X-Container-Read`/`-Write`, checked and written as
/// Swift stores it (`.ref:`, `.referer:`, `.referrer:` are `.r:`).
pub fn clean_acl(name: &str, value: &str) -> Result<String> {
    let invalid = |why: &str| Error::BadRequest(format!("Invalid {name} header: {why}"));
    let mut out = vec![];
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if let Some((kind, rest)) = entry.split_once(':').filter(|(k, _)| k.starts_with('.')) {
            if !matches!(kind, ".r" | ".ref" | ".referer" | ".referrer") {
                return Err(invalid(&format!("Unknown designator {kind:?}")));
            }
            let rest = rest.trim();
            if rest.is_empty() || rest == "-" {
                return Err(invalid(&format!("No host/domain value after referrer designation in {entry:?}")));
            }
            out.push(format!(".r:{rest}"));
        } else if entry == ".rlistings" {
            out.push(entry.to_owned());
        } else if entry.starts_with('.') {
            return Err(invalid(&format!("Unknown designator {entry:?}")));
        } else {
            out.push(entry.to_owned());
        }
    }
    if out.iter().any(|e| e.starts_with(".r") || e == ".rlistings") && name.eq_ignore_ascii_case("x-container-write") {
        return Err(invalid("Referrers not allowed in write ACL"));
    }
    Ok(out.join(","))
}

/// Whether a `Referer` is one the referrer entries let in, as Swift's
/// `referrer_allowed`: entries apply in order, `-` ones deny, `*` is any,
/// `.example.com` a domain and its hosts.
fn referrer_allowed(referer: Option<&str>, referrers: &[&str]) -> bool {
    let host = referer.and_then(|r| r.split_once("//")).map(|(_, rest)| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        host.split(':').next().unwrap_or_default().to_ascii_lowercase()
    });
    let mut allowed = false;
    for r in referrers {
        let (deny, pattern) = match r.strip_prefix('-') {
            Some(p) => (true, p),
            None => (false, *r),
        };
        let matches = pattern == "*"
            || host.as_deref().is_some_and(|h| {
                let p = pattern.to_ascii_lowercase();
                if p.starts_with('.') {
                    h.ends_with(&p) || h == &p[1..]
                } else {
                    h == p
                }
            });
        if matches {
            allowed = !deny;
        }
    }
    allowed
}

/// Whether a user is among an ACL's identities: `project:user` by ids,
/// by names when both are in the default domain (keystoneauth's rule for
/// names), or with `*`; a role name counts for users of the container's own
/// project only.
fn identity_allowed(ctx: &Context, account: &str, identities: &[&str]) -> bool {
    let Some(who) = Names::of(ctx) else { return false };
    let own_project = account.strip_prefix(RESELLER_PREFIX) == Some(who.projects[0]);
    identities.iter().any(|entry| match entry.split_once(':') {
        Some((p, u)) => who.is(p, u),
        None => own_project && ctx.has_role(entry),
    })
}

/// What an ACL entry may call a project-scoped user: its project and its
/// user by ids, by names too when both are in the default domain
/// (keystoneauth's rule for names), and `*`. The project's id comes first.
struct Names<'a> {
    projects: Vec<&'a str>,
    users: Vec<&'a str>,
}

impl<'a> Names<'a> {
    fn of(ctx: &'a Context) -> Option<Names<'a>> {
        let Scope::Project { id, name, domain_id, .. } = &ctx.scope else { return None };
        let names = domain_id == "default" && ctx.user_domain_id == "default";
        Some(if names {
            Names { projects: vec![id, name, "*"], users: vec![&ctx.user_id, &ctx.user_name, "*"] }
        } else {
            Names { projects: vec![id, "*"], users: vec![&ctx.user_id, "*"] }
        })
    }

    /// Whether `project:user` names this user.
    fn is(&self, project: &str, user: &str) -> bool {
        self.projects.contains(&project) && self.users.contains(&user)
    }
}

/// Whether a container's ACLs let the caller do `op`: the read ACL opens
/// its listing and objects' reads, the write ACL its objects' writes.
fn acl_allows(caller: &Caller, account: &str, container: &ContainerRow, op: Op) -> bool {
    let acl = match op {
        Op::ReadContainer | Op::ReadObject => parse_acl(&container.read_acl),
        Op::WriteObject => parse_acl(&container.write_acl),
        _ => return false,
    };
    let (ctx, referer) = match caller {
        Caller::User(ctx) => (Some(&**ctx), None),
        Caller::Anonymous { referer } => (None, referer.as_deref()),
        Caller::TempUrl { .. } => return false,
    };
    if !op.writes() && (op == Op::ReadObject || acl.listings) && referrer_allowed(referer, &acl.referrers) {
        return true;
    }
    ctx.is_some_and(|ctx| identity_allowed(ctx, account, &acl.identities))
}

impl ObjectStorage {
    /// Whether `caller` may do `op` on `account` (in `container`, for
    /// container and object operations); 401 or 403 when not.
    pub async fn authorize(&self, caller: &Caller, account: &str, container: Option<&str>, op: Op) -> Result<()> {
        if caller.owns(account, op) {
            return Ok(());
        }
        if let Caller::TempUrl { account: granted, write } = caller {
            let allowed = match op {
                Op::ReadObject => true,
                Op::WriteObject => *write,
                _ => false,
            };
            return if granted == account && allowed { Ok(()) } else { Err(caller.denied()) };
        }
        if self.account_access(caller, account).await?.allows(op) {
            return Ok(());
        }
        if let Some(name) = container.filter(|_| matches!(op, Op::ReadContainer | Op::ReadObject | Op::WriteObject)) {
            if let Some(row) = store::container(&self.pool, account, name).await? {
                if acl_allows(caller, account, &row, op) {
                    return Ok(());
                }
            }
        }
        Err(caller.denied())
    }

    /// What the account's ACL grants the caller (nothing to a caller
    /// without a token).
    pub async fn account_access(&self, caller: &Caller, account: &str) -> Result<AccountAccess> {
        let Caller::User(ctx) = caller else { return Ok(AccountAccess::None) };
        let Some(row) = store::account(&self.pool, account).await? else { return Ok(AccountAccess::None) };
        if row.access_control.is_empty() {
            return Ok(AccountAccess::None);
        }
        Ok(AccountAcl::parse(&row.access_control).access(ctx))
    }

    /// Whether the caller is the account's owner, as Swift's `swift_owner`:
    /// its operators, reseller admins, and those its ACL makes admins. Only
    /// owners see and change ACLs and TempURL keys.
    pub async fn is_owner(&self, caller: &Caller, account: &str) -> Result<bool> {
        Ok(caller.owns(account, Op::WriteAccount)
            || self.account_access(caller, account).await? == AccountAccess::Admin)
    }

    /// The caller a TempURL stands for, once its signature is checked
    /// against the account's and the container's keys; 401 when it is not
    /// valid (wrong key, expired, another path or method, another address).
    pub async fn temp_url_caller(&self, url: &TempUrl<'_>, now_secs: i64) -> Result<Caller> {
        let invalid = || Error::Unauthorized("Temp URL invalid".into());
        let expires = parse_expires(url.expires).ok_or_else(invalid)?;
        if expires < now_secs || url.object.is_empty() {
            return Err(invalid());
        }
        let signed_methods: &[&str] = match url.method {
            "GET" => &["GET"],
            "HEAD" => &["HEAD", "GET", "PUT"],
            "PUT" => &["PUT"],
            "POST" => &["POST"],
            "DELETE" => &["DELETE"],
            _ => return Err(invalid()),
        };
        if url.prefix.is_some_and(|p| !url.object.starts_with(p)) {
            return Err(invalid());
        }
        if let Some(range) = url.ip_range {
            if !url.client.is_some_and(|ip| ip_in_range(ip, range)) {
                return Err(invalid());
            }
        }
        let paths = match url.prefix {
            Some(p) => vec![format!("prefix:/v1/{}/{}/{p}", url.account, url.container)],
            None => {
                let path = format!("/v1/{}/{}/{}", url.account, url.container, url.object);
                vec![format!("/object{path}"), path]
            }
        };
        let ip_line = url.ip_range.map(|r| format!("ip={r}\n")).unwrap_or_default();
        let ip_line = ip_line.as_str();
        let bodies: Vec<String> = signed_methods
            .iter()
            .flat_map(|method| paths.iter().map(move |path| format!("{ip_line}{method}\n{expires}\n{path}")))
            .collect();
        if self.signed_with_a_key(url.account, url.container, url.sig, &bodies).await? {
            let write = !matches!(url.method, "GET" | "HEAD");
            return Ok(Caller::TempUrl { account: url.account.to_owned(), write });
        }
        Err(invalid())
    }

    /// Whether `sig` is the HMAC of one of `bodies` under one of the
    /// account's or the container's TempURL keys.
    async fn signed_with_a_key(&self, account: &str, container: &str, sig: &str, bodies: &[String]) -> Result<bool> {
        let Some((algorithm, sig)) = parse_signature(sig) else { return Ok(false) };
        let account_meta = store::account(&self.pool, account).await?.map(|a| a.metadata.0).unwrap_or_default();
        let container_meta =
            store::container(&self.pool, account, container).await?.map(|c| c.metadata.0).unwrap_or_default();
        for key in temp_url_keys(&account_meta).chain(temp_url_keys(&container_meta)) {
            let key = ring::hmac::Key::new(algorithm, key.as_bytes());
            if bodies.iter().any(|b| ring::hmac::verify(&key, b.as_bytes(), &sig).is_ok()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The caller a FormPost form stands for, once its signature (over the
    /// path, `redirect`, `max_file_size`, `max_file_count` and `expires`)
    /// is checked against the keys: one that writes objects of the account.
    pub async fn form_post_caller(&self, form: &FormPost<'_>, now_secs: i64) -> Result<Caller> {
        let expires =
            form.expires.parse::<i64>().map_err(|_| Error::Unauthorized("FormPost: Invalid Signature".into()))?;
        if expires < now_secs {
            return Err(Error::Unauthorized("FormPost: Form Expired".into()));
        }
        let path = format!("/v1/{}/{}/{}", form.account, form.container, form.prefix);
        let bodies: Vec<String> = [format!("/object{path}"), path]
            .iter()
            .map(|p| {
                format!("{p}\n{}\n{}\n{}\n{}", form.redirect, form.max_file_size, form.max_file_count, form.expires)
            })
            .collect();
        if self.signed_with_a_key(form.account, form.container, form.signature, &bodies).await? {
            return Ok(Caller::TempUrl { account: form.account.to_owned(), write: true });
        }
        Err(Error::Unauthorized("FormPost: Invalid Signature".into()))
    }
}

/// What a FormPost form signs.
#[derive(Clone, Debug, Default)]
pub struct FormPost<'a> {
    pub account: &'a str,
    pub container: &'a str,
    pub prefix: &'a str,
    pub redirect: &'a str,
    pub max_file_size: &'a str,
    pub max_file_count: &'a str,
    pub expires: &'a str,
    pub signature: &'a str,
}

/// A TempURL request: what it names and its query.
#[derive(Clone, Debug, Default)]
pub struct TempUrl<'a> {
    pub method: &'a str,
    pub account: &'a str,
    pub container: &'a str,
    pub object: &'a str,
    pub sig: &'a str,
    pub expires: &'a str,
    pub prefix: Option<&'a str>,
    pub ip_range: Option<&'a str>,
    pub client: Option<IpAddr>,
}

fn temp_url_keys(meta: &Metadata) -> impl Iterator<Item = &String> {
    ["temp-url-key", "temp-url-key-2"].into_iter().filter_map(|k| meta.get(k)).filter(|k| !k.is_empty())
}

/// `temp_url_expires`: seconds since the epoch, or an ISO 8601 UTC time.
fn parse_expires(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<i64>() {
        return Some(secs);
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").ok().map(|t| t.and_utc().timestamp())
}

/// `temp_url_sig`: hex (its length names the digest) or `<digest>:<base64>`.
fn parse_signature(s: &str) -> Option<(ring::hmac::Algorithm, Vec<u8>)> {
    use base64::Engine;
    let algorithm = |name: &str| match name {
        "sha1" => Some(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
        "sha256" => Some(ring::hmac::HMAC_SHA256),
        "sha512" => Some(ring::hmac::HMAC_SHA512),
        _ => None,
    };
    if let Some((name, b64)) = s.split_once(':') {
        let b64 = b64.replace('-', "+").replace('_', "/");
        let b64 = b64.trim_end_matches('=');
        let sig = base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64).ok()?;
        return Some((algorithm(name)?, sig));
    }
    let name = match s.len() {
        40 => "sha1",
        64 => "sha256",
        128 => "sha512",
        _ => return None,
    };
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    Some((algorithm(name)?, bytes?))
}

/// Whether `ip` is in `range`: an address, or a CIDR block.
fn ip_in_range(ip: IpAddr, range: &str) -> bool {
    let (net, bits) = match range.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (range, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else { return false };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxistack_core::testing::caller;

    fn row(read: &str, write: &str) -> ContainerRow {
        ContainerRow {
            account: "AUTH_p1".into(),
            name: "c".into(),
            metadata: Default::default(),
            object_count: 0,
            bytes_used: 0,
            created_us: 0,
            modified_us: 0,
            read_acl: read.into(),
            write_acl: write.into(),
            versions_location: None,
            versions_mode: None,
        }
    }

    #[test]
    fn an_account_is_its_projects_and_a_reseller_admins() {
        let member = Caller::User(Box::new(caller("u", "p1", &["member", "reader"])));
        let reader = Caller::User(Box::new(caller("r", "p1", &["reader"])));
        let admin_elsewhere = Caller::User(Box::new(caller("a", "p2", &["admin", "member", "reader"])));
        let reseller = Caller::User(Box::new(caller("x", "p3", &["ResellerAdmin"])));
        assert!(member.owns("AUTH_p1", Op::WriteObject));
        assert!(reader.owns("AUTH_p1", Op::ReadContainer));
        assert!(!reader.owns("AUTH_p1", Op::WriteObject));
        assert!(!admin_elsewhere.owns("AUTH_p1", Op::ReadAccount));
        assert!(!member.owns("p1", Op::ReadAccount), "only the reseller prefix names an account");
        assert!(reseller.owns("AUTH_p1", Op::WriteAccount));
    }

    #[test]
    fn acls_open_a_container_as_keystoneauth_reads_them() {
        let other = Caller::User(Box::new(caller("u2", "p2", &["member"])));
        let anonymous = Caller::Anonymous { referer: None };
        let c = row("p2:u2", "");
        assert!(acl_allows(&other, "AUTH_p1", &c, Op::ReadObject));
        assert!(acl_allows(&other, "AUTH_p1", &c, Op::ReadContainer));
        assert!(!acl_allows(&other, "AUTH_p1", &c, Op::WriteObject));
        assert!(!acl_allows(&anonymous, "AUTH_p1", &c, Op::ReadObject));
        let c = row("p2:*", "*:u2");
        assert!(acl_allows(&other, "AUTH_p1", &c, Op::WriteObject));
        // A role name is for the container's own project.
        assert!(!acl_allows(&other, "AUTH_p1", &row("member", ""), Op::ReadObject));
        // Referrers: objects to anyone, listings with .rlistings.
        let c = row(".r:*", "");
        assert!(acl_allows(&anonymous, "AUTH_p1", &c, Op::ReadObject));
        assert!(!acl_allows(&anonymous, "AUTH_p1", &c, Op::ReadContainer));
        assert!(acl_allows(&anonymous, "AUTH_p1", &row(".r:*,.rlistings", ""), Op::ReadContainer));
        let from = |r: &str| Caller::Anonymous { referer: Some(r.into()) };
        let c = row(".r:.example.com,.r:-bad.example.com", "");
        assert!(acl_allows(&from("https://www.example.com/page"), "AUTH_p1", &c, Op::ReadObject));
        assert!(!acl_allows(&from("https://bad.example.com/"), "AUTH_p1", &c, Op::ReadObject));
        assert!(!acl_allows(&from("https://example.org/"), "AUTH_p1", &c, Op::ReadObject));
        assert!(!acl_allows(&anonymous, "AUTH_p1", &c, Op::ReadObject));
    }

    #[test]
    fn an_account_acl_grants_by_project_or_user() {
        let acl = AccountAcl::parse(
            &AccountAcl::clean(r#"{"admin":["p9"],"read-write":["p2:u2"],"read-only":["p3","p2:*"]}"#).unwrap(),
        );
        let as_user = |u: &str, p: &str| caller(u, p, &["member"]);
        assert_eq!(acl.access(&as_user("u2", "p2")), AccountAccess::ReadWrite);
        assert_eq!(acl.access(&as_user("u5", "p2")), AccountAccess::ReadOnly);
        assert_eq!(acl.access(&as_user("u3", "p3")), AccountAccess::ReadOnly);
        assert_eq!(acl.access(&as_user("u9", "p9")), AccountAccess::Admin);
        assert_eq!(acl.access(&as_user("u4", "p4")), AccountAccess::None);
        assert!(AccountAccess::ReadOnly.allows(Op::ReadObject));
        assert!(!AccountAccess::ReadOnly.allows(Op::WriteObject));
        assert!(AccountAccess::ReadWrite.allows(Op::WriteContainer));
        assert!(!AccountAccess::ReadWrite.allows(Op::WriteAccount));
        assert!(AccountAccess::Admin.allows(Op::WriteAccount));
        // A bare `*` is not "every project".
        assert_eq!(AccountAcl::parse(r#"{"read-only":["*"]}"#).access(&as_user("u", "p")), AccountAccess::None);
        assert!(AccountAcl::clean("[1]").is_err());
        assert!(AccountAcl::clean(r#"{"owner":["p"]}"#).is_err());
        assert!(AccountAcl::clean(r#"{"admin":[""]}"#).is_err());
        assert_eq!(AccountAcl::clean(r#"{"admin":[]}"#).unwrap(), "");
    }

    #[test]
    fn acls_are_cleaned_as_swift_stores_them() {
        assert_eq!(clean_acl("X-Container-Read", " .referer:*, .rlistings,p:u ").unwrap(), ".r:*,.rlistings,p:u");
        assert!(clean_acl("X-Container-Read", ".r:").is_err());
        assert!(clean_acl("X-Container-Read", ".x:y").is_err());
        assert!(clean_acl("X-Container-Write", ".r:*").is_err());
    }

    #[test]
    fn signatures_and_ranges_are_read_as_tempurl_does() {
        let (_, sig) = parse_signature(&"ab".repeat(20)).unwrap();
        assert_eq!(sig, vec![0xab; 20]);
        assert!(parse_signature("sha256:AAAA").is_some());
        assert!(parse_signature("md5:AAAA").is_none());
        assert!(parse_signature("xyz").is_none());
        assert_eq!(parse_expires("2030-01-01T00:00:00Z"), Some(1_893_456_000));
        assert!(ip_in_range("10.1.2.3".parse().unwrap(), "10.1.0.0/16"));
        assert!(!ip_in_range("10.2.2.3".parse().unwrap(), "10.1.0.0/16"));
        assert!(ip_in_range("127.0.0.1".parse().unwrap(), "127.0.0.1"));
    }
}
