//! S3-style bucket notification events, as MinIO and Ceph RGW publish them to AMQP (and AWS
//! S3 to its targets): `{"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"bucket":
//! {"name": ...}, "object": {"key": ..., "size": ..., "eTag": ...}}}]}`.
//!
//! Only object creations matter to the chunker (`ObjectCreated:*`, with or without the `s3:`
//! prefix: Put, Post, Copy, CompleteMultipartUpload). Keys arrive URL-encoded (`+` for a
//! space). An event is a hint: the chunker still reads the object's current state, and its
//! periodic listing catches anything an event missed.

use serde::Deserialize;

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "Records", default)]
    records: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: Option<S3Entity>,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: BucketEntity,
    object: ObjectEntity,
}

#[derive(Deserialize)]
struct BucketEntity {
    name: String,
}

#[derive(Deserialize)]
struct ObjectEntity {
    key: String,
}

/// One created object named by an event.
#[derive(Debug, PartialEq, Eq)]
pub struct Created {
    pub bucket: String,
    pub key: String,
}

/// The objects an event message says were created. Errors for a body that is not an event.
pub fn created(body: &[u8]) -> Result<Vec<Created>, String> {
    let ev: Event = serde_json::from_slice(body).map_err(|e| format!("not an S3 event: {e}"))?;
    let mut out = Vec::new();
    for r in ev.records {
        let name = r.event_name.strip_prefix("s3:").unwrap_or(&r.event_name);
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let Some(s3) = r.s3 else {
            return Err(format!("{} record without an s3 member", r.event_name));
        };
        out.push(Created {
            bucket: s3.bucket.name,
            key: url_decode(&s3.object.key)?,
        });
    }
    Ok(out)
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn url_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad escape in key {s:?}"))?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("key {s:?} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minio_ceph_and_aws_creations_are_read() {
        let minio = br#"{"EventName":"s3:ObjectCreated:CompleteMultipartUpload","Key":"in/gfs/a b.grib2",
            "Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:CompleteMultipartUpload",
            "s3":{"bucket":{"name":"in"},"object":{"key":"gfs%2Fa+b.grib2","size":10,"eTag":"abc-2"}}}]}"#;
        assert_eq!(
            created(minio).unwrap(),
            [Created {
                bucket: "in".into(),
                key: "gfs/a b.grib2".into()
            }]
        );
        let ceph = br#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"in"},
            "object":{"key":"x.nc","size":1}}},{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"in"},
            "object":{"key":"y.nc"}}}]}"#;
        assert_eq!(
            created(ceph).unwrap(),
            [Created {
                bucket: "in".into(),
                key: "x.nc".into()
            }]
        );
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        for body in [
            &b"not json"[..],
            br#"{"Records":[{"eventName":"s3:ObjectCreated:Put"}]}"#,
            br#"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%zz"}}}]}"#,
            br#"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%"}}}]}"#,
            br#"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%ff"}}}]}"#,
        ] {
            assert!(created(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(created(b"{}").unwrap(), []);
    }
}
