//! A minimal HTTP/1.1 server for `/metrics`, `/healthz` and `/readyz`: GET only, one
//! response per connection. Enough for Prometheus scrapes and Kubernetes probes without
//! pulling an HTTP framework into the binary.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::infra::metrics::Metrics;

/// What the endpoints report.
pub struct Health {
    pub metrics: Arc<Metrics>,
    /// Connected to the broker with the topology declared.
    pub ready: AtomicBool,
}

impl Health {
    pub fn new(metrics: Arc<Metrics>) -> Arc<Health> {
        Arc::new(Health {
            metrics,
            ready: AtomicBool::new(false),
        })
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
        self.metrics.broker_up.set(ready as i64);
    }
}

/// Binds `addr` and serves until the task is dropped.
pub async fn serve(addr: SocketAddr, health: Arc<Health>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(component = "http", addr = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    loop {
        let (mut sock, _) = listener.accept().await?;
        let health = health.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            // Read until the end of the request head (or give up quietly).
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    let k = sock.read(&mut buf[n..]).await?;
                    if k == 0 {
                        break;
                    }
                    n += k;
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") || n == buf.len() {
                        break;
                    }
                }
                std::io::Result::Ok(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let mut parts = head.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let path = path.split('?').next().unwrap_or("");
            let (status, ctype, body) = match (method, path) {
                ("GET", "/metrics") => (
                    "200 OK",
                    "text/plain; version=0.0.4; charset=utf-8",
                    health.metrics.render(),
                ),
                ("GET", "/healthz") => ("200 OK", "text/plain", "ok\n".to_string()),
                ("GET", "/readyz") if health.ready.load(Ordering::Relaxed) => {
                    ("200 OK", "text/plain", "ready\n".to_string())
                }
                ("GET", "/readyz") => (
                    "503 Service Unavailable",
                    "text/plain",
                    "broker not connected\n".to_string(),
                ),
                ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
                _ => (
                    "405 Method Not Allowed",
                    "text/plain",
                    "GET only\n".to_string(),
                ),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}
