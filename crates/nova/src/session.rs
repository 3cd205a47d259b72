//! Authentication and requests as keystoneauth makes them for
//! python-novaclient: a token from Identity v3 (password, token or
//! application credential) or v2.0, endpoints from the token's catalog, the
//! negotiated compute microversion on every Compute request, and errors
//! turned into python-novaclient's exception names and messages.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cli::Global;

/// The newest microversion whose answers this client knows how to print:
/// python-novaclient 18's, so that both print the same tables.
pub const MAX_VERSION: (u32, u32) = (2, 96);
pub const MIN_VERSION: (u32, u32) = (2, 1);

/// An error as python-novaclient prints it: `ERROR (<class>): <message>`.
#[derive(Debug)]
pub struct Error {
    pub class: String,
    pub message: String,
    /// The HTTP status, for callers that treat 404 as "try by name".
    pub status: Option<u16>,
}

impl Error {
    pub fn command(message: impl Into<String>) -> Self {
        Error { class: "CommandError".into(), message: message.into(), status: None }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ERROR ({}): {}", self.class, self.message)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The exception class python-novaclient raises for an HTTP status.
fn class_of(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        413 => "OverLimit",
        429 => "RateLimit",
        501 => "HTTPNotImplemented",
        _ => "ClientException",
    }
}

/// A compute microversion, `2.96`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let (major, minor) = s.split_once('.')?;
        Some(Version(major.parse().ok()?, minor.parse().ok()?))
    }

    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        *self >= Version(major, minor)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

pub struct Session {
    http: reqwest::Client,
    token: String,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    catalog: Vec<Value>,
    region: Option<String>,
    interface: String,
    compute_override: Option<String>,
    pub version: Version,
    debug: bool,
    pub timings: Vec<(String, f64)>,
}

impl Session {
    /// Authenticates with what the environment and flags give, as keystoneauth
    /// would, and negotiates the compute microversion.
    pub async fn open(g: &Global) -> Result<Session> {
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(g.timeout.unwrap_or(600)));
        if let Some(path) = &g.cacert {
            let pem =
                std::fs::read(path).map_err(|e| Error::command(format!("Cannot read CA certificate {path}: {e}")))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| Error::command(format!("Invalid CA certificate {path}: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        if g.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| Error::command(e.to_string()))?;
        // OS_INTERFACE, or python-novaclient's older OS_ENDPOINT_TYPE (`publicURL`).
        let interface = g
            .interface
            .clone()
            .or_else(|| std::env::var("OS_ENDPOINT_TYPE").ok())
            .unwrap_or_else(|| "public".into())
            .trim_end_matches("URL")
            .to_string();
        let mut session = Session {
            http,
            token: String::new(),
            project_id: None,
            user_id: None,
            catalog: Vec::new(),
            region: g.region_name.clone().filter(|r| !r.is_empty()),
            interface,
            compute_override: g.endpoint_override.clone().or_else(|| g.url.clone()),
            version: Version(2, 0),
            debug: g.debug,
            timings: Vec::new(),
        };
        session.authenticate(g).await?;
        session.version = session.negotiate(g.compute_api_version.as_deref()).await?;
        Ok(session)
    }

    async fn authenticate(&mut self, g: &Global) -> Result<()> {
        if let (Some(token), Some(_)) = (&g.token, &self.compute_override) {
            if g.auth_url.is_none() {
                self.token = token.clone();
                return Ok(());
            }
        }
        let auth_url = g.auth_url.clone().ok_or_else(|| {
            Error::command("You must provide an auth url via either --os-auth-url or env[OS_AUTH_URL]")
        })?;
        let auth_url = auth_url.trim_end_matches('/').to_string();
        if auth_url.ends_with("/v2.0") {
            return self.authenticate_v2(g, &auth_url).await;
        }
        let base = if auth_url.ends_with("/v3") { auth_url } else { format!("{auth_url}/v3") };
        let auth_type = g.auth_type.as_deref().unwrap_or(if g.token.is_some() { "token" } else { "password" });
        let identity = match auth_type {
            "v3applicationcredential" | "applicationcredential" => {
                let mut cred = json!({"secret": g.application_credential_secret.clone().unwrap_or_default()});
                if let Some(id) = &g.application_credential_id {
                    cred["id"] = json!(id);
                } else {
                    cred["name"] = json!(g.application_credential_name.clone().unwrap_or_default());
                    cred["user"] = user_of(g)?;
                }
                json!({"methods": ["application_credential"], "application_credential": cred})
            }
            "token" | "v3token" => {
                let token = g.token.clone().ok_or_else(|| Error::command("You must provide a token via --os-token"))?;
                json!({"methods": ["token"], "token": {"id": token}})
            }
            _ => {
                let mut user = user_of(g)?;
                user["password"] = json!(g.password.clone().ok_or_else(|| Error::command(
                    "You must provide a password via either --os-password or env[OS_PASSWORD]"
                ))?);
                json!({"methods": ["password"], "password": {"user": user}})
            }
        };
        let mut auth = json!({"identity": identity});
        if auth_type.contains("applicationcredential") {
            // An application credential carries its own scope.
        } else if let Some(id) = g.project_id.clone().or(g.tenant_id.clone()) {
            auth["scope"] = json!({"project": {"id": id}});
        } else if let Some(name) = g.project_name.clone().or(g.tenant_name.clone()) {
            auth["scope"] = json!({"project": {"name": name, "domain": domain_of(
                &g.project_domain_id, &g.project_domain_name, g)}});
        } else if let Some(system) = &g.system_scope {
            auth["scope"] = json!({"system": {system.as_str(): true}});
        }
        let (status, headers, body) =
            self.send(Method::POST, &format!("{base}/auth/tokens"), Some(&json!({"auth": auth})), &[]).await?;
        if !status.is_success() {
            return Err(api_error(status, &headers, &body, "x-openstack-request-id"));
        }
        self.token = header(&headers, "x-subject-token").unwrap_or_default();
        let token = &body["token"];
        self.project_id = token["project"]["id"].as_str().map(str::to_string);
        self.user_id = token["user"]["id"].as_str().map(str::to_string);
        self.catalog = token["catalog"].as_array().cloned().unwrap_or_default();
        Ok(())
    }

    async fn authenticate_v2(&mut self, g: &Global, auth_url: &str) -> Result<()> {
        let mut auth = json!({"passwordCredentials": {
            "username": g.username.clone().unwrap_or_default(),
            "password": g.password.clone().unwrap_or_default(),
        }});
        if let Some(id) = g.tenant_id.clone().or(g.project_id.clone()) {
            auth["tenantId"] = json!(id);
        } else if let Some(name) = g.tenant_name.clone().or(g.project_name.clone()) {
            auth["tenantName"] = json!(name);
        }
        let (status, headers, body) =
            self.send(Method::POST, &format!("{auth_url}/tokens"), Some(&json!({"auth": auth})), &[]).await?;
        if !status.is_success() {
            return Err(api_error(status, &headers, &body, "x-openstack-request-id"));
        }
        let access = &body["access"];
        self.token = access["token"]["id"].as_str().unwrap_or_default().to_string();
        self.project_id = access["token"]["tenant"]["id"].as_str().map(str::to_string);
        self.user_id = access["user"]["id"].as_str().map(str::to_string);
        // v2.0 catalogs list URLs per interface; turn them into v3's shape.
        self.catalog = access["serviceCatalog"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|service| {
                let endpoints: Vec<Value> = service["endpoints"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|e| {
                        ["public", "internal", "admin"].into_iter().filter_map(move |i| {
                            e[format!("{i}URL")]
                                .as_str()
                                .map(|url| json!({"interface": i, "url": url, "region": e["region"]}))
                        })
                    })
                    .collect();
                json!({"type": service["type"], "endpoints": endpoints})
            })
            .collect();
        Ok(())
    }

    /// The endpoint of a service type from the catalog, for this session's
    /// interface and region.
    pub fn endpoint(&self, service_type: &str) -> Result<String> {
        if service_type == "compute" {
            if let Some(url) = &self.compute_override {
                return Ok(url.trim_end_matches('/').to_string());
            }
        }
        for service in &self.catalog {
            if service["type"] != service_type {
                continue;
            }
            for e in service["endpoints"].as_array().into_iter().flatten() {
                let region_ok = match &self.region {
                    Some(r) => e["region"] == r.as_str() || e["region_id"] == r.as_str(),
                    None => true,
                };
                if e["interface"] == self.interface.as_str() && region_ok {
                    if let Some(url) = e["url"].as_str() {
                        return Ok(url.trim_end_matches('/').to_string());
                    }
                }
            }
        }
        Err(Error {
            class: "EndpointNotFound".into(),
            message: format!("Could not find requested endpoint in Service Catalog. ({service_type})"),
            status: None,
        })
    }

    /// The newest microversion both sides speak, or the one asked for.
    async fn negotiate(&mut self, asked: Option<&str>) -> Result<Version> {
        let asked = asked.map(str::trim).filter(|a| !a.is_empty() && *a != "None");
        if let Some(a) = asked {
            if a == "2" || a == "2.0" {
                return Ok(Version(2, 0));
            }
        }
        let endpoint = self.endpoint("compute")?;
        let (status, headers, body) = self.send(Method::GET, &endpoint, None, &[]).await?;
        if !status.is_success() {
            return Err(api_error(status, &headers, &body, "x-compute-request-id"));
        }
        let server_max = body["version"]["version"].as_str().and_then(Version::parse);
        let server_min = body["version"]["min_version"].as_str().and_then(Version::parse);
        let (Some(server_min), Some(server_max)) = (server_min, server_max) else {
            return Ok(Version(2, 0));
        };
        let client_max = Version(MAX_VERSION.0, MAX_VERSION.1);
        match asked {
            None | Some("2.latest") | Some("latest") => Ok(client_max.min(server_max)),
            Some(a) => {
                let v = Version::parse(a).ok_or_else(|| {
                    Error::command(format!(
                        "Invalid client version '{a}'. Major part should be '2'. Minor part should be a number or 'latest'."
                    ))
                })?;
                if v > client_max {
                    return Err(Error {
                        class: "UnsupportedVersion".into(),
                        message: format!(
                            "The specified version isn't supported by client. The valid version range is '{}.{}' to '{client_max}'",
                            MIN_VERSION.0, MIN_VERSION.1
                        ),
                        status: None,
                    });
                }
                if v < server_min || v > server_max {
                    return Err(Error {
                        class: "UnsupportedVersion".into(),
                        message: format!(
                            "The specified version isn't supported by server. The valid version range is '{server_min}' to '{server_max}'"
                        ),
                        status: None,
                    });
                }
                Ok(v)
            }
        }
    }

    /// A Compute API request at the negotiated microversion.
    pub async fn compute(&mut self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}{}", self.endpoint("compute")?, path);
        let version = self.version.to_string();
        let extra: Vec<(&str, String)> = if self.version >= Version(2, 1) {
            vec![
                ("OpenStack-API-Version", format!("compute {version}")),
                ("X-OpenStack-Nova-API-Version", version.clone()),
            ]
        } else {
            Vec::new()
        };
        let (status, headers, body) = self.send(method, &url, body, &extra).await?;
        if !status.is_success() {
            return Err(api_error(status, &headers, &body, "x-compute-request-id"));
        }
        Ok(body)
    }

    pub async fn get(&mut self, path: &str) -> Result<Value> {
        self.compute(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: &Value) -> Result<Value> {
        self.compute(Method::POST, path, Some(body)).await
    }

    pub async fn put(&mut self, path: &str, body: &Value) -> Result<Value> {
        self.compute(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&mut self, path: &str) -> Result<Value> {
        self.compute(Method::DELETE, path, None).await
    }

    /// A request to another service of the catalog (Image, for `image-list`).
    pub async fn service_get(&mut self, service_type: &str, path: &str) -> Result<Value> {
        let url = format!("{}{}", self.endpoint(service_type)?, path);
        self.get_url(&url).await
    }

    /// `GET url`, whole, with the session's token.
    pub async fn get_url(&mut self, url: &str) -> Result<Value> {
        let (status, headers, body) = self.send(Method::GET, url, None, &[]).await?;
        if !status.is_success() {
            return Err(api_error(status, &headers, &body, "x-openstack-request-id"));
        }
        Ok(body)
    }

    async fn send(
        &mut self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        extra: &[(&str, String)],
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let started = Instant::now();
        let mut request = self.http.request(method.clone(), url).header("Accept", "application/json");
        request = request.header("User-Agent", "python-novaclient");
        if !self.token.is_empty() {
            request = request.header("X-Auth-Token", &self.token);
        }
        for (k, v) in extra {
            request = request.header(*k, v);
        }
        if let Some(b) = body {
            request = request.json(b);
        }
        if self.debug {
            self.log_request(&method, url, body, extra);
        }
        let response = request.send().await.map_err(|e| Error {
            class: "ConnectFailure".into(),
            message: format!("Unable to establish connection to {url}: {}", root_cause(&e)),
            status: None,
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| Error::command(e.to_string()))?;
        if self.debug {
            let mut line = format!("RESP: [{}]", status.as_u16());
            for (k, v) in &headers {
                if k.as_str() == "x-subject-token" {
                    line.push_str(&format!(" {k}: {}", redact(v.to_str().unwrap_or(""))));
                } else {
                    line.push_str(&format!(" {k}: {}", v.to_str().unwrap_or("")));
                }
            }
            eprintln!("DEBUG (session) {line}");
            let shown = if text.contains("\"token\"") && url.contains("/auth/tokens") {
                "Omitted: it holds the token and its catalog.".to_string()
            } else {
                text.clone()
            };
            if !shown.is_empty() {
                eprintln!("DEBUG (session) RESP BODY: {shown}");
            }
        }
        self.timings.push((format!("{method} {url}"), started.elapsed().as_secs_f64()));
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, headers, value))
    }

    fn log_request(&self, method: &Method, url: &str, body: Option<&Value>, extra: &[(&str, String)]) {
        let mut line = format!("REQ: curl -g -i -X {method} {url} -H \"Accept: application/json\"");
        for (k, v) in extra {
            line.push_str(&format!(" -H \"{k}: {v}\""));
        }
        line.push_str(" -H \"User-Agent: python-novaclient\"");
        if !self.token.is_empty() {
            line.push_str(&format!(" -H \"X-Auth-Token: {}\"", redact(&self.token)));
        }
        if let Some(b) = body {
            let mut shown = b.clone();
            hide_secrets(&mut shown);
            line.push_str(&format!(" -d '{shown}'"));
        }
        eprintln!("DEBUG (session) {line}");
    }
}

/// Tokens are logged as keystoneauth logs them: a SHA-256, never the value.
fn redact(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!("{{SHA256}}{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn hide_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if matches!(k.as_str(), "password" | "secret" | "adminPass") && v.is_string() {
                    *v = json!("***");
                } else if let (true, Some(id)) = (k == "token", v.get_mut("id")) {
                    *id = json!("***");
                } else {
                    hide_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide_secrets),
        _ => {}
    }
}

fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `novaclient.exceptions.from_response`: the message is the body's
/// `message`, or that of its single top-level key (`{"itemNotFound": {...}}`).
fn api_error(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value, id_header: &str) -> Error {
    let code = status.as_u16();
    let message = match body {
        Value::Object(map) if map.contains_key("message") => map["message"].as_str().unwrap_or("n/a").to_string(),
        Value::Object(map) => {
            map.values().next().and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("n/a").to_string()
        }
        Value::Null => "Unknown Error".to_string(),
        _ => "n/a".to_string(),
    };
    let mut text = format!("{message} (HTTP {code})");
    if let Some(id) = header(headers, id_header).or_else(|| header(headers, "x-openstack-request-id")) {
        text.push_str(&format!(" (Request-ID: {id})"));
    }
    Error { class: class_of(code).into(), message: text, status: Some(code) }
}

fn user_of(g: &Global) -> Result<Value> {
    if let Some(id) = &g.user_id {
        return Ok(json!({"id": id}));
    }
    let name = g.username.clone().ok_or_else(|| {
        Error::command(
            "You must provide a user name/id (via --os-username, --os-user-id, env[OS_USERNAME] or env[OS_USER_ID]) or an auth token (via --os-token).",
        )
    })?;
    Ok(json!({"name": name, "domain": domain_of(&g.user_domain_id, &g.user_domain_name, g)}))
}

fn domain_of(id: &Option<String>, name: &Option<String>, g: &Global) -> Value {
    match (id, name) {
        (Some(id), _) => json!({"id": id}),
        (None, Some(name)) => json!({"name": name}),
        _ => match (&g.default_domain_id, &g.default_domain_name) {
            (_, Some(name)) => json!({"name": name}),
            (Some(id), None) => json!({"id": id}),
            (None, None) => json!({"id": "default"}),
        },
    }
}
