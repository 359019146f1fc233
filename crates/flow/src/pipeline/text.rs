//! Values pipeline files and commands write alike: dates, durations, and
//! YAML errors told with their line.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

/// A YAML error's line and its message without the location the
/// message repeats ("error: line 3 column 5: …").
pub fn yaml_error(error: &serde_saphyr::Error) -> (Option<u32>, String) {
    let line = error.location().map(|l| l.line() as u32);
    let text = error.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML");
    let message = first
        .strip_prefix("error: ")
        .and_then(|rest| rest.strip_prefix("line "))
        .and_then(|rest| rest.split_once(": "))
        .map_or(first, |(_, message)| message);
    (line, message.to_owned())
}

/// Text that is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a date (YYYY-MM-DD) or an RFC 3339 time")]
pub struct BadDate(pub String);

/// Text that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a duration; write e.g. 30s, 10m, 6h, 1d or 1h 30m")]
pub struct BadDuration(pub String);

/// `2026-11-01` (midnight UTC) or an RFC 3339 time.
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, BadDate> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(text).map(|d| d.with_timezone(&Utc)).map_err(|_| BadDate(text.to_owned()))
}

/// `500ms`, `30s`, `10m`, `6h`, `1d`, `1h 30m`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let text = text.trim();
    let bad = || BadDuration(text.to_owned());
    match text.parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds).map_err(|_| bad()),
        Err(_) => humantime::parse_duration(text).map_err(|_| bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_airflow_users_write_them() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("ten").is_err());
    }
}
