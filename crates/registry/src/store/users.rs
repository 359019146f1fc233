//! Users, their roles and their API tokens, in the metadata database.
//!
//! A password is kept as an argon2id hash and checked in constant time; a
//! token as the SHA-256 digest of its secret (a token is 256 random bits,
//! so a fast digest is enough, and it makes the lookup one indexed read).
//! An unknown user and a wrong password get the same answer, after the
//! same work, so that answers do not tell which names exist.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;
use strum::{AsRefStr, Display, EnumString, IntoStaticStr, VariantNames};

use super::sessions::MAX_PASSWORD_BYTES;
use crate::SqlStore;
use crate::db::{Arg, Sql, WriteTx, now_ms};
use crate::error::{Result, StoreError};
use crate::states::stored;

/// What a user may do. Each role may do everything the ones below it may.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    AsRefStr,
    Display,
    EnumString,
    IntoStaticStr,
    VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    /// Reads everything a role may read, and scores models.
    Viewer,
    /// Also writes runs, registers and promotes models, triggers and
    /// pauses pipelines, sets variables.
    Editor,
    /// Everything, users included.
    Admin,
}

/// A user as the store shows one: never with the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name the user signs in with.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// When the user was added (epoch ms).
    pub created_at: i64,
}

/// An API token as listed: never with its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// What `users token revoke` takes.
    pub id: String,
    /// The user the token acts as.
    pub user: String,
    /// When it was made (epoch ms).
    pub created_at: i64,
    /// When it stops working (epoch ms); `None`: never.
    pub expires_at: Option<i64>,
    /// When it last authenticated a request (epoch ms, to the minute);
    /// `None`: never.
    pub last_used_at: Option<i64>,
}

/// A token just made: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token's id.
    pub id: String,
    /// The secret a client sends as `Authorization: Bearer SECRET`.
    pub secret: String,
}

/// The fewest characters a chosen password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Where every token's secret starts, so one is recognisable in a leak scan.
pub(crate) const TOKEN_PREFIX: &str = "rt_";

/// How many characters a generated password has (the policy asks for at
/// least 12).
const GENERATED_PASSWORD_CHARS: usize = 24;

/// A new password of random letters and digits (about 140 bits), for an
/// account no one has chosen a password for yet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let random = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    random
        .iter()
        .flat_map(|u| u.as_bytes().to_vec())
        .take(GENERATED_PASSWORD_CHARS)
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect()
}

/// A new token secret: the prefix and 244 random bits.
pub(crate) fn new_secret() -> String {
    format!("{TOKEN_PREFIX}{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// How stale a token's last-use time may be before a request records a new
/// one: a token that authenticates every request costs a write a minute,
/// not a write a request.
const LAST_USE_RESOLUTION_MS: i64 = 60_000;

fn check_user_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@');
    if name.is_empty() || name.chars().count() > 64 || !name.chars().all(allowed) {
        return Err(StoreError::invalid(format!(
            "user name '{name}' must be 1 to 64 letters, digits, '_', '-', '.' or '@'"
        )));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StoreError::invalid(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    // A longer one could be set but never signed in with.
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(StoreError::invalid(format!("a password may have at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

/// An argon2id hash of `password`, computed off the async threads (it
/// takes tens of milliseconds on purpose).
async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string())
    })
    .await
    .map_err(|e| StoreError::internal(format!("password hashing stopped: {e}")))?
    .map_err(|e| StoreError::internal(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches `hash`; a hash that does not parse matches
/// nothing.
async fn password_matches(password: &str, hash: String) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

pub(crate) fn digest(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        name: row.try_get("name")?,
        role: stored("role", &row.try_get::<String, _>("role")?)?,
        created_at: row.try_get("created_at")?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

fn no_user(name: &str) -> StoreError {
    StoreError::not_found(format!("no user named '{name}'"))
}

/// The user `name`, read in the transaction that changes them.
async fn user_named(tx: &mut WriteTx, name: &str) -> Result<User> {
    let row = Sql::new("SELECT name, role, created_at FROM users WHERE name = ")
        .text_arg(name)
        .fetch_optional(&mut **tx)
        .await?;
    user_from_row(&row.ok_or_else(|| no_user(name))?)
}

/// Refuses `change` (`deleting it`) of the admin `name` when no other
/// admin exists.
async fn refuse_if_last_admin(tx: &mut WriteTx, name: &str, change: &str) -> Result<()> {
    let admins = Sql::new("SELECT COUNT(*) AS admins FROM users WHERE role = ")
        .text_arg(Role::Admin.as_ref())
        .fetch_one(&mut **tx)
        .await?;
    if admins.try_get::<i64, _>("admins")? <= 1 {
        return Err(StoreError::new(
            crate::ErrorCode::InvalidState,
            format!("'{name}' is the only admin; add another admin before {change}"),
        ));
    }
    Ok(())
}

impl SqlStore {
    /// Adds a user; a name that exists is `RESOURCE_ALREADY_EXISTS`.
    pub async fn add_user(&self, name: &str, role: Role, password: &str) -> Result<User> {
        check_user_name(name)?;
        check_password(password)?;
        let hash = hash_password(password).await?;
        let mut tx = self.write().await?;
        let exists =
            Sql::new("SELECT name FROM users WHERE name = ").text_arg(name).fetch_optional(&mut *tx).await?;
        if exists.is_some() {
            return Err(StoreError::exists(format!("a user named '{name}' exists already")));
        }
        let now = now_ms();
        let values = vec![
            Arg::Text(name.into()),
            Arg::Text(role.as_ref().into()),
            Arg::Text(hash),
            Arg::Int(now),
            Arg::Int(now),
        ];
        Sql::insert("users", &["name", "role", "password_hash", "created_at", "updated_at"], values)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(User { name: name.into(), role, created_at: now })
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<User>> {
        let rows =
            self.fetch_all(&Sql::new("SELECT name, role, created_at FROM users ORDER BY name")).await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Whether any user exists (the first start adds the admin).
    pub async fn has_users(&self) -> Result<bool> {
        Ok(self.fetch_optional(&Sql::new("SELECT name FROM users LIMIT 1")).await?.is_some())
    }

    /// Replaces a user's password; the sessions they signed in with here
    /// end (they sign in again with the new one).
    pub async fn set_password(&self, name: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = hash_password(password).await?;
        let mut sql = Sql::new("UPDATE users SET password_hash = ");
        sql.text_arg(hash).push(", updated_at = ").int_arg(now_ms()).push(" WHERE name = ").text_arg(name);
        if self.execute(&sql).await?.rows_affected() == 0 {
            return Err(no_user(name));
        }
        self.sessions.forget_checks();
        self.sessions.end_user(name);
        Ok(())
    }

    /// Gives a user another role, at once for their sessions here too. The
    /// last admin cannot become anything else: no one could add users again.
    pub async fn set_role(&self, name: &str, role: Role) -> Result<User> {
        let mut tx = self.write().await?;
        let user = user_named(&mut tx, name).await?;
        if user.role == Role::Admin && role != Role::Admin {
            refuse_if_last_admin(&mut tx, name, "making it another role").await?;
        }
        let mut sql = Sql::new("UPDATE users SET role = ");
        sql.text_arg(role.as_ref())
            .push(", updated_at = ")
            .int_arg(now_ms())
            .push(" WHERE name = ")
            .text_arg(name);
        sql.execute(&mut *tx).await?;
        tx.commit().await?;
        self.sessions.forget_checks();
        self.sessions.change_role(name, role);
        Ok(User { role, ..user })
    }

    /// Deletes a user and their tokens. The last admin cannot be deleted:
    /// no one could add users again.
    pub async fn delete_user(&self, name: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let user = user_named(&mut tx, name).await?;
        if user.role == Role::Admin {
            refuse_if_last_admin(&mut tx, name, "deleting it").await?;
        }
        Sql::new("DELETE FROM api_tokens WHERE user_name = ").text_arg(name).execute(&mut *tx).await?;
        Sql::new("DELETE FROM users WHERE name = ").text_arg(name).execute(&mut *tx).await?;
        tx.commit().await?;
        self.sessions.forget_checks();
        self.sessions.end_user(name);
        Ok(())
    }

    /// The user `name` if `password` is theirs; `None` for an unknown
    /// user and a wrong password alike, after the same work.
    pub(crate) async fn authenticate(&self, name: &str, password: &str) -> Result<Option<User>> {
        let row = self
            .fetch_optional(
                Sql::new("SELECT name, role, created_at, password_hash FROM users WHERE name = ")
                    .text_arg(name),
            )
            .await?;
        let Some(row) = row else {
            // Spend the time a real check takes, so timing tells nothing.
            let _ = password_matches(password, DUMMY_HASH.to_owned()).await;
            return Ok(None);
        };
        let hash: String = row.try_get("password_hash")?;
        if password_matches(password, hash).await { Ok(Some(user_from_row(&row)?)) } else { Ok(None) }
    }

    /// Makes a token for `user`, valid until `expires_at` (epoch ms;
    /// `None`: until revoked). Its secret is in the answer and nowhere else.
    pub async fn create_token(&self, user: &str, expires_at: Option<i64>) -> Result<NewToken> {
        let exists =
            self.fetch_optional(Sql::new("SELECT name FROM users WHERE name = ").text_arg(user)).await?;
        if exists.is_none() {
            return Err(no_user(user));
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let secret = new_secret();
        let values = vec![
            Arg::Text(id.clone()),
            Arg::Text(user.into()),
            Arg::Text(digest(&secret)),
            Arg::Int(now_ms()),
            expires_at.map_or(Arg::NullInt, Arg::Int),
        ];
        self.execute(&Sql::insert(
            "api_tokens",
            &["id", "user_name", "digest", "created_at", "expires_at"],
            values,
        ))
        .await?;
        Ok(NewToken { id, secret })
    }

    /// The tokens of `user`, or of everyone, newest first.
    pub async fn tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>> {
        let mut sql = Sql::new("SELECT id, user_name, created_at, expires_at, last_used_at FROM api_tokens");
        if let Some(user) = user {
            sql.push(" WHERE user_name = ").text_arg(user);
        }
        sql.push(" ORDER BY created_at DESC, id DESC");
        self.fetch_all(&sql).await?.iter().map(token_from_row).collect()
    }

    /// Revokes a token: it stops working at once.
    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        let done = self.execute(Sql::new("DELETE FROM api_tokens WHERE id = ").text_arg(id)).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!("no token with id '{id}'")));
        }
        self.sessions.forget_checks();
        Ok(())
    }

    /// The user a token's secret acts as and when the token expires, if it
    /// exists and has not expired; records that it was used (to the
    /// minute).
    pub(crate) async fn user_for_token(&self, secret: &str) -> Result<Option<(User, Option<i64>)>> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let now = now_ms();
        let row = self
            .fetch_optional(
                Sql::new(
                    "SELECT t.id, t.expires_at, t.last_used_at, u.name, u.role, u.created_at FROM api_tokens t \
                     JOIN users u ON u.name = t.user_name WHERE t.digest = ",
                )
                .text_arg(digest(secret)),
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: Option<i64> = row.try_get("expires_at")?;
        if expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let last_used_at: Option<i64> = row.try_get("last_used_at")?;
        if last_used_at.is_none_or(|at| now - at >= LAST_USE_RESOLUTION_MS) {
            let id: String = row.try_get("id")?;
            let mut touch = Sql::new("UPDATE api_tokens SET last_used_at = ");
            touch.int_arg(now).push(" WHERE id = ").text_arg(id);
            self.execute(&touch).await?;
        }
        Ok(Some((user_from_row(&row)?, expires_at)))
    }
}

/// An argon2id hash of a password no one has, checked against when the
/// user is unknown so that the answer takes as long as a real check.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_spelled_in_lowercase() {
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!("editor".parse::<Role>(), Ok(Role::Editor));
        assert_eq!(Role::Admin.as_ref(), "admin");
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate_password(), generate_password());
        assert!(a.chars().count() >= 12 && a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_stand_in_hash_is_a_real_one() {
        // If it did not parse, an unknown user would be answered faster.
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
