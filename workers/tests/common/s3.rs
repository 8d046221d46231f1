//! An S3-compatible server for tests (moto, from target/pyenv as `scripts/setup --test`
//! installs it), a client for the test's own reads and writes, and a TCP proxy that can play
//! a store outage: refusing connections (server stopped) or answering 503 SlowDown
//! (throttling), then passing again (server back, with its data).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{free_port, rt};

/// A moto server on a free port; stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// One HTTP/1.0 request to localhost: (status, body). Carries a dummy SigV4 header: moto
/// treats requests without one as anonymous.
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(resp.len(), |i| i + 4);
    let status = String::from_utf8_lossy(&resp[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, resp[split..].to_vec())
}

impl Moto {
    pub fn start() -> Moto {
        let py = std::env::var("TILECAST_PYTHON")
            .expect("TILECAST_PYTHON must name target/pyenv/bin/python (scripts/test sets it)");
        let server = Path::new(&py).with_file_name("moto_server");
        assert!(
            server.exists(),
            "{} missing: run scripts/setup --test",
            server.display()
        );
        let port = free_port();
        let dir = tempfile::Builder::new()
            .prefix("tilecast-moto-")
            .tempdir()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let m = Moto { child, port, dir };
        let start = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http(port, "GET", "/moto-api/", b"").0 == 200
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto did not start:\n{}",
                std::fs::read_to_string(m.dir.path().join("moto.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        m
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn create_bucket(&self, name: &str) {
        let (status, body) = http(self.port, "PUT", &format!("/{name}"), b"");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }

    /// The environment tilecast processes need to reach a store at `endpoint`.
    pub fn env_for(endpoint: &str) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("TILECAST_S3_ENDPOINT", endpoint),
            ("TILECAST_S3_PATH_STYLE", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    pub fn env(&self) -> Vec<(String, String)> {
        Moto::env_for(&self.endpoint())
    }

    pub fn start_recording(&self) {
        for p in ["reset-recording", "start-recording"] {
            let (status, _) = http(self.port, "POST", &format!("/moto-api/recorder/{p}"), b"");
            assert_eq!(status, 200, "{p}");
        }
    }

    /// Requests recorded since [`Moto::start_recording`]: (method, path, Range header).
    pub fn recording(&self) -> Vec<(String, String, Option<String>)> {
        let (status, _) = http(self.port, "POST", "/moto-api/recorder/stop-recording", b"");
        assert_eq!(status, 200);
        let (status, body) = http(
            self.port,
            "GET",
            "/moto-api/recorder/download-recording",
            b"",
        );
        assert_eq!(status, 200);
        // Concurrent requests may put two records on one line: read a stream of values.
        let text = String::from_utf8_lossy(&body).into_owned();
        serde_json::Deserializer::from_str(&text)
            .into_iter::<serde_json::Value>()
            .map(|v| {
                let v = v.expect("a recorded request");
                let url = v["url"].as_str().unwrap_or_default();
                let path = url
                    .splitn(4, '/')
                    .nth(3)
                    .map(|p| format!("/{p}"))
                    .unwrap_or_default();
                let range = v["headers"]["Range"]
                    .as_str()
                    .or(v["headers"]["range"].as_str())
                    .map(str::to_string);
                (
                    v["method"].as_str().unwrap_or_default().to_string(),
                    path,
                    range,
                )
            })
            .collect()
    }

    /// A client of one bucket, for the test's own reads and writes.
    pub fn client(&self, bucket: &str) -> Bucket {
        // reqwest is built without a bundled TLS provider (see workers/Cargo.toml).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let s = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_region("us-east-1")
            .build()
            .unwrap();
        Bucket(Arc::new(s))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's view of a bucket.
#[derive(Clone)]
pub struct Bucket(pub Arc<AmazonS3>);

impl Bucket {
    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        let s = self.0.clone();
        let key = ObjectPath::from(key);
        rt().block_on(async move { s.put(&key, PutPayload::from(bytes)).await })
            .unwrap();
    }

    pub fn put_file(&self, key: &str, file: &Path) {
        self.put(key, std::fs::read(file).unwrap());
    }

    /// Uploads in parts; `complete` false aborts the upload after its parts are sent.
    pub fn put_multipart(&self, key: &str, bytes: &[u8], complete: bool) {
        let s = self.0.clone();
        let key = ObjectPath::from(key);
        let bytes = bytes.to_vec();
        rt().block_on(async move {
            let mut up = s.put_multipart(&key).await.unwrap();
            // Parts of 5 MiB (the S3 minimum) with a smaller last one.
            for chunk in bytes.chunks(5 << 20) {
                up.put_part(PutPayload::from(chunk.to_vec())).await.unwrap();
            }
            if complete {
                up.complete().await.unwrap();
            } else {
                up.abort().await.unwrap();
            }
        });
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let s = self.0.clone();
        let key = ObjectPath::from(key);
        rt().block_on(async move {
            match s.get(&key).await {
                Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("{e}"),
            }
        })
    }

    /// Content-Type and Cache-Control of an object.
    pub fn headers(&self, key: &str) -> (Option<String>, Option<String>) {
        let s = self.0.clone();
        let key = ObjectPath::from(key);
        rt().block_on(async move {
            let r = s.get(&key).await.unwrap();
            let get = |a| r.attributes.get(&a).map(|v| v.to_string());
            (
                get(object_store::Attribute::ContentType),
                get(object_store::Attribute::CacheControl),
            )
        })
    }

    /// Every key under `prefix/`, with its size.
    pub fn list(&self, prefix: &str) -> BTreeMap<String, u64> {
        let s = self.0.clone();
        let p = ObjectPath::from(prefix);
        rt().block_on(async move {
            let mut out = BTreeMap::new();
            let mut st = s.list(Some(&p));
            while let Some(m) = st.next().await {
                let m = m.unwrap();
                out.insert(m.location.to_string(), m.size);
            }
            out
        })
    }

    /// The objects under `prefix/` except bookkeeping, keyed by path relative to the prefix
    /// (comparable with [`super::tree`] of a local output directory).
    pub fn tree(&self, prefix: &str) -> BTreeMap<PathBuf, Vec<u8>> {
        self.list(prefix)
            .into_keys()
            .filter_map(|k| {
                let rel = k.strip_prefix(&format!("{prefix}/"))?.to_string();
                (!rel.starts_with(".tilecast/")).then_some((k, rel))
            })
            .map(|(k, rel)| (PathBuf::from(rel), self.get(&k).unwrap()))
            .collect()
    }

    /// Keys of the run manifests under `prefix/`.
    pub fn manifests(&self, prefix: &str) -> Vec<String> {
        self.list(prefix)
            .into_keys()
            .filter(|k| {
                k.strip_prefix(&format!("{prefix}/"))
                    .is_some_and(|r| r.ends_with("/manifest.json") && r.matches('/').count() == 1)
            })
            .collect()
    }

    /// The runs that have a plan under `prefix/.tilecast/`.
    pub fn planned_runs(&self, prefix: &str) -> Vec<String> {
        self.list(&format!("{prefix}/.tilecast"))
            .into_keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(&format!("{prefix}/.tilecast/"))?;
                rest.strip_suffix("/plan.json").map(str::to_string)
            })
            .collect()
    }
}

const PASS: u8 = 0;
const DOWN: u8 = 1;
const THROTTLE: u8 = 2;

/// A TCP proxy in front of a server, to play outages.
pub struct Proxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        let port = free_port();
        let mode = Arc::new(AtomicU8::new(PASS));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (m, cs) = (mode.clone(), conns.clone());
        std::thread::spawn(move || {
            let mut listener: Option<TcpListener> = None;
            loop {
                let mode = m.load(Ordering::SeqCst);
                if mode == DOWN {
                    // A stopped server: nothing listens, so connecting is refused.
                    listener = None;
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                if listener.is_none() {
                    match TcpListener::bind(("127.0.0.1", port)) {
                        Ok(l) => {
                            l.set_nonblocking(true).unwrap();
                            listener = Some(l);
                        }
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    }
                }
                match listener.as_ref().unwrap().accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        if mode == THROTTLE {
                            std::thread::spawn(move || slow_down(client));
                        } else if let Ok(server) = TcpStream::connect(("127.0.0.1", target)) {
                            let mut list = cs.lock().unwrap();
                            list.push(client.try_clone().unwrap());
                            list.push(server.try_clone().unwrap());
                            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                            pipe(server, client);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        // Wait until it listens.
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "proxy did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Proxy { port, mode, conns }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        // Open connections die with the server (or are throttled from their next request).
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// The server "stops": connections are reset and new ones refused.
    pub fn stop(&self) {
        self.set(DOWN);
    }

    /// Every request is answered 503 SlowDown.
    pub fn throttle(&self) {
        self.set(THROTTLE);
    }

    /// The server is back, with its data.
    pub fn resume(&self) {
        self.set(PASS);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Reads one request head and answers it the way S3 throttles.
fn slow_down(mut c: TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 1 << 16 {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                <Message>Please reduce your request rate.</Message></Error>";
    let _ = write!(
        c,
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = c.shutdown(Shutdown::Both);
}

/// A test cluster whose output is `s3://tiles/runs` and ingest `s3://ingest` on the S3
/// server at `endpoint` (moto, or a proxy in front of it).
pub fn bucket_cluster(name: &str, endpoint: &str) -> super::Cluster {
    let mut c = super::Cluster::new(name);
    c.env = Moto::env_for(endpoint);
    c.env
        .push(("TILECAST_OUT".into(), "s3://tiles/runs".into()));
    c.env.push(("TILECAST_INGEST".into(), "s3://ingest".into()));
    c
}
