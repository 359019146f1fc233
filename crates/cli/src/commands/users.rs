//! `retrain users …`: who may use the server, their roles, their passwords
//! and their API tokens, in the project's metadata database. A password is
//! asked for on the terminal (twice, without echo) or read from standard
//! input with `--password-stdin`; it is never an argument, where it would
//! stay in the shell's history and the process list.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;
use retrain_flow::project::{Project, paths};
use retrain_registry::{Role, SqlStore, generate_password, now_ms};
use strum::VariantNames;

use super::{UsageError, timestamp};

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user; the password is asked for (or read with --password-stdin).
    Add {
        /// The name the user signs in with.
        name: String,
        /// What the user may do: viewer (read, score), editor (also write
        /// runs, register, promote, trigger), admin (also users).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every user and their role.
    List,
    /// Set a user's password.
    Passwd {
        /// The user.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user and their tokens (not the last admin).
    Delete {
        /// The user.
        name: String,
    },
    /// API tokens: for scripts and clients (`Authorization: Bearer …`).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token for a user; its secret is shown this once.
    Create {
        /// The user the token acts as.
        name: String,
        /// How long it works, e.g. 90d or 12h; without it, until revoked.
        #[arg(long, value_parser = retrain_flow::pipeline::parse_duration)]
        expires: Option<Duration>,
    },
    /// Tokens (never their secrets), of one user or of everyone.
    List {
        /// Only this user's.
        name: Option<String>,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's id, as `users token list` shows it.
        id: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse().map_err(|_| format!("'{text}' is not a role; use one of {}", Role::VARIANTS.join(", ")))
}

/// The new password: a line of standard input, or asked twice on the terminal.
fn new_password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "no terminal to ask for the password on; give it with --password-stdin".into(),
        )
        .into());
    }
    let first = rpassword::prompt_password("password: ").context("cannot read the password")?;
    let second = rpassword::prompt_password("again: ").context("cannot read the password")?;
    if first != second {
        return Err(UsageError("the two passwords differ; nothing changed".into()).into());
    }
    Ok(first)
}

/// A moment that may not have happened: `-` when it has not.
fn when(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".into(), timestamp)
}

pub(crate) fn run(command: UsersCommand) -> Result<()> {
    let project = Project::open(&std::env::current_dir().context("cannot read the current directory")?)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store =
            SqlStore::connect(&project.config.backend_store_uri, retrain_server::ARTIFACT_ROOT).await?;
        match command {
            UsersCommand::Add { name, role, password_stdin } => {
                let password = new_password(password_stdin)?;
                store.add_user(&name, role, &password).await?;
                println!("added {name} ({role})");
            }
            UsersCommand::List => {
                println!("{:<24} {:<8} added", "user", "role");
                for user in store.users().await? {
                    println!("{:<24} {:<8} {}", user.name, user.role, timestamp(user.created_at));
                }
            }
            UsersCommand::Passwd { name, password_stdin } => {
                let password = new_password(password_stdin)?;
                store.set_password(&name, &password).await?;
                println!("changed the password of {name}");
            }
            UsersCommand::Delete { name } => {
                store.delete_user(&name).await?;
                println!("deleted {name} and their tokens");
            }
            UsersCommand::Token(TokenCommand::Create { name, expires }) => {
                let expires_at = expires.map(|d| now_ms().saturating_add(d.as_millis() as i64));
                let token = store.create_token(&name, expires_at).await?;
                eprintln!("token {} for {name}; copy it now, it is not shown again:", token.id);
                println!("{}", token.secret);
            }
            UsersCommand::Token(TokenCommand::List { name }) => {
                println!("{:<34} {:<16} {:<17} {:<17} last used", "id", "user", "created", "expires");
                for token in store.tokens(name.as_deref()).await? {
                    println!(
                        "{:<34} {:<16} {:<17} {:<17} {}",
                        token.id,
                        token.user,
                        timestamp(token.created_at),
                        when(token.expires_at),
                        when(token.last_used_at)
                    );
                }
            }
            UsersCommand::Token(TokenCommand::Revoke { id }) => {
                store.revoke_token(&id).await?;
                println!("revoked token {id}");
            }
        }
        Ok(())
    })
}

/// The variable that gives the first admin's password.
const ADMIN_PASSWORD_ENV: &str = "RETRAIN_ADMIN_PASSWORD";

/// The user the first start adds.
const FIRST_ADMIN: &str = "admin";

/// Makes sure someone can sign in to `retrain up` in `root`: on the first
/// start (no user yet) adds `admin` with the password from
/// `RETRAIN_ADMIN_PASSWORD`, or a generated one shown this once and kept
/// in `.retrain/admin_password` (mode 0600). Later starts change nothing.
/// Returns how to sign in, for the terminal.
pub(crate) async fn first_admin(store: &SqlStore, root: &Path) -> Result<String> {
    let kept = root.join(paths::ADMIN_PASSWORD);
    if store.has_users().await? {
        return Ok(if kept.exists() {
            format!("sign in as {FIRST_ADMIN} with the password in {}", paths::ADMIN_PASSWORD)
        } else {
            "sign in with your user name and password (`retrain users list` shows the users)".to_owned()
        });
    }
    if let Some(password) = std::env::var(ADMIN_PASSWORD_ENV).ok().filter(|p| !p.is_empty()) {
        store
            .add_user(FIRST_ADMIN, Role::Admin, &password)
            .await
            .map_err(|e| UsageError(format!("{ADMIN_PASSWORD_ENV}: {}", e.message)))?;
        return Ok(format!("sign in as {FIRST_ADMIN} with the password in {ADMIN_PASSWORD_ENV}"));
    }
    let password = generate_password();
    // Written before the user exists: if the write fails, there is no
    // admin whose password no one has, and the next start tries again.
    write_private(&kept, &password)?;
    store.add_user(FIRST_ADMIN, Role::Admin, &password).await?;
    Ok(format!(
        "sign in as {FIRST_ADMIN} with password {password}\n  (shown this once; it is kept in {}, readable by you only)",
        paths::ADMIN_PASSWORD
    ))
}

/// Writes `text` to `path`, readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{text}").with_context(|| format!("cannot write {}", path.display()))
}
