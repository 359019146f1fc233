//! Templates to HTML: the one minijinja environment every page renders
//! through, its filters, and the error page.
//!
//! Templates are compiled into the binary (`include_str!`), so the UI has
//! no files to install and no build step; minijinja escapes every value
//! put into a `.html` template, so nothing a user stored (a run name, a
//! tag, a log line) can become markup. The environment is built once, on
//! first use: it depends on nothing but the binary.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use minijinja::{Environment, Value};

/// The templates every page shares, by the name pages render them with.
const COMMON: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("error.html", include_str!("templates/error.html")),
    ("login.html", include_str!("templates/login.html")),
    ("overview.html", include_str!("templates/overview.html")),
];

/// Every template: the shared ones, and each section's own.
const TEMPLATES: &[&[(&str, &str)]] = &[
    COMMON,
    super::pipelines::TEMPLATES,
    super::experiments::TEMPLATES,
    super::models::TEMPLATES,
    super::admin::TEMPLATES,
];

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES.iter().copied().flatten() {
        env.add_template(name, source).unwrap_or_else(|e| panic!("template {name} does not parse: {e:#}"));
    }
    env.add_filter("time", time);
    env.add_filter("day", day);
    env.add_filter("ago", ago);
    env.add_filter("duration", duration);
    env.add_filter("num", num);
    env.add_filter("filesize", filesize);
    env.add_global("version", crate::VERSION);
    env
});

/// `template` rendered with `context`, or the error page when it cannot
/// be (a template's fault, logged).
pub(crate) fn render(template: &str, context: Value) -> Response {
    render_with_status(StatusCode::OK, template, context)
}

/// [`render`] with another status than 200.
pub(crate) fn render_with_status(status: StatusCode, template: &str, context: Value) -> Response {
    match ENVIRONMENT.get_template(template).and_then(|t| t.render(context)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("rendering {template}: {e:#}");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This page could not be drawn; the server log says why.",
            )
        }
    }
}

/// A page that says what went wrong, with `status`.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let context = minijinja::context! {
        status => status.as_u16(),
        reason => status.canonical_reason().unwrap_or("Error"),
        message,
    };
    match ENVIRONMENT.get_template("error.html").and_then(|t| t.render(context)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("rendering the error page: {e:#}");
            (status, message.to_owned()).into_response()
        }
    }
}

fn moment(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// Milliseconds since the epoch as `2026-12-03 17:59:14`, in UTC.
fn time(ms: Option<i64>) -> String {
    ms.and_then(moment).map_or_else(|| "—".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Milliseconds since the epoch as the day, `2026-12-03`.
fn day(ms: Option<i64>) -> String {
    ms.and_then(moment).map_or_else(|| "—".to_owned(), |t| t.format("%Y-%m-%d").to_string())
}

/// How long ago a moment was, in the largest unit that fits.
fn ago(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "—".to_owned() };
    let seconds = (Utc::now().timestamp_millis() - ms) / 1000;
    match seconds {
        s if s < 0 => "just now".to_owned(),
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

/// A span of milliseconds as `850 ms`, `12.3 s`, `4m 05s` or `2h 03m`.
pub(crate) fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms.filter(|ms| *ms >= 0) else { return "—".to_owned() };
    match ms {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        ms if ms < 3_600_000 => format!("{}m {:02}s", ms / 60_000, ms % 60_000 / 1000),
        ms => format!("{}h {:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// A file's size in bytes as `740 B`, `12.5 KiB` or `3.2 MiB`.
fn filesize(bytes: Option<u64>) -> String {
    let Some(bytes) = bytes else { return String::new() };
    let units = ["KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes as f64;
    if size < 1024.0 {
        return format!("{bytes} B");
    }
    let mut unit = units[0];
    for next in units {
        unit = next;
        size /= 1024.0;
        if size < 1024.0 {
            break;
        }
    }
    format!("{size:.1} {unit}")
}

/// A metric's value, short: four significant digits, integers as such.
pub(crate) fn num(value: Value) -> String {
    let Ok(x) = f64::try_from(value.clone()) else { return value.to_string() };
    if !x.is_finite() {
        return x.to_string();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..=8).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = usize::try_from((3 - magnitude).max(0)).unwrap_or(0);
    let text = format!("{x:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES.iter().copied().flatten() {
            assert!(ENVIRONMENT.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn values_are_written_short() {
        assert_eq!(num(Value::from(0.966_666_7)), "0.9667");
        assert_eq!(num(Value::from(12.0)), "12");
        assert_eq!(num(Value::from(1234.5678)), "1235");
        assert_eq!(num(Value::from(0.000_012_3)), "1.230e-5");
        assert_eq!(duration(Some(850)), "850 ms");
        assert_eq!(duration(Some(65_000)), "1m 05s");
        assert_eq!(duration(Some(7_380_000)), "2h 03m");
        assert_eq!(duration(None), "—");
        assert_eq!(time(Some(0)), "1970-01-01 00:00:00");
        assert_eq!(filesize(Some(740)), "740 B");
        assert_eq!(filesize(Some(12_800)), "12.5 KiB");
        assert_eq!(filesize(Some(3 << 20)), "3.0 MiB");
    }
}
