//! Buckets as stores: [`S3Store`], the `object_store` S3 client behind the core library's
//! synchronous [`Store`] trait. Each call runs on a small runtime of its own and the caller's
//! thread waits for it ([`super::storage::blocking`]). Server errors, timeouts and throttling
//! are retried with exponential backoff up to `--s3-retry-timeout`; after that the error is
//! *transient*, which a worker turns into a requeue, never a result. Errors keep their class
//! by the client's error variant (`store_error`).

use std::future::Future;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_lite::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, RetryConfig,
    UpdateVersion, WriteMultipart,
};
use tilecast::error::StoreFault;
use tilecast::io::store::{ObjectInfo, PutMeta, Store, Versioned};
use tilecast::{Error, Result};

use super::storage::{blocking, S3Args};

/// The runtime S3 requests run on, shared by every store of the process and never dropped
/// (dropping a runtime inside another one's task would panic).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tilecast-s3")
            .enable_all()
            .build()
            .expect("starting the S3 client runtime")
    })
}

/// Runs `f` on the store runtime and waits for it from any thread.
fn block<F>(f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let _ = tx.send(f.await);
    });
    blocking(move || rx.recv().expect("the S3 runtime dropped a request"))
}

/// Uploads in flight at once per store: enough to hide request latency, few enough to bound
/// the memory of the bytes waiting.
const UPLOADS_IN_FLIGHT: usize = 32;

/// An object-store error as a core-library one, by its variant: missing objects, failed
/// preconditions, invalid paths and unsupported operations are permanent; everything else
/// (after the client's own retries) may succeed later. The client's error is kept as the
/// source. (A byte range past the end comes back as a generic error: [`S3Store::get_range`]
/// tells it apart by the object's size.)
fn store_error(url: String, op: &'static str, e: object_store::Error) -> Error {
    use object_store::Error as E;
    let fault = match &e {
        E::NotFound { .. } => StoreFault::NotFound,
        E::Precondition { .. } => StoreFault::Replaced,
        E::InvalidPath { .. } | E::NotSupported { .. } | E::NotImplemented { .. } => {
            StoreFault::Refused
        }
        _ => StoreFault::Unavailable,
    };
    Error::Store {
        url,
        op,
        fault,
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

/// A bucket, or a prefix in one.
pub struct S3Store {
    client: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    /// Writes started by `put_async`, awaited by `flush`.
    pending: std::sync::Mutex<Vec<tokio::task::JoinHandle<Result<()>>>>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl S3Store {
    pub fn new(bucket: &str, prefix: &str, args: &S3Args) -> anyhow::Result<S3Store> {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
                max_retries: usize::MAX,
                retry_timeout: Duration::from_secs_f64(args.s3_retry_timeout.max(0.0)),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60)),
            );
        if let Some(ep) = &args.s3_endpoint {
            b = b
                .with_endpoint(ep.trim_end_matches('/'))
                .with_allow_http(ep.starts_with("http://"));
        }
        if args.s3_path_style {
            b = b.with_virtual_hosted_style_request(false);
        }
        let client = b
            .build()
            .map_err(|e| anyhow::anyhow!("s3://{bucket}: {e}"))?;
        Ok(S3Store {
            client: Arc::new(client),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            pending: Default::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(UPLOADS_IN_FLIGHT)),
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.prefix))
        }
    }

    /// The key of an object relative to this store's prefix.
    fn key_of(&self, p: &ObjectPath) -> String {
        let full = p.as_ref();
        if self.prefix.is_empty() {
            full.to_string()
        } else {
            full.strip_prefix(&self.prefix)
                .map(|k| k.trim_start_matches('/'))
                .unwrap_or(full)
                .to_string()
        }
    }

    fn info(&self, m: &ObjectMeta) -> ObjectInfo {
        ObjectInfo {
            key: self.key_of(&m.location),
            size: m.size,
            modified: Some(m.last_modified.into()),
            etag: m.e_tag.clone(),
        }
    }

    fn error(&self, key: &str, op: &'static str, e: object_store::Error) -> Error {
        store_error(self.url(key), op, e)
    }

    fn put_options(meta: PutMeta) -> PutOptions {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, meta.content_type.into());
        if let Some(cc) = meta.cache_control {
            attributes.insert(Attribute::CacheControl, cc.into());
        }
        PutOptions {
            attributes,
            ..Default::default()
        }
    }
}

impl Store for S3Store {
    fn root(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn put(&self, key: &str, bytes: Vec<u8>, meta: PutMeta) -> Result<()> {
        let (client, path, opts) = (self.client.clone(), self.path(key), Self::put_options(meta));
        block(async move { client.put_opts(&path, bytes.into(), opts).await })
            .map(|_| ())
            .map_err(|e| self.error(key, "put", e))
    }

    fn put_async(&self, key: &str, bytes: Vec<u8>, meta: PutMeta) -> Result<()> {
        let slots = self.slots.clone();
        let permit = block(async move { slots.acquire_owned().await })
            .expect("the upload semaphore is never closed");
        let (client, path, opts) = (self.client.clone(), self.path(key), Self::put_options(meta));
        let url = self.url(key);
        let upload = runtime().spawn(async move {
            let _permit = permit;
            client
                .put_opts(&path, bytes.into(), opts)
                .await
                .map(|_| ())
                .map_err(|e| store_error(url, "put", e))
        });
        let mut pending = self.pending.lock().expect("not poisoned");
        pending.push(upload);
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let handles = std::mem::take(&mut *self.pending.lock().expect("not poisoned"));
        let root = self.root();
        block(async move {
            let mut first = None;
            for h in handles {
                let r = match h.await {
                    Ok(r) => r,
                    Err(e) => Err(Error::Store {
                        url: root.clone(),
                        op: "put",
                        fault: StoreFault::Unavailable,
                        message: format!("upload task failed: {e}"),
                        source: Some(Box::new(e)),
                    }),
                };
                if let Err(e) = r {
                    first.get_or_insert(e);
                }
            }
            first.map_or(Ok(()), Err)
        })
    }

    fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool> {
        let (client, path) = (self.client.clone(), self.path(key));
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Self::put_options(PutMeta::PRIVATE)
        };
        match block(async move { client.put_opts(&path, bytes.into(), opts).await }) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.error(key, "create", e)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let (client, path) = (self.client.clone(), self.path(key));
        match block(async move { client.get(&path).await?.bytes().await }) {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key, "get", e)),
        }
    }

    fn get_versioned(&self, key: &str) -> Result<Option<Versioned>> {
        let (client, path) = (self.client.clone(), self.path(key));
        let got = block(async move {
            let r = client.get(&path).await?;
            let etag = r.meta.e_tag.clone();
            Ok::<_, object_store::Error>((r.bytes().await?, etag))
        });
        match got {
            Ok((b, Some(version))) => Ok(Some(Versioned {
                bytes: b.to_vec(),
                version,
            })),
            Ok((_, None)) => Err(Error::store(
                self.url(key),
                "get",
                StoreFault::Refused,
                "the store gave the object no ETag, so it cannot be updated conditionally",
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key, "get", e)),
        }
    }

    fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        meta: PutMeta,
        expected: Option<&str>,
    ) -> Result<bool> {
        let (client, path) = (self.client.clone(), self.path(key));
        let mode = match expected {
            None => PutMode::Create,
            Some(e) => PutMode::Update(UpdateVersion {
                e_tag: Some(e.to_string()),
                version: None,
            }),
        };
        let opts = PutOptions {
            mode,
            ..Self::put_options(meta)
        };
        match block(async move { client.put_opts(&path, bytes.into(), opts).await }) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error(key, "put", e)),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        let (client, path) = (self.client.clone(), self.path(key));
        match block(async move { client.delete(&path).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(key, "delete", e)),
        }
    }

    fn get_range(&self, key: &str, range: Range<u64>, etag: Option<&str>) -> Result<Vec<u8>> {
        let (client, path) = (self.client.clone(), self.path(key));
        let want = range.end.saturating_sub(range.start);
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range.start..range.end)),
            if_match: etag.map(str::to_string),
            ..Default::default()
        };
        let shorter = |got: u64| {
            Error::store(
                self.url(key),
                "get",
                StoreFault::OutOfRange,
                format!(
                    "byte range {}..{} is past the end of the object ({got} bytes)",
                    range.start, range.end
                ),
            )
        };
        let bytes = match block(async move { client.get_opts(&path, opts).await?.bytes().await }) {
            Ok(b) => b,
            Err(object_store::Error::Precondition { path, source }) => {
                return Err(Error::Store {
                    url: self.url(key),
                    op: "get",
                    fault: StoreFault::Replaced,
                    message: "the object was replaced after its jobs were planned".into(),
                    source: Some(Box::new(object_store::Error::Precondition { path, source })),
                })
            }
            Err(e) => {
                // A range the object cannot satisfy is an HTTP 416, which the client reports
                // as a generic error: the object's size tells it from an outage.
                let e = self.error(key, "get", e);
                return match self.head(key) {
                    Ok(Some(info)) if info.size < range.end => Err(shorter(info.size)),
                    _ => Err(e),
                };
            }
        };
        if bytes.len() as u64 != want {
            return Err(shorter(range.start + bytes.len() as u64));
        }
        Ok(bytes.to_vec())
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let (client, path) = (self.client.clone(), self.path(key));
        match block(async move { client.head(&path).await }) {
            Ok(m) => Ok(Some(self.info(&m))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key, "head", e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        // object_store lists whole path segments: list the directory part, filter the rest.
        let dir = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let (client, base) = (self.client.clone(), self.path(dir));
        let root = dir.is_empty() && self.prefix.is_empty();
        let metas = block(async move {
            let mut s = client.list(if root { None } else { Some(&base) });
            let mut out = Vec::new();
            while let Some(m) = s.next().await {
                out.push(m?);
            }
            Ok::<_, object_store::Error>(out)
        })
        .map_err(|e| self.error(prefix, "list", e))?;
        let mut out: Vec<ObjectInfo> = metas
            .iter()
            .map(|m| self.info(m))
            .filter(|o| o.key.starts_with(prefix))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = prefix.trim_end_matches('/');
        let (client, base) = (self.client.clone(), self.path(dir));
        let root = dir.is_empty() && self.prefix.is_empty();
        let r = block(async move {
            client
                .list_with_delimiter(if root { None } else { Some(&base) })
                .await
        })
        .map_err(|e| self.error(prefix, "list", e))?;
        let mut names: Vec<String> = r
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// A multipart upload of 8 MiB parts read from the file, at most four in flight: the
    /// memory of an upload is bounded whatever the archive's size. S3 shows the object only
    /// when the upload completes; a failed one is aborted.
    fn upload(&self, key: &str, src: &Path, meta: PutMeta) -> Result<()> {
        const CHUNK: usize = 8 << 20;
        let (client, path) = (self.client.clone(), self.path(key));
        let opts = PutMultipartOptions {
            attributes: Self::put_options(meta).attributes,
            ..Default::default()
        };
        let src_owned = src.to_path_buf();
        let local = |e: std::io::Error| object_store::Error::Generic {
            store: "local file",
            source: Box::new(e),
        };
        let r = block(async move {
            use tokio::io::AsyncReadExt;
            let mut f = tokio::fs::File::open(&src_owned).await.map_err(local)?;
            let upload = client.put_multipart_opts(&path, opts).await?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, CHUNK);
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match f.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let _ = w.abort().await;
                        return Err(local(e));
                    }
                };
                if let Err(e) = w.wait_for_capacity(4).await {
                    let _ = w.abort().await;
                    return Err(e);
                }
                w.write(&buf[..n]);
            }
            w.finish().await.map(|_| ())
        });
        r.map_err(|e| self.error(key, "upload", e))
    }

    /// Streams the object into `dest` (for NetCDF, which needs a whole file, and for the
    /// chunker, which hashes and indexes a file once).
    fn download(&self, key: &str, dest: &Path) -> Result<ObjectInfo> {
        let (client, path, dest_owned) = (self.client.clone(), self.path(key), dest.to_path_buf());
        let local = |e: std::io::Error| object_store::Error::Generic {
            store: "local file",
            source: Box::new(e),
        };
        let r = block(async move {
            use tokio::io::AsyncWriteExt;
            let got = client.get(&path).await?;
            let meta = got.meta.clone();
            let mut stream = got.into_stream();
            let mut f = tokio::fs::File::create(&dest_owned).await.map_err(local)?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                f.write_all(chunk.as_ref()).await.map_err(local)?;
            }
            f.flush().await.map_err(local)?;
            Ok::<ObjectMeta, object_store::Error>(meta)
        });
        r.map(|m| self.info(&m))
            .map_err(|e| self.error(key, "download", e))
    }
}
