//! Secrets stay out of logs: values of environment variables whose names
//! say they are secret (`*TOKEN*`, `*PASSWORD*`, …) are masked in task
//! output, as Airflow's secrets masker does, and such variables are never
//! printed in full.

const SECRET_MARKERS: [&str; 8] =
    ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL"];

/// Short values would mask ordinary words; they are not treated as secrets.
const MIN_SECRET_LEN: usize = 4;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Whether a variable's name marks its value as secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

/// Masks known secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Masks the values of this process's secret environment variables.
    pub fn from_env() -> Redactor {
        Redactor::from_env_and([])
    }

    /// Masks the values of this process's secret environment variables and
    /// `values` too (the clear values of secret variables).
    pub fn from_env_and(values: impl IntoIterator<Item = String>) -> Redactor {
        Redactor::new(std::env::vars().filter(|(k, _)| is_secret_name(k)).map(|(_, v)| v).chain(values))
    }

    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = values.into_iter().filter(|v| v.len() >= MIN_SECRET_LEN).collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }

    /// `text` with every secret in it replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_masked() {
        let r = Redactor::new(["s3cr3t-token".to_owned(), "abc".to_owned()]);
        assert_eq!(r.redact("calling with s3cr3t-token now"), "calling with *** now");
        assert_eq!(r.redact("abc stays"), "abc stays");
        assert!(is_secret_name("TELEGRAM_BOT_TOKEN"));
        assert!(is_secret_name("smtp_password"));
        assert!(!is_secret_name("min_accuracy"));
    }
}
