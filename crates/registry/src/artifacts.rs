//! Artifact storage behind the proxied artifact API: a local directory by
//! default, through `object_store` so other backends plug in behind the
//! same calls. Keys are the paths after `mlflow-artifacts:/`, e.g.
//! `1/<run_id>/artifacts/model/MLmodel`.
//!
//! Writes go to a temporary file and are renamed into place by
//! `object_store`'s local backend, so a reader never sees half a file.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;

use crate::error::{Result, StoreError};

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
    pub path: String,
    pub is_dir: bool,
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
    /// Opens the artifact destination: a local directory (created if
    /// missing) given as a path or `file://` URI.
    pub fn open(destination: &str) -> Result<ArtifactStore> {
        let dir = destination.strip_prefix("file://").unwrap_or(destination);
        if dir.contains("://") {
            return Err(StoreError::invalid(format!(
                "unsupported artifact destination '{destination}': use a local directory"
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::internal(format!("cannot create artifact directory {dir}: {e}")))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| StoreError::internal(format!("cannot open artifact directory {dir}: {e}")))?;
        let location =
            std::fs::canonicalize(dir).map(|p| p.display().to_string()).unwrap_or_else(|_| dir.to_string());
        Ok(ArtifactStore { store: Arc::new(store), location, local_root: Some(dir.into()) })
    }

    pub async fn put(&self, path: &str, bytes: Bytes) -> Result<()> {
        let key = checked_path(path)?;
        if key.as_ref().is_empty() {
            return Err(StoreError::invalid("an artifact upload needs a file path"));
        }
        self.store.put(&key, PutPayload::from(bytes)).await.map_err(object_error)?;
        Ok(())
    }

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
            full.strip_prefix(base).map(|r| r.trim_start_matches('/')).unwrap_or(full).to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_lists_and_deletes_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(dir.path().join("artifacts").to_str().unwrap()).unwrap();
        store.put("1/run/artifacts/model/MLmodel", Bytes::from_static(b"flavors: {}")).await.unwrap();
        store.put("1/run/artifacts/notes.txt", Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(store.get("1/run/artifacts/notes.txt").await.unwrap(), Bytes::from_static(b"hello"));
        let files = store.list("1/run/artifacts", "1/run/artifacts").await.unwrap();
        assert_eq!(
            files,
            vec![
                FileInfo { path: "model".into(), is_dir: true, file_size: None },
                FileInfo { path: "notes.txt".into(), is_dir: false, file_size: Some(5) },
            ]
        );
        let nested = store.list("1/run/artifacts/model", "1/run/artifacts").await.unwrap();
        assert_eq!(nested[0].path, "model/MLmodel");
        assert!(store.list("1/none", "1/none").await.unwrap().is_empty());
        store.delete("1/run/artifacts/model").await.unwrap();
        assert_eq!(store.list("1/run/artifacts", "1/run/artifacts").await.unwrap().len(), 1);
        let missing = store.get("1/run/artifacts/model/MLmodel").await.unwrap_err();
        assert_eq!(missing.code, crate::ErrorCode::ResourceDoesNotExist);
        for bad in ["../etc/passwd", "1/../../x", "/etc/passwd", "a\\b"] {
            assert_eq!(
                store.put(bad, Bytes::new()).await.unwrap_err().code,
                crate::ErrorCode::InvalidParameterValue,
                "{bad}"
            );
        }
    }
}
