//! Secret variables encrypted at rest, as Airflow does with its
//! `fernet_key`: whoever reads the metadata database (a backup, a shared
//! PostgreSQL) sees Fernet tokens, not passwords. The key is kept apart
//! from the database: `RETRAIN_SECRET_KEY`, else `.retrain/secret_key`
//! in the project (mode 0600), generated the first time it is needed.
//! Fernet (AES-128-CBC with an HMAC-SHA256) is Airflow's choice too, so a
//! key from Python's `Fernet.generate_key()` works here as well.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use fernet::Fernet;

use crate::project::paths;

/// The environment variable that gives the key, overriding the key file.
pub const KEY_ENV: &str = "RETRAIN_SECRET_KEY";

/// What a key looks like, for error messages.
const KEY_FORMAT: &str =
    "a Fernet key is the URL-safe base64 of 32 bytes, as Python's Fernet.generate_key() prints";

/// Why a secret cannot be encrypted or decrypted.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `RETRAIN_SECRET_KEY` is set to something that is not a Fernet key.
    #[error("{KEY_ENV} is not a Fernet key ({KEY_FORMAT})")]
    MalformedEnvKey,
    /// The key file holds something that is not a Fernet key.
    #[error("{path} is not a Fernet key ({KEY_FORMAT}); restore it from a backup, or set {KEY_ENV}", path = .0.display())]
    MalformedKeyFile(PathBuf),
    /// The key file cannot be read or written.
    #[error("cannot {action} {path}: {source}", path = .path.display())]
    Io {
        /// What was tried: `read`, `write`, …
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A stored value is not a token this key made.
    #[error(
        "secret variable '{name}' cannot be decrypted with the key from {origin}: was it encrypted with another key? see `retrain secrets rotate-key`"
    )]
    Undecryptable {
        /// The variable.
        name: String,
        /// Where the key came from.
        origin: String,
    },
    /// A secret variable is to be encrypted or decrypted, and there is no key.
    #[error(
        "secret variable '{name}' needs the secret key, and neither {KEY_ENV} nor {} holds one",
        paths::SECRET_KEY
    )]
    NoKey {
        /// The variable.
        name: String,
    },
}

/// A Fernet key and where it came from.
#[derive(Clone)]
pub struct SecretKey {
    fernet: Fernet,
    text: String,
    origin: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> SecretKey {
        SecretKey::parse(&Fernet::generate_key(), "a new key").expect("Fernet generates valid keys")
    }

    fn parse(text: &str, origin: &str) -> Option<SecretKey> {
        let text = text.trim();
        Fernet::new(text).map(|fernet| SecretKey { fernet, text: text.to_owned(), origin: origin.to_owned() })
    }

    /// The key in `RETRAIN_SECRET_KEY`, `None` when it is unset or empty.
    pub fn from_env() -> Result<Option<SecretKey>, SecretError> {
        match std::env::var(KEY_ENV).ok().filter(|k| !k.trim().is_empty()) {
            Some(text) => SecretKey::parse(&text, KEY_ENV).map(Some).ok_or(SecretError::MalformedEnvKey),
            None => Ok(None),
        }
    }

    /// The project's key: `RETRAIN_SECRET_KEY`, else the key file under
    /// `root`; `None` when there is neither.
    pub fn load(root: &Path) -> Result<Option<SecretKey>, SecretError> {
        match SecretKey::from_env()? {
            Some(key) => Ok(Some(key)),
            None => SecretKey::from_file(root),
        }
    }

    /// The project's key, generating the key file under `root` when there
    /// is no key yet.
    pub fn load_or_create(root: &Path) -> Result<SecretKey, SecretError> {
        match SecretKey::load(root)? {
            Some(key) => Ok(key),
            None => SecretKey::create_file(root),
        }
    }

    /// Whether the key is `RETRAIN_SECRET_KEY`'s rather than the key file's.
    pub fn is_from_env(&self) -> bool {
        self.origin == KEY_ENV
    }

    fn from_file(root: &Path) -> Result<Option<SecretKey>, SecretError> {
        let path = root.join(paths::SECRET_KEY);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SecretError::Io { action: "read", path, source }),
        };
        SecretKey::parse(&text, paths::SECRET_KEY).map(Some).ok_or(SecretError::MalformedKeyFile(path))
    }

    fn create_file(root: &Path) -> Result<SecretKey, SecretError> {
        let key = SecretKey::generate();
        key.stage(root)?.install()?;
        tracing::info!("generated the key secret variables are encrypted with, in {}", paths::SECRET_KEY);
        Ok(SecretKey { origin: paths::SECRET_KEY.to_owned(), ..key })
    }

    /// Writes the key next to the project's key file (mode 0600), to be
    /// moved over it by [`StagedKey::install`]: what a rotation writes
    /// before re-encrypting, so that the new key is on disk before any
    /// value needs it.
    pub fn stage(&self, root: &Path) -> Result<StagedKey, SecretError> {
        let target = root.join(paths::SECRET_KEY);
        let temp = target.with_extension("new");
        let io = |action, source| SecretError::Io { action, path: temp.clone(), source };
        if let Some(dir) = temp.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|e| io("write", e))?;
        writeln!(file, "{}", self.text).and_then(|()| file.sync_all()).map_err(|e| io("write", e))?;
        Ok(StagedKey { temp: Some(temp), target })
    }

    /// `clear` encrypted into a Fernet token.
    pub fn encrypt(&self, clear: &str) -> String {
        self.fernet.encrypt(clear.as_bytes())
    }

    /// The clear value of the secret variable `name`, stored as `token`.
    pub fn decrypt(&self, name: &str, token: &str) -> Result<String, SecretError> {
        let undecryptable =
            || SecretError::Undecryptable { name: name.to_owned(), origin: self.origin.clone() };
        let clear = self.fernet.decrypt(token).map_err(|_| undecryptable())?;
        String::from_utf8(clear).map_err(|_| undecryptable())
    }
}

/// A key written beside the key file, not yet in its place; dropped
/// without [`StagedKey::install`], it is removed.
#[derive(Debug)]
pub struct StagedKey {
    temp: Option<PathBuf>,
    target: PathBuf,
}

impl StagedKey {
    /// Moves the key over the key file, in one rename.
    pub fn install(mut self) -> Result<(), SecretError> {
        let Some(temp) = self.temp.take() else { return Ok(()) };
        std::fs::rename(&temp, &self.target).map_err(|source| SecretError::Io {
            action: "replace",
            path: self.target.clone(),
            source,
        })
    }
}

impl Drop for StagedKey {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_comes_back_and_is_not_kept_in_clear() {
        let key = SecretKey::generate();
        let token = key.encrypt("s3cret-value");
        assert!(!token.contains("s3cret-value"));
        assert_ne!(token, key.encrypt("s3cret-value"), "each encryption has its own IV");
        assert_eq!(key.decrypt("DB_PASSWORD", &token).unwrap(), "s3cret-value");
    }

    #[test]
    fn another_key_cannot_decrypt_and_says_so() {
        let token = SecretKey::generate().encrypt("s3cret-value");
        let error = SecretKey::generate().decrypt("DB_PASSWORD", &token).unwrap_err().to_string();
        assert!(error.contains("'DB_PASSWORD'"), "{error}");
        assert!(error.contains("another key"), "{error}");
        assert!(error.contains("retrain secrets rotate-key"), "{error}");
    }

    #[test]
    fn a_key_file_is_created_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(paths::SECRET_KEY);
        assert!(SecretKey::from_file(dir.path()).unwrap().is_none());
        let created = SecretKey::create_file(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!path.with_extension("new").exists());
        let token = created.encrypt("value");
        let loaded = SecretKey::from_file(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.decrypt("X", &token).unwrap(), "value");
        assert!(!loaded.is_from_env());
    }

    #[test]
    fn a_key_file_that_is_not_a_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(paths::SECRET_KEY);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not-a-key\n").unwrap();
        let error = SecretKey::from_file(dir.path()).unwrap_err();
        assert!(matches!(&error, SecretError::MalformedKeyFile(p) if p == &path), "{error}");
        assert!(error.to_string().contains("32 bytes"), "{error}");
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(SecretKey::parse("not-a-key", KEY_ENV).is_none());
        // Base64 of 16 bytes: valid encoding, wrong length.
        assert!(SecretKey::parse("AAAAAAAAAAAAAAAAAAAAAA==", KEY_ENV).is_none());
        assert!(
            SecretError::MalformedEnvKey.to_string().starts_with("RETRAIN_SECRET_KEY is not a Fernet key")
        );
    }

    #[test]
    fn a_staged_key_dropped_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let staged = SecretKey::generate().stage(dir.path()).unwrap();
        let temp = dir.path().join(paths::SECRET_KEY).with_extension("new");
        assert!(temp.exists());
        drop(staged);
        assert!(!temp.exists());
        assert!(!dir.path().join(paths::SECRET_KEY).exists());
    }
}
