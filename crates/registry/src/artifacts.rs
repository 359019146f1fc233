//! Artifact storage behind the proxied artifact API, through
//! `object_store`: a local directory by default, or an S3-compatible
//! bucket (`s3://bucket/prefix`; the endpoint from
//! `MLFLOW_S3_ENDPOINT_URL` or `AWS_ENDPOINT_URL`, credentials from the
//! usual `AWS_*` variables, so MinIO works). Keys are the paths after
//! `mlflow-artifacts:/`, e.g. `1/<run_id>/artifacts/model/MLmodel`.
//!
//! A reader never sees half a file: the local backend writes a temporary
//! file and renames it into place, and an S3 object appears whole when its
//! upload completes.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;

use crate::error::{Result, StoreError};

/// Files behind the artifact API: a local directory or an S3-compatible bucket.
#[derive(Debug)]
pub struct ArtifactStore {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store, whose emptied directories are
    /// removed on delete (a local file system keeps them; object stores
    /// have no directories).
    local_root: Option<std::path::PathBuf>,
    /// Where artifacts live, for messages and `root_uri`s.
    pub location: String,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileInfo {
    /// The entry's path, relative to the directory the listing was asked
    /// relative to.
    pub path: String,
    /// Whether it is a directory (a common prefix, in object-store terms).
    pub is_dir: bool,
    /// A file's size in bytes; `None` for a directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

fn object_error(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { path, .. } => {
            StoreError::not_found(format!("Artifact '{path}' does not exist"))
        }
        other => StoreError::internal(format!("artifact storage: {other}")),
    }
}

/// A relative artifact path, with `..`, absolute paths and empty segments
/// refused.
pub fn checked_path(path: &str) -> Result<ObjectPath> {
    let trimmed = path.trim_matches('/');
    let bad = path.starts_with('/') && path.len() > 1
        || path.contains('\\')
        || trimmed.split('/').any(|s| s == ".." || s == ".");
    if bad {
        return Err(StoreError::invalid(format!(
            "invalid artifact path '{path}': use a relative path without '..'"
        )));
    }
    ObjectPath::parse(trimmed)
        .map_err(|e| StoreError::invalid(format!("invalid artifact path '{path}': {e}")))
}

impl ArtifactStore {
    /// Opens the artifact destination: `s3://bucket[/prefix]`, or a local
    /// directory (created if missing) given as a path or `file://` URI.
    pub fn open(destination: &str) -> Result<ArtifactStore> {
        if let Some(rest) = destination.strip_prefix("s3://") {
            return Self::open_s3(destination, rest);
        }
        let dir = destination.strip_prefix("file://").unwrap_or(destination);
        if dir.contains("://") {
            return Err(StoreError::invalid(format!(
                "unsupported artifact destination '{destination}': use a local directory or s3://bucket/prefix"
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::internal(format!("cannot create artifact directory {dir}: {e}")))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| StoreError::internal(format!("cannot open artifact directory {dir}: {e}")))?;
        let location =
            std::fs::canonicalize(dir).map(|p| p.display().to_string()).unwrap_or_else(|_| dir.to_owned());
        Ok(ArtifactStore { store: Arc::new(store), location, local_root: Some(dir.into()) })
    }

    fn open_s3(destination: &str, rest: &str) -> Result<ArtifactStore> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::invalid(format!("artifact destination '{destination}' names no bucket")));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let endpoint = std::env::var("MLFLOW_S3_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT_URL"));
        if let Ok(endpoint) = endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false)
                .with_endpoint(endpoint);
        }
        if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
            builder = builder.with_region("us-east-1");
        }
        let s3 = builder.build().map_err(|e| {
            StoreError::invalid(format!("cannot use artifact destination '{destination}': {e}"))
        })?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> =
            if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) };
        Ok(ArtifactStore { store, location: destination.to_owned(), local_root: None })
    }

    /// Stores `bytes` at the relative `path`, replacing what was there; an
    /// empty or escaping path is refused as invalid.
    pub async fn put(&self, path: &str, bytes: Bytes) -> Result<()> {
        let key = checked_path(path)?;
        if key.as_ref().is_empty() {
            return Err(StoreError::invalid("an artifact upload needs a file path"));
        }
        self.store.put(&key, PutPayload::from(bytes)).await.map_err(object_error)?;
        Ok(())
    }

    /// The bytes of the file at the relative `path`; a missing file is
    /// `RESOURCE_DOES_NOT_EXIST`.
    pub async fn get(&self, path: &str) -> Result<Bytes> {
        let key = checked_path(path)?;
        let result = self.store.get(&key).await.map_err(object_error)?;
        result.bytes().await.map_err(object_error)
    }

    /// Files and directories directly under `dir`, with paths relative to
    /// `relative_to` (a prefix of `dir`), sorted.
    pub async fn list(&self, dir: &str, relative_to: &str) -> Result<Vec<FileInfo>> {
        let key = checked_path(dir)?;
        let prefix = (!key.as_ref().is_empty()).then_some(&key);
        let listing = match self.store.list_with_delimiter(prefix).await {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(object_error(e)),
        };
        let base = checked_path(relative_to)?;
        let relative = |p: &ObjectPath| -> String {
            let full = p.as_ref();
            let base = base.as_ref();
            full.strip_prefix(base).map(|r| r.trim_start_matches('/')).unwrap_or(full).to_owned()
        };
        let mut files: Vec<FileInfo> = listing
            .common_prefixes
            .iter()
            .map(|p| FileInfo { path: relative(p), is_dir: true, file_size: None })
            .chain(listing.objects.iter().map(|o| FileInfo {
                path: relative(&o.location),
                is_dir: false,
                file_size: Some(o.size),
            }))
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// Deletes a file, or everything under a directory.
    pub async fn delete(&self, path: &str) -> Result<()> {
        let key = checked_path(path)?;
        if key.as_ref().is_empty() {
            return Err(StoreError::invalid("refusing to delete the artifact root"));
        }
        let nested: Vec<ObjectPath> =
            self.store.list(Some(&key)).map_ok(|o| o.location).try_collect().await.map_err(object_error)?;
        if nested.is_empty() {
            self.store.delete(&key).await.map_err(object_error)?;
        }
        for location in nested {
            self.store.delete(&location).await.map_err(object_error)?;
        }
        if let Some(root) = &self.local_root {
            let dir = root.join(key.as_ref());
            if dir.is_dir() {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| StoreError::internal(format!("cannot remove {}: {e}", dir.display())))?;
            }
        }
        Ok(())
    }
}
