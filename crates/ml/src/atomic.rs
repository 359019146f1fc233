//! Atomic writes: a reader sees the old file or the new one, never half.
//!
//! Files are written to a temporary sibling, fsynced and renamed over the
//! target. Directories (a model is one) are staged whole in a temporary
//! sibling directory and swapped in with renames, so a crash mid-write
//! leaves at worst a stray `.tmp` directory next to an intact target.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = parent_dir(path);
    fs::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".retrain-")
        .suffix(".tmp")
        .tempfile_in(&parent)
        .map_err(|e| Error::write(path, e))?;
    tmp.write_all(bytes).map_err(|e| Error::write(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::write(path, e))?;
    tmp.persist(path).map_err(|e| Error::write(path, e.error))?;
    sync_dir(&parent);
    Ok(())
}

/// Replaces the directory `dir` with one holding exactly `files`
/// (name, contents), atomically from a reader's point of view.
pub fn write_dir(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    let parent = parent_dir(dir);
    fs::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".retrain-")
        .suffix(".tmp")
        .tempdir_in(&parent)
        .map_err(|e| Error::write(dir, e))?;
    for (name, bytes) in files {
        let path = staging.path().join(name);
        let mut file = fs::File::create(&path).map_err(|e| Error::write(&path, e))?;
        file.write_all(bytes).map_err(|e| Error::write(&path, e))?;
        file.sync_all().map_err(|e| Error::write(&path, e))?;
    }
    sync_dir(staging.path());
    let staged = staging.keep();
    if dir.exists() {
        let old = sibling(dir, "old");
        fs::rename(dir, &old).map_err(|e| Error::write(dir, e))?;
        if let Err(e) = fs::rename(&staged, dir) {
            // Put the previous version back; the new one is lost, not half-written.
            let _ = fs::rename(&old, dir);
            let _ = fs::remove_dir_all(&staged);
            return Err(Error::write(dir, e));
        }
        let _ = fs::remove_dir_all(&old);
    } else if let Err(e) = fs::rename(&staged, dir) {
        let _ = fs::remove_dir_all(&staged);
        return Err(Error::write(dir, e));
    }
    sync_dir(&parent);
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    parent_dir(path).join(format!(".{name}.{tag}-{}-{nanos}", std::process::id()))
}

/// Makes a rename durable. Best effort: not every filesystem allows
/// opening a directory for fsync.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_file_replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.csv");
        write_file(&path, b"one").unwrap();
        write_file(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn write_dir_replaces_whole_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("model");
        write_dir(&target, &[("a", b"1"), ("stale", b"x")]).unwrap();
        write_dir(&target, &[("a", b"2")]).unwrap();
        assert_eq!(fs::read(target.join("a")).unwrap(), b"2");
        assert!(!target.join("stale").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
