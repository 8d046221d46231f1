//! One request to one response: the viewer's files from the binary, everything else from the
//! output tree through the same [`Store`] the workers write with (a directory or a bucket
//! prefix), documents with their URLs made absolute, and the empty tiles a layer does not
//! store answered as empty.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tilecast::io::store::{Store, Versioned, IMMUTABLE};
use tilecast::run::publish::BaseUrl;

use super::respond::{self, Body};
use super::rewrite;
use super::route::{self, Kind, Refusal, Route, TileRef};
use crate::site;

/// `Cache-Control` of the catalog and the STAC root and collections, which change whenever a
/// run completes: a client revalidates after a few seconds (a 304 when nothing changed).
const SHORT: &str = "public, max-age=5";
/// The viewer and anything outside a run: revalidated at every use.
const REVALIDATE: &str = "no-cache";
/// Answers that may change soon (a run still rendering): not cached.
const NOT_FOUND_CACHE: &str = "no-store";
/// How long the existence of a complete layer is remembered.
const LAYER_TTL: Duration = Duration::from_secs(30);

/// What every request shares.
pub struct State {
    pub store: Arc<dyn Store>,
    /// The canonical local root (None for a bucket): objects reached through a symbolic link
    /// that leaves it are refused.
    pub local_root: Option<PathBuf>,
    /// The public URL of the output root (`--public-url`); otherwise taken from each request.
    pub public_url: Option<BaseUrl>,
    /// The address the server listens on, for a request without a usable `Host`.
    pub listen: String,
    /// A data tile with every pixel missing (code 0, alpha 0).
    pub empty_data_tile: Bytes,
    /// TileJSON keys of layers in complete runs, their zoom range, and when that was checked.
    layers: Mutex<HashMap<String, (Instant, RangeInclusive<u32>)>>,
}

impl State {
    pub fn new(
        store: Arc<dyn Store>,
        local_root: Option<PathBuf>,
        public_url: Option<BaseUrl>,
        listen: String,
    ) -> anyhow::Result<State> {
        let empty = tilecast::render::encode::rgba_png(256, 256, &vec![0u8; 256 * 256 * 4])?;
        Ok(State {
            store,
            local_root,
            public_url,
            listen,
            empty_data_tile: Bytes::from(empty),
            layers: Mutex::new(HashMap::new()),
        })
    }
}

/// Answers one request.
pub async fn handle<B>(state: Arc<State>, req: Request<B>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    if method == Method::OPTIONS {
        return respond::preflight();
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = respond::text(
            StatusCode::METHOD_NOT_ALLOWED,
            NOT_FOUND_CACHE,
            "GET or HEAD only",
        );
        r.headers_mut().insert(
            header::ALLOW,
            header::HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        return r;
    }
    let headers = req.headers().clone();
    let answer = match route::route(req.uri().path()) {
        Err(Refusal::BadRequest(why)) => Err((StatusCode::BAD_REQUEST, why.to_string())),
        Err(Refusal::Hidden) => Err((StatusCode::NOT_FOUND, "not found".into())),
        Ok(Route::Viewer(path)) => viewer(&path),
        Ok(Route::Object { key, kind }) => {
            let root = public_root(&state, &headers);
            let st = state.clone();
            tokio::task::spawn_blocking(move || object(&st, &key, &kind, &root))
                .await
                .unwrap_or_else(|e| Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())))
        }
    };
    match answer {
        Ok(Answer::Body(body)) => respond::send(&method, &headers, body),
        Ok(Answer::NoContent) => respond::text(StatusCode::NO_CONTENT, IMMUTABLE, ""),
        Err((status, msg)) => {
            if status.is_server_error() {
                tracing::warn!(component = "serve", path = %req.uri().path(), %status, "{msg}");
            }
            respond::text(status, NOT_FOUND_CACHE, &msg)
        }
    }
}

enum Answer {
    Body(Body),
    /// An empty colour tile: 204, which MapLibre (4+) and other clients draw as transparent.
    NoContent,
}

type Answered = Result<Answer, (StatusCode, String)>;

/// A file of the viewer, embedded in the binary (so it always matches the server).
fn viewer(path: &str) -> Answered {
    static TAGS: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        site::assets()
            .iter()
            .map(|a| (a.path, digest(a.bytes)))
            .collect()
    });
    let Some(a) = site::asset(path) else {
        return Err((StatusCode::NOT_FOUND, "not found".into()));
    };
    Ok(Answer::Body(Body {
        bytes: Bytes::from_static(a.bytes),
        content_type: a.content_type,
        cache_control: REVALIDATE,
        etag: tags.get(a.path).cloned().unwrap_or_else(|| digest(a.bytes)),
        vary: None,
    }))
}

/// The public URL of the output root for this request: `--public-url`, else the forwarded
/// or direct host and scheme (and `X-Forwarded-Prefix`), else the listening address.
fn public_root(state: &State, headers: &HeaderMap) -> String {
    if let Some(u) = &state.public_url {
        return u.as_str().to_string();
    }
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let proto = first("x-forwarded-proto")
        .map(|p| p.to_ascii_lowercase())
        .filter(|p| p == "http" || p == "https")
        .unwrap_or_else(|| "http".into());
    let host = first("x-forwarded-host")
        .or_else(|| first("host"))
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or_else(|| state.listen.clone());
    let prefix = first("x-forwarded-prefix").unwrap_or_default();
    let prefix = prefix.trim_matches('/');
    let candidate = if prefix.is_empty() {
        format!("{proto}://{host}")
    } else {
        format!("{proto}://{host}/{prefix}")
    };
    BaseUrl::parse(&candidate)
        .map(|u| u.as_str().to_string())
        .unwrap_or_else(|_| format!("http://{}", state.listen))
}

fn digest(b: &[u8]) -> String {
    Sha256::digest(b)[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, e)| e) {
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("pmtiles") => "application/vnd.pmtiles",
        _ => "application/octet-stream",
    }
}

fn cache_control(key: &str) -> &'static str {
    let first = key.split('/').next().unwrap_or("");
    if key == "catalog.json" || first == "stac" {
        SHORT
    } else if first.len() == 16 && first.bytes().all(|b| b.is_ascii_hexdigit()) {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// An object of the output tree.
fn object(state: &State, key: &str, kind: &Kind, root: &str) -> Answered {
    if let Some(local) = &state.local_root {
        inside_root(local, key)?;
    }
    let found = read(state, key).map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()))?;
    let Some(obj) = found else {
        return match kind {
            Kind::Tile(t) if layer_complete(state, t)? => Ok(if t.data {
                Answer::Body(Body {
                    bytes: state.empty_data_tile.clone(),
                    content_type: "image/png",
                    cache_control: IMMUTABLE,
                    etag: "empty-data-tile".into(),
                    vary: None,
                })
            } else {
                Answer::NoContent
            }),
            _ => Err((StatusCode::NOT_FOUND, "not found".into())),
        };
    };
    let (bytes, etag, vary) = match rewrite::rewrite(kind, key, &obj.bytes, root) {
        Some(b) => {
            // The bytes sent decide the tag: the stored version is in them already.
            let tag = digest(&b);
            let vary = state
                .public_url
                .is_none()
                .then_some("Host, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Prefix");
            (b, tag, vary)
        }
        None => (obj.bytes, obj.version, None),
    };
    Ok(Answer::Body(Body {
        bytes: Bytes::from(bytes),
        content_type: content_type(key),
        cache_control: cache_control(key),
        etag,
        vary,
    }))
}

/// An object and a validator for it: in a bucket its ETag (one GET); locally its size and
/// modification time, as static servers make theirs (a stat and a read, no hashing).
fn read(state: &State, key: &str) -> tilecast::Result<Option<Versioned>> {
    if state.local_root.is_none() {
        return Ok(state.store.get_versioned(key)?.map(|mut v| {
            v.version = v.version.replace('"', "");
            v
        }));
    }
    let Some(info) = state.store.head(key)? else {
        return Ok(None);
    };
    let Some(bytes) = state.store.get(key)? else {
        return Ok(None);
    };
    let nanos = info
        .modified
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(Some(Versioned {
        version: format!("{:x}-{nanos:x}", bytes.len()),
        bytes,
    }))
}

/// Refuses a key whose file, after symbolic links, is not under the root.
fn inside_root(root: &std::path::Path, key: &str) -> Result<(), (StatusCode, String)> {
    match std::fs::canonicalize(root.join(key)) {
        Ok(real) if real.starts_with(root) && real.is_file() => Ok(()),
        Ok(real) if real.starts_with(root) => Err((StatusCode::NOT_FOUND, "not found".into())),
        Ok(_) => {
            tracing::warn!(
                component = "serve",
                key,
                "refused: a symbolic link leaves the root"
            );
            Err((StatusCode::FORBIDDEN, "outside the served root".into()))
        }
        // Missing: the store says so (and an empty tile may be answered).
        Err(_) => Ok(()),
    }
}

/// Whether the tile's layer belongs to a complete run (its TileJSON and the run's manifest
/// exist) and the tile's zoom is in the TileJSON's range, so a tile it does not store is
/// empty rather than not yet written or never meant to exist (a data tile above the data
/// maxzoom, which clients overzoom).
fn layer_complete(state: &State, t: &TileRef) -> Result<bool, (StatusCode, String)> {
    let key = t.tilejson_key();
    let known = state.layers.lock().expect("layer cache");
    if let Some((_, zooms)) = known.get(&key).filter(|(at, _)| at.elapsed() < LAYER_TTL) {
        return Ok(zooms.contains(&t.z));
    }
    drop(known);
    let bad_gateway = |e: tilecast::Error| (StatusCode::BAD_GATEWAY, e.to_string());
    let Some(doc) = state.store.get(&key).map_err(bad_gateway)? else {
        return Ok(false);
    };
    if state
        .store
        .head(&format!("{}/manifest.json", t.run))
        .map_err(bad_gateway)?
        .is_none()
    {
        return Ok(false);
    }
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap_or_default();
    let zoom = |k: &str| doc[k].as_u64().and_then(|z| u32::try_from(z).ok());
    let Some(zooms) = zoom("minzoom").zip(zoom("maxzoom")).map(|(a, b)| a..=b) else {
        return Ok(false);
    };
    let inside = zooms.contains(&t.z);
    let mut known = state.layers.lock().expect("layer cache");
    if known.len() > 100_000 {
        known.clear();
    }
    known.insert(key, (Instant::now(), zooms));
    Ok(inside)
}
