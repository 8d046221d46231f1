//! Input and output locations: a local path, `file://path`, or `s3://bucket/prefix`.
//!
//! Local roots are [`LocalStore`]s from the core library. Buckets are [`S3Store`]s: the
//! `object_store` S3 client, configured from the standard AWS environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, ...) plus
//! [`S3Args`] for S3-compatible servers (MinIO, Ceph): an endpoint and path-style addressing.
//!
//! The core library is synchronous (rayon), so the store is too: each call runs on a small
//! runtime of its own and the caller's thread waits for it (inside a Tokio worker it says so
//! with `block_in_place`, so the caller's runtime keeps its other tasks going); the bucket
//! store itself is in [`super::s3`].

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tilecast::io::store::{LocalStore, Store};

use super::s3::S3Store;

/// Settings for S3-compatible object storage (credentials and region come from the standard
/// AWS environment variables).
#[derive(Args, Clone, Debug, Default)]
pub struct S3Args {
    /// Endpoint of an S3-compatible server, e.g. `http://minio:9000` (default: AWS S3, or
    /// `AWS_ENDPOINT_URL`).
    #[arg(long, env = "TILECAST_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, Ceph).
    #[arg(long, env = "TILECAST_S3_PATH_STYLE")]
    pub s3_path_style: bool,
    /// Seconds to keep retrying a failing request (server errors, timeouts, throttling)
    /// before giving up on it as a transient failure.
    #[arg(long, env = "TILECAST_S3_RETRY_TIMEOUT", default_value_t = 120.0)]
    pub s3_retry_timeout: f64,
}

/// Where something is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Location {
    pub fn parse(s: &str) -> anyhow::Result<Location> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(!bucket.is_empty(), "{s}: no bucket name after s3://");
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        let path = s.strip_prefix("file://").unwrap_or(s);
        // An empty path would silently mean the current directory.
        anyhow::ensure!(
            !path.trim().is_empty(),
            "{s:?}: an empty location (give a directory, file://path or s3://bucket/prefix)"
        );
        if s.starts_with("file://") {
            return Ok(Location::Local(PathBuf::from(path)));
        }
        anyhow::ensure!(
            !s.contains("://"),
            "{s}: unsupported location (use a path, file://path or s3://bucket/prefix)"
        );
        Ok(Location::Local(PathBuf::from(s)))
    }

    /// The canonical spelling: an absolute path, or `s3://bucket/prefix`.
    pub fn canonical(&self) -> String {
        match self {
            Location::Local(p) => std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .to_string_lossy()
                .into_owned(),
            Location::S3 { bucket, prefix } if prefix.is_empty() => format!("s3://{bucket}"),
            Location::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        }
    }

    /// Opens the location as a store rooted at it.
    pub fn open(&self, s3: &S3Args) -> anyhow::Result<Arc<dyn Store>> {
        Ok(match self {
            Location::Local(p) => Arc::new(LocalStore::new(p.clone())),
            Location::S3 { bucket, prefix } => Arc::new(S3Store::new(bucket, prefix, s3)?),
        })
    }
}
/// Runs blocking work; inside a multi-threaded Tokio runtime it says so (`block_in_place`),
/// so the runtime moves its other tasks to another thread meanwhile.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://b/p/q/").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: "p/q".into()
            }
        );
        assert_eq!(
            Location::parse("s3://b").unwrap().canonical(),
            "s3://b".to_string()
        );
        assert_eq!(
            Location::parse("file:///data/in").unwrap(),
            Location::Local("/data/in".into())
        );
        assert_eq!(
            Location::parse("out").unwrap(),
            Location::Local("out".into())
        );
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("gs://b/x").is_err());
    }
}
