//! Notification channels, defined in retrain.yaml and used by `on_failure`
//! alerts and `notify` tasks: Telegram (Bot API `sendMessage`), e-mail
//! (SMTP, STARTTLS by default), a generic webhook (Slack-compatible JSON)
//! and a log file. Credentials come from environment variables named in
//! the config, never from the file itself.
//!
//! A channel that is down is retried a few times; alerts then give up with
//! a log line (the scheduler never fails because an alert did), while a
//! `notify` task fails so its run shows it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use serde_json::json;

use crate::redact::Redactor;

/// A notification channel as retrain.yaml's `notifications` defines it, tagged
/// by `type`; credentials are named by environment variable, never written in
/// the file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Channel {
    /// Appends to a file (`logs/notifications.log` by default).
    Log {
        /// The file, relative to the project directory; `None` is
        /// `logs/notifications.log`.
        path: Option<PathBuf>,
    },
    /// Telegram's Bot API `sendMessage`.
    Telegram {
        /// The environment variable holding the bot token (`TELEGRAM_BOT_TOKEN`
        /// by default).
        #[serde(default = "telegram_token_env")]
        token_env: String,
        /// The environment variable holding the chat id (`TELEGRAM_CHAT_ID` by
        /// default).
        #[serde(default = "telegram_chat_env")]
        chat_id_env: String,
        /// The Bot API's address, `https://api.telegram.org` unless a test or a
        /// proxy says otherwise.
        #[serde(default = "telegram_base_url")]
        base_url: String,
    },
    /// E-mail over SMTP; the first line of the message is the subject.
    Email {
        /// The SMTP server's host name.
        host: String,
        /// The SMTP port, 587 by default.
        #[serde(default = "smtp_port")]
        port: u16,
        /// How the connection is encrypted, STARTTLS by default.
        #[serde(default)]
        tls: Tls,
        /// The sender's address (`name <addr>` or a bare address).
        from: String,
        /// The recipients' addresses; at least one is needed.
        to: Vec<String>,
        /// The environment variable holding the SMTP user name; without it (or
        /// the password) no login is tried.
        username_env: Option<String>,
        /// The environment variable holding the SMTP password.
        password_env: Option<String>,
    },
    /// POSTs `{"text": …}`; the URL is given or read from `url_env`.
    Webhook {
        /// The address to POST to.
        url: Option<String>,
        /// The environment variable holding the address, when `url` is not
        /// given.
        url_env: Option<String>,
    },
}

/// How an e-mail channel encrypts its SMTP connection.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Tls {
    /// Plain text upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain text, for a relay on the same machine.
    None,
}

fn telegram_token_env() -> String {
    "TELEGRAM_BOT_TOKEN".into()
}
fn telegram_chat_env() -> String {
    "TELEGRAM_CHAT_ID".into()
}
fn telegram_base_url() -> String {
    "https://api.telegram.org".into()
}
fn smtp_port() -> u16 {
    587
}

/// Sends messages to the configured channels.
#[derive(Debug, Clone)]
pub struct Notifier {
    channels: BTreeMap<String, Channel>,
    /// Where relative log-channel paths start.
    root: PathBuf,
    attempts: u32,
    retry_delay: Duration,
    /// Built on the first message: loading the system's root certificates
    /// costs milliseconds that every task process would otherwise pay.
    http: OnceLock<reqwest::Client>,
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A task or pipeline names a channel retrain.yaml does not define.
    #[error("unknown notification channel '{name}'; retrain.yaml defines: {defined}")]
    UnknownChannel {
        /// The channel asked for.
        name: String,
        /// The channels retrain.yaml defines, comma-separated.
        defined: String,
    },
    /// An environment variable the channel reads (a token, an address) is not
    /// set; the value is its name.
    #[error("environment variable {0} is not set")]
    MissingVariable(String),
    /// The channel's settings cannot work (no address, a malformed one).
    #[error("{0}")]
    Settings(String),
    /// A log channel's file could not be written.
    #[error("cannot write {path}", path = .path.display())]
    Log {
        /// The file.
        path: PathBuf,
        /// Why it could not be written.
        source: std::io::Error,
    },
    /// The service could not be reached (DNS, connection, timeout).
    #[error("{service} is unreachable")]
    Unreachable {
        /// `Telegram` or `webhook`.
        service: &'static str,
        /// The transport error, without the URL (a Telegram URL holds the
        /// token).
        source: reqwest::Error,
    },
    /// The service answered but did not take the message.
    #[error("{service} answered {answer}")]
    Refused {
        /// `Telegram` or `webhook`.
        service: &'static str,
        /// The HTTP status, and Telegram's description when it gave one.
        answer: String,
    },
    /// The SMTP server could not be reached or refused the message.
    #[error("SMTP {host}:{port}")]
    Smtp {
        /// The SMTP server.
        host: String,
        /// Its port.
        port: u16,
        /// What the SMTP client reported.
        source: lettre::transport::smtp::Error,
    },
    /// Every try failed; `last` is the last try's error with its causes,
    /// secrets masked.
    #[error("channel '{name}' failed after {attempts} attempts: {last}")]
    GaveUp {
        /// The channel.
        name: String,
        /// How many tries were made.
        attempts: u32,
        /// The last try's error.
        last: String,
    },
    /// Several channels failed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<NotifyError>),
}

fn env(name: &str) -> Result<String, NotifyError> {
    std::env::var(name).map_err(|_| NotifyError::MissingVariable(name.to_owned()))
}

impl Notifier {
    pub(crate) fn new(channels: BTreeMap<String, Channel>, root: PathBuf) -> Notifier {
        Notifier { channels, root, attempts: 3, retry_delay: Duration::from_secs(2), http: OnceLock::new() }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap_or_default()
        })
    }

    pub(crate) fn has_channel(&self, name: &str) -> bool {
        self.channels.contains_key(name)
    }

    pub(crate) fn channel_names(&self) -> Vec<&str> {
        self.channels.keys().map(String::as_str).collect()
    }

    /// Sends to every named channel; fails if any channel still fails
    /// after its retries (the others are still sent to).
    pub async fn send_all(&self, channels: &[&str], text: &str) -> Result<(), NotifyError> {
        let mut errors = Vec::new();
        for name in channels {
            if let Err(e) = self.send(name, text).await {
                errors.push(e);
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(NotifyError::Several(errors)),
        }
    }

    /// Sends with retries; never fails, only logs (for alerts).
    pub async fn alert(&self, channels: &[String], text: &str) {
        for name in channels {
            if let Err(e) = self.send(name, text).await {
                tracing::error!(channel = %name, "alert not delivered: {e}");
            }
        }
    }

    /// Sends to one channel, trying again after a growing delay.
    pub async fn send(&self, name: &str, text: &str) -> Result<(), NotifyError> {
        let channel = self.channels.get(name).ok_or_else(|| NotifyError::UnknownChannel {
            name: name.to_owned(),
            defined: self.channel_names().join(", "),
        })?;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.deliver(channel, text).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    last = Redactor::from_env().redact(&retrain_ml::error_chain(&e));
                    tracing::warn!(channel = %name, attempt, "notification failed: {last}");
                    if attempt < self.attempts {
                        tokio::time::sleep(self.retry_delay * attempt).await;
                    }
                }
            }
        }
        Err(NotifyError::GaveUp { name: name.to_owned(), attempts: self.attempts, last })
    }

    async fn deliver(&self, channel: &Channel, text: &str) -> Result<(), NotifyError> {
        match channel {
            Channel::Log { path } => {
                let path = self.root.join(
                    path.clone().unwrap_or_else(|| PathBuf::from(crate::project::paths::NOTIFICATIONS_LOG)),
                );
                let line = format!("{} {}\n", chrono::Utc::now().to_rfc3339(), text.replace('\n', " | "));
                let append = || -> std::io::Result<()> {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
                    file.write_all(line.as_bytes())
                };
                append().map_err(|source| NotifyError::Log { path: path.clone(), source })
            }
            Channel::Telegram { token_env, chat_id_env, base_url } => {
                let token = env(token_env)?;
                let chat_id = env(chat_id_env)?;
                let url = format!("{}/bot{token}/sendMessage", base_url.trim_end_matches('/'));
                let response = self
                    .http()
                    .post(&url)
                    .json(&json!({"chat_id": chat_id, "text": text}))
                    .send()
                    .await
                    .map_err(|e| NotifyError::Unreachable { service: "Telegram", source: e.without_url() })?;
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if status.is_success() && body.get("ok") == Some(&json!(true)) {
                    Ok(())
                } else {
                    let why = body.get("description").and_then(|d| d.as_str()).unwrap_or("no description");
                    Err(NotifyError::Refused { service: "Telegram", answer: format!("{status}: {why}") })
                }
            }
            Channel::Webhook { url, url_env } => {
                let url = match (url, url_env) {
                    (Some(url), _) => url.clone(),
                    (None, Some(name)) => env(name)?,
                    (None, None) => {
                        return Err(NotifyError::Settings("webhook needs 'url' or 'url_env'".into()));
                    }
                };
                let response =
                    self.http().post(&url).json(&json!({"text": text})).send().await.map_err(|e| {
                        NotifyError::Unreachable { service: "webhook", source: e.without_url() }
                    })?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(NotifyError::Refused { service: "webhook", answer: response.status().to_string() })
                }
            }
            Channel::Email { host, port, tls, from, to, username_env, password_env } => {
                send_mail(host, *port, *tls, from, to, username_env.as_deref(), password_env.as_deref(), text)
                    .await
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_mail(
    host: &str,
    port: u16,
    tls: Tls,
    from: &str,
    to: &[String],
    username_env: Option<&str>,
    password_env: Option<&str>,
    text: &str,
) -> Result<(), NotifyError> {
    let settings = NotifyError::Settings;
    let from: Mailbox = from.parse().map_err(|e| settings(format!("bad 'from' address '{from}': {e}")))?;
    let subject: String = text.lines().next().unwrap_or("retrain").chars().take(120).collect();
    let mut builder = Message::builder().from(from).subject(subject);
    if to.is_empty() {
        return Err(settings("e-mail channel has no 'to' address".into()));
    }
    for address in to {
        builder = builder
            .to(address.parse().map_err(|e| settings(format!("bad 'to' address '{address}': {e}")))?);
    }
    let message =
        builder.body(text.to_owned()).map_err(|e| settings(format!("cannot build the e-mail: {e}")))?;
    let smtp = |source| NotifyError::Smtp { host: host.to_owned(), port, source };
    let mut transport = match tls {
        Tls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
        Tls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
        Tls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)),
    }
    .map_err(smtp)?
    .port(port)
    .timeout(Some(Duration::from_secs(15)));
    if let (Some(user), Some(password)) = (username_env, password_env) {
        transport = transport.credentials(Credentials::new(env(user)?, env(password)?));
    }
    transport.build().send(message).await.map(drop).map_err(smtp)
}
