//! `tilecast serve` over real HTTP (issue #12): a rendered sample tree served from a
//! directory and from a bucket prefix on the S3 test server, checked request by request with a
//! raw HTTP/1.1 client (so malformed and hostile requests reach the server as written):
//! absolute URLs in the catalog, styles and TileJSONs (from the request, a proxy's forwarded
//! headers, or `--public-url`), tiles byte-identical to the stored ones, validators and 304,
//! cache policy, CORS, gzip, byte ranges, HEAD, empty tiles, and no way out of the root.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::s3::Moto;
use common::{bin, free_port, samples};

/// A `tilecast serve` child, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(root: &str, extra: &[&str], env: &[(String, String)]) -> Server {
        let port = free_port();
        let mut child = Command::new(bin())
            .args(["serve", root, "--addr", &format!("127.0.0.1:{port}")])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // The first line says where it serves; by then the socket is bound.
        let mut out = child.stdout.take().unwrap();
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while out.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
            line.push(b[0]);
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        assert!(line.starts_with("serving "), "serve printed {line:?}");
        assert!(
            line.ends_with(&format!("at http://127.0.0.1:{port}/")),
            "{line}"
        );
        Server { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// GET `target` with extra header lines.
    fn get(&self, target: &str, headers: &[&str]) -> Resp {
        self.raw(&request("GET", target, self.port, headers))
    }

    fn raw(&self, req: &str) -> Resp {
        raw(self.port, req.as_bytes())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(method: &str, target: &str, port: u16, headers: &[&str]) -> String {
    let mut r =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        assert_eq!(
            self.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Sends raw bytes and reads the whole answer (the server closes after `Connection: close`).
fn raw(port: u16, req: &[u8]) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    }
}

/// Renders two samples (a global lat/lon wind and a Lambert temperature) into `out`.
fn render_into(out: &str, env: &[(String, String)]) {
    let o = Command::new(bin())
        .arg("render")
        .arg(samples().join("global_uv10.grib2"))
        .arg(samples().join("lambert_t850.grib2"))
        .args(["--out", out, "--zoom", "0-2", "--quiet"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every string member of `v` named like a URL in the catalog.
fn catalog_urls(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s)
                        if [
                            "manifest",
                            "style",
                            "tilejson",
                            "data_tilejson",
                            "legend_png",
                            "legend_json",
                            "full_image",
                            "stac_item",
                            "url",
                        ]
                        .contains(&k.as_str()) =>
                    {
                        out.push(s.clone())
                    }
                    _ => catalog_urls(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| catalog_urls(x, out)),
        _ => {}
    }
}

/// The path part of a URL under `base`.
fn path_of<'a>(url: &'a str, base: &str) -> &'a str {
    url.strip_prefix(base)
        .unwrap_or_else(|| panic!("{url} is not under {base}"))
}

#[test]
fn serves_a_directory_with_absolute_urls_validators_and_ranges() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    render_into(dir.to_str().unwrap(), &[]);
    let s = Server::start(dir.to_str().unwrap(), &[], &[]);
    let base = s.url();

    // The catalog: every URL absolute under the request's host, each one answering.
    let r = s.get("/catalog.json", &[]);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("vary").unwrap().contains("Host"));
    let catalog = r.json();
    let mut urls = Vec::new();
    catalog_urls(&catalog, &mut urls);
    assert!(urls.len() > 20, "{urls:?}");
    for u in &urls {
        let r = s.get(path_of(u, &base), &[]);
        assert_eq!(r.status, 200, "{u}");
    }

    // A colour TileJSON: absolute tile URLs; a tile from it is the stored file.
    let layer = &catalog["runs"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["layers"][0];
    let tj = s
        .get(path_of(layer["tilejson"].as_str().unwrap(), &base), &[])
        .json();
    let template = tj["tiles"][0].as_str().unwrap();
    assert!(template.starts_with(&format!("{base}/")), "{template}");
    let tile_path = template
        .replace("{z}", "0")
        .replace("{x}", "0")
        .replace("{y}", "0");
    let tile_key = path_of(&tile_path, &base)
        .trim_start_matches('/')
        .to_string();
    let stored = std::fs::read(dir.join(&tile_key)).unwrap();
    let r = s.get(path_of(&tile_path, &base), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.body, stored);
    assert_eq!(
        r.header("content-length"),
        Some(stored.len().to_string().as_str())
    );

    // Validators: the same ETag again gets 304 without a body.
    let etag = r.header("etag").unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let r304 = s.get(
        path_of(&tile_path, &base),
        &[&format!("If-None-Match: {etag}")],
    );
    assert_eq!(r304.status, 304);
    assert!(r304.body.is_empty());
    assert_eq!(r304.header("etag"), Some(etag.as_str()));
    let r200 = s.get(path_of(&tile_path, &base), &["If-None-Match: \"other\""]);
    assert_eq!(r200.status, 200);

    // Byte ranges and HEAD.
    let r = s.get(path_of(&tile_path, &base), &["Range: bytes=0-9"]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, stored[..10]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-9/{}", stored.len()).as_str())
    );
    let r = s.get(path_of(&tile_path, &base), &["Range: bytes=-4"]);
    assert_eq!(r.body, stored[stored.len() - 4..]);
    let r = s.get(path_of(&tile_path, &base), &["Range: bytes=99999999-"]);
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{}", stored.len()).as_str())
    );
    let h = s.raw(&request("HEAD", path_of(&tile_path, &base), s.port, &[]));
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    assert_eq!(
        h.header("content-length"),
        Some(stored.len().to_string().as_str())
    );
    assert_eq!(h.header("etag"), Some(etag.as_str()));

    // gzip for JSON when accepted, identical once inflated; a separate validator.
    let plain = s.get("/catalog.json", &[]);
    let gz = s.get("/catalog.json", &["Accept-Encoding: gzip, deflate"]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_ne!(gz.header("etag"), plain.header("etag"));
    let mut d = libdeflater::Decompressor::new();
    let mut inflated = vec![0; plain.body.len()];
    let n = d.gzip_decompress(&gz.body, &mut inflated).unwrap();
    assert_eq!(inflated[..n], plain.body[..]);
    assert!(gz.body.len() < plain.body.len() / 2);
    let again = s.get(
        "/catalog.json",
        &[&format!("If-None-Match: {}", gz.header("etag").unwrap())],
    );
    assert_eq!(again.status, 304);

    // The run's style: sources absolute, each loading.
    let run = layer["tilejson"].as_str().unwrap();
    let style_url = catalog["runs"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["style"]
        .as_str()
        .unwrap();
    assert!(run.starts_with(&base) && style_url.starts_with(&base));
    let style = s.get(path_of(style_url, &base), &[]).json();
    for src in style["sources"].as_object().unwrap().values() {
        let u = src["url"].as_str().unwrap();
        assert_eq!(s.get(path_of(u, &base), &[]).status, 200, "{u}");
    }

    // Behind a proxy: the forwarded scheme, host and prefix make the URLs.
    let proxied = s
        .get(
            "/catalog.json",
            &[
                "X-Forwarded-Proto: https",
                "X-Forwarded-Host: maps.example.org",
                "X-Forwarded-Prefix: /wx/",
            ],
        )
        .json();
    let mut urls = Vec::new();
    catalog_urls(&proxied, &mut urls);
    assert!(
        urls.iter()
            .all(|u| u.starts_with("https://maps.example.org/wx/")),
        "{urls:?}"
    );
    // A forged host with characters no host has is not used.
    let forged = s
        .get("/catalog.json", &["X-Forwarded-Host: a\"b<script>"])
        .json();
    let mut urls = Vec::new();
    catalog_urls(&forged, &mut urls);
    assert!(
        urls.iter().all(|u| u.starts_with(&format!("{base}/"))),
        "{urls:?}"
    );

    // CORS preflight and methods.
    let pre = s.raw(&request(
        "OPTIONS",
        "/catalog.json",
        s.port,
        &["Origin: http://x", "Access-Control-Request-Method: GET"],
    ));
    assert_eq!(pre.status, 204);
    assert!(pre
        .header("access-control-allow-methods")
        .unwrap()
        .contains("GET"));
    let post = s.raw(&request(
        "POST",
        "/catalog.json",
        s.port,
        &["Content-Length: 0"],
    ));
    assert_eq!(post.status, 405);
    assert!(post.header("allow").unwrap().contains("GET"));

    empty_tiles(&s, &dir, &catalog);
    no_way_out(&s, &dir, work.path());
}

/// A tile that a complete layer does not store is empty: 204 for colour, an all-missing data
/// tile for data. Tiles of a layer or run that does not exist are 404.
fn empty_tiles(s: &Server, dir: &Path, catalog: &Value) {
    let base = s.url();
    let (run, layer) = catalog["runs"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(run, r)| {
            r["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |l| (run, l))
        })
        .find(|(_, l)| l["tiling"] == "webmercator" && l["bounds"][2].as_f64().unwrap() < 0.0)
        .expect("a regional Web Mercator layer (the Lambert sample)");
    let name = layer["name"].as_str().unwrap();
    // Zoom 2, far from a western-hemisphere grid: x = 3 is east of 90°E.
    let key = format!("{run}/{name}/2/3/1.png");
    assert!(!dir.join(&key).exists(), "{key} should be empty");
    let r = s.get(&format!("/{key}"), &[]);
    assert_eq!(r.status, 204, "{key}");
    assert!(r.body.is_empty());
    let r = s.get(&format!("/{run}/{name}/data/2/3/1.png"), &[]);
    assert_eq!(r.status, 200);
    let (w, h, px) = tilecast::render::encode::decode_rgba(&r.body).unwrap();
    assert_eq!((w, h), (256, 256));
    assert!(
        px.iter().all(|b| *b == 0),
        "every pixel missing (code 0, alpha 0)"
    );
    // Outside the layer's zoom range (rendered 0-2) a tile never exists: 404, not empty.
    for missing in [
        format!("/{run}/nolayer/2/3/1.png"),
        "/0000000000000000/x/0/0/0.png".into(),
        format!("/{run}/{name}/0/0/7.png"),
        format!("/{run}/{name}/3/7/2.png"),
    ] {
        assert_eq!(s.get(&missing, &[]).status, 404, "{missing}");
    }
    let _ = base;
}

/// Nothing outside the root, nothing of the bookkeeping, malformed requests refused.
fn no_way_out(s: &Server, dir: &Path, work: &Path) {
    std::fs::write(work.join("secret.txt"), "root:secret").unwrap();
    std::os::unix::fs::symlink(work.join("secret.txt"), dir.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(work, dir.join("up")).unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("etc")).unwrap();
    assert!(
        dir.join(".tilecast").is_dir(),
        "render leaves bookkeeping to hide"
    );
    let hostile = [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/a/../../secret.txt",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/etc/passwd",
        "/link.txt",
        "/up/secret.txt",
        "/etc/hostname",
        "/.tilecast/",
        "/.tilecast/plan.json",
        "/%2etilecast/locks",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/secret.txt%00.png",
        "/%zz",
        "http://evil.example/../secret.txt",
    ];
    for target in hostile {
        let r = s.get(target, &[]);
        assert!(
            [400, 403, 404].contains(&r.status),
            "{target}: {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains("root:"), "{target} leaked {body}");
    }
    assert_eq!(s.get("/link.txt", &[]).status, 403);
    // Malformed requests get an HTTP error, and the server goes on.
    for junk in [
        "GARBAGE\r\n\r\n".to_string(),
        "GET / HTTP/9.9\r\n\r\n".into(),
        format!(
            "GET /catalog.json HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(500_000)
        ),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(5000)),
    ] {
        let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = c.write_all(junk.as_bytes());
        let mut buf = Vec::new();
        let _ = c.read_to_end(&mut buf);
        let head = String::from_utf8_lossy(&buf);
        assert!(
            head.starts_with("HTTP/1.1 4") || head.starts_with("HTTP/1.1 505"),
            "{:?} -> {head:?}",
            &junk[..20.min(junk.len())]
        );
    }
    // A client that connects and says nothing holds no one up, and is dropped.
    let idle = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    assert_eq!(s.get("/catalog.json", &[]).status, 200);
    let start = Instant::now();
    let mut idle = idle;
    idle.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut b = [0u8; 64];
    let _ = idle.read(&mut b);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "an idle connection is closed"
    );
}

#[test]
fn serves_a_bucket_prefix_as_it_serves_a_directory() {
    let moto = Moto::start();
    moto.create_bucket("tiles");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    render_into(dir.to_str().unwrap(), &[]);
    render_into("s3://tiles/wx", &moto.env());
    let public = ["--public-url", "https://maps.example.org/wx"];
    let local = Server::start(dir.to_str().unwrap(), &public, &[]);
    let bucket = Server::start("s3://tiles/wx", &public, &moto.env());
    let catalog = local.get("/catalog.json", &[]).json();
    // The catalog names where the source came from, which differs; nothing else may.
    let blank = |mut c: Value| {
        for r in c["runs"].as_object_mut().unwrap().values_mut() {
            r["source"]["key"] = Value::Null;
        }
        c
    };
    assert_eq!(
        blank(bucket.get("/catalog.json", &[]).json()),
        blank(catalog.clone())
    );
    let mut urls = Vec::new();
    catalog_urls(&catalog, &mut urls);
    assert!(!urls.is_empty());
    for u in urls {
        let p = path_of(&u, "https://maps.example.org/wx");
        let (a, b) = (local.get(p, &[]), bucket.get(p, &[]));
        assert_eq!((a.status, b.status), (200, 200), "{p}");
        assert_eq!(a.header("content-type"), b.header("content-type"), "{p}");
        if !p.ends_with("catalog.json")
            && !p.ends_with("manifest.json")
            && !p.ends_with("item.json")
        {
            assert_eq!(a.body, b.body, "{p}");
        }
    }
    // The viewer is the same page.
    let (a, b) = (local.get("/", &[]), bucket.get("/", &[]));
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("content-type"), Some("text/html; charset=utf-8"));
    // Bookkeeping stays hidden in a bucket too.
    assert_eq!(bucket.get("/.tilecast/plan.json", &[]).status, 404);
    assert_eq!(bucket.get("/%2e%2e/wx/catalog.json", &[]).status, 400);
}
