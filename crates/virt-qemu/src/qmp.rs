//! A QMP client: one connection per command, so that nothing is held open
//! across a restart of the service and an instance adopted after a crash is
//! driven exactly as one started by this process.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// How long one QMP exchange may take; QEMU answers in milliseconds unless it
/// is gone or wedged.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub enum QmpError {
    /// No QEMU listens on the socket.
    Unreachable(String),
    /// QEMU refused the command.
    Refused {
        class: String,
        desc: String,
    },
    Protocol(String),
}

impl std::fmt::Display for QmpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QmpError::Unreachable(why) => write!(f, "QEMU's monitor is unreachable: {why}"),
            QmpError::Refused { class, desc } => write!(f, "QEMU refused: {class}: {desc}"),
            QmpError::Protocol(why) => write!(f, "QMP: {why}"),
        }
    }
}

/// Runs `command` with `arguments` on the monitor at `socket` and answers its
/// `return` value.
pub async fn execute(socket: &Path, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
    tokio::time::timeout(TIMEOUT, exchange(socket, command, arguments))
        .await
        .map_err(|_| QmpError::Unreachable(format!("no answer to {command} within {TIMEOUT:?}")))?
}

async fn exchange(socket: &Path, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
    let stream = UnixStream::connect(socket).await.map_err(|e| QmpError::Unreachable(e.to_string()))?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    // The greeting, then capabilities negotiation, then the command.
    next_reply(&mut lines).await?;
    send(&mut write, &json!({"execute": "qmp_capabilities"})).await?;
    next_reply(&mut lines).await?;
    let mut msg = json!({"execute": command});
    if let Some(args) = arguments {
        msg["arguments"] = args;
    }
    send(&mut write, &msg).await?;
    let reply = next_reply(&mut lines).await?;
    if let Some(err) = reply.get("error") {
        return Err(QmpError::Refused {
            class: err["class"].as_str().unwrap_or("GenericError").to_owned(),
            desc: err["desc"].as_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(reply.get("return").cloned().unwrap_or(Value::Null))
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, msg: &Value) -> Result<(), QmpError> {
    let mut line = msg.to_string();
    line.push('\n');
    write.write_all(line.as_bytes()).await.map_err(|e| QmpError::Unreachable(e.to_string()))
}

/// The next line that is not an asynchronous event.
async fn next_reply(
    lines: &mut tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
) -> Result<Value, QmpError> {
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|e| QmpError::Unreachable(e.to_string()))?
            .ok_or_else(|| QmpError::Unreachable("QEMU closed the monitor".into()))?;
        let v: Value = serde_json::from_str(&line).map_err(|e| QmpError::Protocol(format!("{e}: {line}")))?;
        if v.get("event").is_none() {
            return Ok(v);
        }
    }
}
