//! Remote consoles: short-lived tokens naming an instance's console, and the
//! serial console proxy that a token opens (Nova's serialproxy): a websocket
//! joined to the instance's serial port.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use oxistack_core::context::Context;
use oxistack_core::{time, Error, Result};

use crate::Compute;

/// How long a console URL stays valid (Nova's `token_ttl`).
const TOKEN_TTL_SECS: i64 = 600;

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Compute {
    /// Where this server's serial console proxy answers.
    pub(crate) fn serial_proxy_url(&self) -> String {
        let base = self.config.url.trim_end_matches("/compute");
        let base = base.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1);
        format!("{base}/console/serial")
    }

    /// A URL that opens the serial console of a running server for ten
    /// minutes, at the proxy of the server whose host has it.
    pub async fn serial_console_url(&self, ctx: &Context, id: &str) -> Result<String> {
        let inst = self.instance(ctx, id).await?;
        if inst.vm_state != crate::states::VmState::Active || inst.power_state != crate::states::PowerState::Running {
            return Err(Error::Conflict(format!("Instance {id} is not ready.")));
        }
        let unavailable = || Error::BadRequest("Unavailable console type serial.".into());
        let proxy = if self.runs(&inst) {
            self.driver.serial_console(&inst.id).await.map_err(|_| unavailable())?;
            self.serial_proxy_url()
        } else {
            // That server's proxy asks its driver for the console when the
            // token is used.
            let host = inst.host.as_deref().unwrap_or_default();
            let node = crate::store::nodes::node(&self.pool, host).await?;
            node.map(|n| n.serial_proxy_url).filter(|u| !u.is_empty()).ok_or_else(unavailable)?
        };
        let token = uuid::Uuid::new_v4().simple().to_string();
        let now = time::now().timestamp();
        crate::store::add_console_token(&self.pool, &digest(&token), &inst.id, now, now + TOKEN_TTL_SECS).await?;
        Ok(format!("{proxy}?token={token}"))
    }

    /// The instance an unexpired token opens.
    async fn console_instance(&self, token: &str) -> Result<String> {
        crate::store::console_instance(&self.pool, &digest(token), time::now().timestamp())
            .await?
            .ok_or_else(|| Error::Unauthorized("The console token is invalid or expired.".into()))
    }
}

/// The console proxy, to be nested at `/console`: it is reached with a
/// console token, not a Keystone token.
pub fn router(compute: Arc<Compute>) -> Router {
    Router::new().route("/serial", get(serial)).with_state(compute)
}

async fn serial(
    State(c): State<Arc<Compute>>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    let instance = match c.console_instance(&token).await {
        Ok(i) => i,
        Err(e) => return (e.status(), e.to_string()).into_response(),
    };
    let socket = match c.driver.serial_console(&instance).await {
        Ok(s) => s,
        Err(e) => return (axum::http::StatusCode::CONFLICT, e.to_string()).into_response(),
    };
    ws.protocols(["binary", "base64"]).on_upgrade(move |ws| async move {
        if let Err(e) = pump(ws, &socket).await {
            tracing::info!(instance, error = %e, "serial console closed");
        }
    })
}

/// Copies bytes both ways until either side closes.
async fn pump(mut ws: WebSocket, socket: &std::path::Path) -> std::io::Result<()> {
    let stream = tokio::net::UnixStream::connect(socket).await?;
    let (mut read, mut write) = stream.into_split();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            n = read.read(&mut buf) => {
                let n = n?;
                if n == 0 || ws.send(Message::Binary(buf[..n].to_vec().into())).await.is_err() {
                    return Ok(());
                }
            }
            msg = ws.recv() => match msg {
                Some(Ok(Message::Binary(b))) => write.write_all(&b).await?,
                Some(Ok(Message::Text(t))) => write.write_all(t.as_bytes()).await?,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {}
            }
        }
    }
}
