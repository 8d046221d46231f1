//! `tilecast serve`: the output tree (a directory or a bucket prefix) over HTTP, read-only,
//! with the built-in viewer at `/`.
//!
//! HTTP/1.1 on hyper. Tiles, images and run metadata are served as stored, with strong
//! `ETag`s (304 on `If-None-Match`), `Cache-Control` (immutable under a run id, a few seconds
//! for the catalog and STAC, revalidated for the viewer), CORS for any origin, gzip for JSON
//! and text, single byte ranges and `HEAD`. `catalog.json`, `style.json` and TileJSONs have
//! their relative URLs made absolute from `--public-url` or from the request (`Host`,
//! `X-Forwarded-Host/Proto/Prefix`). A tile a complete layer does not store (all missing) at a
//! zoom of its TileJSON is answered as empty: 204 for a colour tile, an all-missing data tile for a data tile (MapLibre
//! before 5.x errs on an empty `raster-dem` response). Nothing outside the root is ever
//! served (route.rs: dot segments, encodings, bookkeeping; handler.rs: symbolic links).
//! The contract is docs/ARCHITECTURE.md §3.17.

mod handler;
mod respond;
mod rewrite;
mod route;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tilecast::run::publish::BaseUrl;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::infra::signals;
use crate::infra::storage::{Location, S3Args};
use handler::State;

#[derive(Args)]
pub struct ServeArgs {
    /// The output root to serve: a directory, file://path or s3://bucket/prefix.
    #[arg(env = "TILECAST_OUT", default_value = "out")]
    pub out: String,
    /// Address and port to listen on.
    #[arg(long, env = "TILECAST_SERVE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// The public URL of the output root behind a proxy or CDN (https://maps.example.org/wx);
    /// absolute URLs in catalog.json, style.json and TileJSONs start with it. Default: the
    /// scheme and host of each request (X-Forwarded-Proto/Host/Prefix, then Host).
    #[arg(long, env = "TILECAST_PUBLIC_URL", value_name = "URL", value_parser = BaseUrl::parse)]
    pub public_url: Option<BaseUrl>,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "TILECAST_SERVE_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_connections: u32,
    #[command(flatten)]
    pub s3: S3Args,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let location = Location::parse(&args.out)?;
    let local_root = match &location {
        Location::Local(p) => Some(
            std::fs::canonicalize(p)
                .map_err(|e| anyhow::anyhow!("{}: cannot serve it: {e}", p.display()))?,
        ),
        Location::S3 { .. } => None,
    };
    if let Some(root) = &local_root {
        anyhow::ensure!(root.is_dir(), "{}: not a directory", root.display());
    }
    let store = location.open(&args.s3)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tilecast-serve")
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(args.addr)
            .await
            .map_err(|e| anyhow::anyhow!("--addr {}: {e}", args.addr))?;
        let bound = listener.local_addr()?;
        let state = Arc::new(State::new(
            store,
            local_root,
            args.public_url,
            bound.to_string(),
        )?);
        // The line scripts and tests wait for; the URL to open.
        println!("serving {} at http://{bound}/", location.canonical());
        tracing::info!(component = "serve", root = %location.canonical(), addr = %bound, "serving");
        accept(listener, state, args.max_connections as usize).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Accepts connections until a shutdown signal, then lets open ones finish (up to 10 s).
async fn accept(listener: TcpListener, state: Arc<State>, max: usize) -> anyhow::Result<()> {
    let permits = Arc::new(Semaphore::new(max));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = signals::shutdown();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => p?,
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                // Out of descriptors and the like: wait and go on.
                Err(e) => {
                    tracing::warn!(component = "serve", "accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let st = state.clone();
        let service = service_fn(move |req| {
            let st = st.clone();
            async move { Ok::<_, std::convert::Infallible>(handler::handle(st, req).await) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .max_buf_size(64 * 1024)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    tracing::info!(component = "serve", "stopping: finishing open connections");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
    Ok(())
}
