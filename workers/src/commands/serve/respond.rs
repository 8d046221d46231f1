//! The HTTP semantics of a response, apart from what it holds: validators (`ETag`,
//! `If-None-Match` → 304), byte ranges (`Range`, `If-Range` → 206 or 416), gzip for text
//! when the client accepts it, `HEAD`, CORS, and the common headers.
//!
//! Partial answers are `Cache-Control: no-store`: Chromium's HTTP cache can hand a page
//! corrupt bytes when several range requests for one URL are in flight at once (Chromium
//! issue 40542704; the `pmtiles` package works around it only on Windows). The browser test
//! saw it on Linux, under load, as a PMTiles tile MapLibre "could not decode". A reader of an
//! archive keeps its own directory cache, and MapLibre its tiles, so little is fetched twice.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};

/// What a handler found to send.
pub struct Body {
    pub bytes: Bytes,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    /// Strong validator, without quotes.
    pub etag: String,
    /// Request headers the body depends on besides `Accept-Encoding` (`Host` for documents
    /// whose URLs come from the request).
    pub vary: Option<&'static str>,
}

/// `Cache-Control` of partial answers (see the module notes).
const NO_STORE: &str = "no-store";

/// Bodies at least this long are compressed when the client accepts gzip.
const GZIP_MIN_BYTES: usize = 1024;

/// A response with the CORS and security headers every answer carries.
pub fn base(status: StatusCode) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .header(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            "ETag, Content-Length, Content-Range, Accept-Ranges",
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
}

/// A short plain-text answer (errors, empty tiles).
pub fn text(status: StatusCode, cache_control: &'static str, msg: &str) -> Response<Full<Bytes>> {
    let body = if msg.is_empty() {
        String::new()
    } else {
        format!("{msg}\n")
    };
    let mut b = base(status).header(header::CACHE_CONTROL, cache_control);
    if !body.is_empty() {
        b = b.header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
    }
    b.body(Full::new(Bytes::from(body)))
        .expect("static headers")
}

/// The answer to a CORS preflight.
pub fn preflight() -> Response<Full<Bytes>> {
    base(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS")
        .header(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Range, If-None-Match, If-Range, Accept-Encoding",
        )
        .header(header::ACCESS_CONTROL_MAX_AGE, "86400")
        .body(Full::new(Bytes::new()))
        .expect("static headers")
}

/// The response to `method` with `headers` for `body`.
pub fn send(method: &Method, headers: &HeaderMap, body: Body) -> Response<Full<Bytes>> {
    let compressible = is_text(body.content_type) && body.bytes.len() >= GZIP_MIN_BYTES;
    let ranged = headers.contains_key(header::RANGE);
    let gzip = compressible && !ranged && accepts_gzip(headers);
    // Each representation has its own strong validator.
    let etag = if gzip {
        format!("\"{}-gz\"", body.etag)
    } else {
        format!("\"{}\"", body.etag)
    };
    let mut vary: Vec<&str> = body.vary.into_iter().collect();
    if compressible {
        vary.push("Accept-Encoding");
    }
    let common = |status, cache_control| {
        let mut b = base(status)
            .header(header::ETAG, &etag)
            .header(header::CACHE_CONTROL, cache_control)
            .header(header::ACCEPT_RANGES, "bytes");
        if !vary.is_empty() {
            b = b.header(header::VARY, vary.join(", "));
        }
        b
    };
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        if etag_matches(inm, &body.etag) {
            return common(StatusCode::NOT_MODIFIED, body.cache_control)
                .body(Full::new(Bytes::new()))
                .expect("valid headers");
        }
    }
    let len = body.bytes.len() as u64;
    let (status, bytes, content_range) = match range_of(headers, &body.etag, len) {
        RangeAnswer::Whole => (StatusCode::OK, body.bytes, None),
        RangeAnswer::Part(a, b) => (
            StatusCode::PARTIAL_CONTENT,
            body.bytes.slice(a as usize..=b as usize),
            Some(format!("bytes {a}-{b}/{len}")),
        ),
        RangeAnswer::Unsatisfiable => {
            return common(StatusCode::RANGE_NOT_SATISFIABLE, NO_STORE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Full::new(Bytes::new()))
                .expect("valid headers");
        }
    };
    let bytes = if gzip {
        gzip_bytes(&bytes).unwrap_or(bytes)
    } else {
        bytes
    };
    let cache_control = if status == StatusCode::PARTIAL_CONTENT {
        NO_STORE
    } else {
        body.cache_control
    };
    let mut b = common(status, cache_control)
        .header(header::CONTENT_TYPE, body.content_type)
        .header(header::CONTENT_LENGTH, bytes.len());
    if gzip {
        b = b.header(header::CONTENT_ENCODING, "gzip");
    }
    if let Some(cr) = content_range {
        b = b.header(header::CONTENT_RANGE, cr);
    }
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        bytes
    };
    b.body(Full::new(body)).expect("valid headers")
}

fn is_text(content_type: &str) -> bool {
    content_type.starts_with("text/") || content_type.starts_with("application/json")
}

/// `Accept-Encoding` lists gzip (or `*`) with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f64>().ok())
                .next()
                .unwrap_or(1.0);
            (coding == "gzip" || coding == "*") && q > 0.0
        })
}

fn gzip_bytes(b: &[u8]) -> Option<Bytes> {
    let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
    let mut out = vec![0; c.gzip_compress_bound(b.len())];
    let n = c.gzip_compress(b, &mut out).ok()?;
    out.truncate(n);
    Some(Bytes::from(out))
}

/// `If-None-Match: *` or a list holding the tag (weak comparison, RFC 9110 §13.1.2): the
/// identity and gzip representations share the tag's opaque part.
fn etag_matches(v: &HeaderValue, etag: &str) -> bool {
    let Ok(s) = v.to_str() else { return false };
    s.split(',').any(|t| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
        t == "*" || t == etag || t.strip_suffix("-gz") == Some(etag)
    })
}

enum RangeAnswer {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range (RFC 9110 §14.2). Several ranges, other units, syntax errors and a
/// failed `If-Range` get the whole object, as the RFC allows a server to.
fn range_of(headers: &HeaderMap, etag: &str, len: u64) -> RangeAnswer {
    let Some(r) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeAnswer::Whole;
    };
    if let Some(ir) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        if ir.trim() != format!("\"{etag}\"") {
            return RangeAnswer::Whole;
        }
    }
    let Some(spec) = r.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
    };
    match (a.trim(), b.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(n) if len > 0 => RangeAnswer::Part(len.saturating_sub(n), len - 1),
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        (first, last) => match (num(first), last) {
            (Some(f), _) if f >= len => RangeAnswer::Unsatisfiable,
            (Some(f), "") => RangeAnswer::Part(f, len - 1),
            (Some(f), l) => match num(l) {
                Some(l) if l >= f => RangeAnswer::Part(f, l.min(len - 1)),
                _ => RangeAnswer::Whole,
            },
            (None, _) => RangeAnswer::Whole,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn range(r: &str, len: u64) -> Option<(u64, u64)> {
        match range_of(&headers(&[("range", r)]), "e", len) {
            RangeAnswer::Whole => None,
            RangeAnswer::Part(a, b) => Some((a, b)),
            RangeAnswer::Unsatisfiable => Some((u64::MAX, u64::MAX)),
        }
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        let unsat = Some((u64::MAX, u64::MAX));
        assert_eq!(range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(range("bytes=90-200", 100), Some((90, 99)));
        assert_eq!(range("bytes=10-", 100), Some((10, 99)));
        assert_eq!(range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(range("bytes=-500", 100), Some((0, 99)));
        assert_eq!(range("bytes=100-", 100), unsat);
        assert_eq!(range("bytes=-0", 100), unsat);
        assert_eq!(range("bytes=0-1,5-6", 100), None);
        assert_eq!(range("bytes=9-3", 100), None);
        assert_eq!(range("items=0-1", 100), None);
        assert_eq!(range("bytes=a-b", 100), None);
        assert_eq!(range("bytes=0-", 0), unsat);
    }

    #[test]
    fn if_range_must_match_the_current_tag() {
        let h = headers(&[("range", "bytes=0-1"), ("if-range", "\"old\"")]);
        assert!(matches!(range_of(&h, "new", 10), RangeAnswer::Whole));
        let h = headers(&[("range", "bytes=0-1"), ("if-range", "\"new\"")]);
        assert!(matches!(range_of(&h, "new", 10), RangeAnswer::Part(0, 1)));
    }

    #[test]
    fn gzip_only_when_accepted() {
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br, gzip;q=0.5"
        )])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "*")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn validators_compare_weakly() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert!(etag_matches(&v("\"abc\""), "abc"));
        assert!(etag_matches(&v("W/\"abc-gz\", \"x\""), "abc"));
        assert!(etag_matches(&v("*"), "abc"));
        assert!(!etag_matches(&v("\"abd\""), "abc"));
    }

    #[test]
    fn partial_answers_are_not_stored_and_whole_ones_keep_their_caching() {
        let body = || Body {
            bytes: Bytes::from_static(b"0123456789"),
            content_type: "application/vnd.pmtiles",
            cache_control: "public, max-age=31536000, immutable",
            etag: "e".into(),
            vary: None,
        };
        let cc = |r: &Response<Full<Bytes>>| r.headers()[header::CACHE_CONTROL].clone();
        let part = send(&Method::GET, &headers(&[("range", "bytes=2-4")]), body());
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(cc(&part), "no-store");
        assert_eq!(part.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        let whole = send(&Method::GET, &HeaderMap::new(), body());
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(cc(&whole), "public, max-age=31536000, immutable");
    }
}
