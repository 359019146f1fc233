//! Who is asking, from the credentials of a request, answered from memory.
//!
//! Checking a password costs an argon2id hash (tens of milliseconds, on
//! purpose) and a token a database read; a client that sends its
//! credentials with every request (MLflow's does) must not pay that every
//! time. [`Sessions`] remembers each credential that checked out, by its
//! SHA-256 digest, for [`REMEMBER_FOR`]; a change made in this process
//! (a new password, a deleted user, a revoked token) forgets them all at
//! once, and one made by another process (the CLI) is seen when the
//! memory expires.
//!
//! It also holds the short-lived tokens that exist only in memory: those
//! the scheduler gives each task instance for its run
//! (`task:PIPELINE/RUN/TASK`) and those the server gives its own parts
//! (the serving watcher). They are never written anywhere, and they stop
//! working when their holder ends them or when they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::users::{Role, TOKEN_PREFIX, digest, new_secret};
use crate::SqlStore;
use crate::error::Result;

/// How long a credential that checked out is believed without a new check.
pub(crate) const REMEMBER_FOR: Duration = Duration::from_secs(60);

/// Past this many remembered credentials, expired ones are swept out.
const SWEEP_ABOVE: usize = 10_000;

/// The longest password checked at all: a longer one is wrong without
/// being hashed, so a 10 MB "password" costs nothing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Who a request acts as, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// A user's name, or `task:PIPELINE/RUN/TASK` for a task instance, or
    /// `retrain:PART` for a part of the server itself.
    pub name: String,
    /// What the caller may do.
    pub role: Role,
}

#[derive(Debug)]
struct Entry {
    caller: Caller,
    until: Instant,
    /// Issued in memory (a task's or the server's own), not a cached check.
    issued: bool,
}

/// Credentials that checked out, and tokens issued in memory, by digest.
#[derive(Debug, Default)]
pub struct Sessions {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A token for `name` with `role`, valid for `ttl` or until
    /// [`Sessions::end`]; kept in memory only.
    pub fn issue(&self, name: &str, role: Role, ttl: Duration) -> String {
        let secret = new_secret();
        let entry =
            Entry { caller: Caller { name: name.into(), role }, until: Instant::now() + ttl, issued: true };
        self.insert(digest(&secret), entry);
        secret
    }

    /// Ends a token from [`Sessions::issue`]: it stops working at once.
    pub fn end(&self, secret: &str) {
        self.entries().remove(&digest(secret));
    }

    /// Ends every token issued in memory to the user `name` (their browser
    /// sessions, their `/auth/token` tokens): after a new password or the
    /// user's deletion, none of them may keep working.
    pub fn end_user(&self, name: &str) {
        self.entries().retain(|_, entry| !entry.issued || entry.caller.name != name);
    }

    /// Gives every token issued in memory to the user `name` the new
    /// `role`, so a signed-in browser acts with it from its next request.
    pub fn change_role(&self, name: &str, role: Role) {
        for entry in self.entries().values_mut().filter(|entry| entry.issued && entry.caller.name == name) {
            entry.caller.role = role;
        }
    }

    /// Forgets every remembered check (not the issued tokens), so the next
    /// request of each credential is checked against the database again.
    pub fn forget_checks(&self) {
        self.entries().retain(|_, entry| entry.issued);
    }

    fn recall(&self, key: &str) -> Option<Caller> {
        let mut entries = self.entries();
        match entries.get(key) {
            Some(entry) if entry.until > Instant::now() => Some(entry.caller.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn remember(&self, key: String, caller: Caller, until: Instant) {
        self.insert(key, Entry { caller, until, issued: false });
    }

    fn insert(&self, key: String, entry: Entry) {
        let mut entries = self.entries();
        if entries.len() >= SWEEP_ABOVE {
            let now = Instant::now();
            entries.retain(|_, entry| entry.until > now);
        }
        entries.insert(key, entry);
    }
}

impl SqlStore {
    /// The in-memory sessions of this store: issued tokens and remembered
    /// checks.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The caller `name` signs in as with `password`, if the password is
    /// theirs; `None` for an unknown user and a wrong password alike.
    pub async fn caller_for_password(&self, name: &str, password: &str) -> Result<Option<Caller>> {
        if password.len() > MAX_PASSWORD_BYTES || name.len() > MAX_PASSWORD_BYTES {
            return Ok(None);
        }
        let key = digest(&format!("password\0{name}\0{password}"));
        if let Some(caller) = self.sessions.recall(&key) {
            return Ok(Some(caller));
        }
        let Some(user) = self.authenticate(name, password).await? else { return Ok(None) };
        let caller = Caller { name: user.name, role: user.role };
        self.sessions.remember(key, caller.clone(), Instant::now() + REMEMBER_FOR);
        Ok(Some(caller))
    }

    /// The caller a bearer token acts as: one issued in memory, or an API
    /// token of a user that exists and has not expired.
    pub async fn caller_for_token(&self, secret: &str) -> Result<Option<Caller>> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > MAX_PASSWORD_BYTES {
            return Ok(None);
        }
        let key = digest(secret);
        if let Some(caller) = self.sessions.recall(&key) {
            return Ok(Some(caller));
        }
        let Some((user, expires_at)) = self.user_for_token(secret).await? else { return Ok(None) };
        let caller = Caller { name: user.name, role: user.role };
        let mut until = Instant::now() + REMEMBER_FOR;
        if let Some(at) = expires_at {
            let left = u64::try_from(at - crate::db::now_ms()).unwrap_or(0);
            until = until.min(Instant::now() + Duration::from_millis(left));
        }
        self.sessions.remember(key, caller.clone(), until);
        Ok(Some(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_works_until_it_is_ended() {
        let sessions = Sessions::default();
        let secret = sessions.issue("task:p/r/t", Role::Editor, Duration::from_secs(60));
        let caller = sessions.recall(&digest(&secret)).expect("issued");
        assert_eq!(caller, Caller { name: "task:p/r/t".into(), role: Role::Editor });
        sessions.forget_checks();
        assert!(sessions.recall(&digest(&secret)).is_some(), "forgetting checks keeps issued tokens");
        sessions.end(&secret);
        assert!(sessions.recall(&digest(&secret)).is_none());
    }

    #[test]
    fn a_users_issued_tokens_follow_their_role_and_end_with_them() {
        let sessions = Sessions::default();
        let ana = sessions.issue("ana", Role::Editor, Duration::from_secs(60));
        let bob = sessions.issue("bob", Role::Editor, Duration::from_secs(60));
        sessions.change_role("ana", Role::Viewer);
        assert_eq!(sessions.recall(&digest(&ana)).map(|c| c.role), Some(Role::Viewer));
        assert_eq!(sessions.recall(&digest(&bob)).map(|c| c.role), Some(Role::Editor));
        sessions.end_user("ana");
        assert!(sessions.recall(&digest(&ana)).is_none());
        assert!(sessions.recall(&digest(&bob)).is_some(), "another user's session stays");
    }

    #[test]
    fn an_expired_entry_is_not_recalled() {
        let sessions = Sessions::default();
        let secret = sessions.issue("retrain:serving", Role::Viewer, Duration::ZERO);
        assert!(sessions.recall(&digest(&secret)).is_none());
    }
}
