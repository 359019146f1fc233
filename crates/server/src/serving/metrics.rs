//! Prometheus metrics of model serving: requests by status, latency,
//! the version in service, reloads and failed reloads.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::http::StatusCode;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::model::ServedModel;

/// Metric labels: `model`, and `status` for requests.
type Labels = Vec<(String, String)>;

/// Request, error, latency and reload metrics of every served model, in
/// one Prometheus registry whose names start `retrain_serving_`.
#[derive(Debug)]
pub struct ServingMetrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    version: Family<Labels, Gauge>,
    last_reload: Family<Labels, Gauge<f64, AtomicU64>>,
    reload_failures: Family<Labels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 50 µs to ~1.6 s.
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

impl Default for ServingMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("retrain_serving");
        let requests = Family::<Labels, Counter>::default();
        let latency =
            Family::<_, _, fn() -> Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let version = Family::<Labels, Gauge>::default();
        let last_reload = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let reload_failures = Family::<Labels, Counter>::default();
        registry.register("requests", "Scoring requests by model and HTTP status", requests.clone());
        registry.register("request_duration_seconds", "Time to answer a scoring request", latency.clone());
        registry.register("model_version", "The registry version being served", version.clone());
        registry.register(
            "last_reload_timestamp_seconds",
            "When the served model was last (re)loaded",
            last_reload.clone(),
        );
        registry.register("reload_failures", "New versions that failed to load", reload_failures.clone());
        ServingMetrics { registry, requests, latency, version, last_reload, reload_failures }
    }
}

fn model_label(name: &str) -> Labels {
    vec![("model".to_owned(), name.to_owned())]
}

impl ServingMetrics {
    /// Counts a scoring request of `model` answered with `status`, and
    /// how long it took.
    pub(crate) fn observe(&self, model: &str, status: StatusCode, elapsed: Duration) {
        let mut labels = model_label(model);
        labels.push(("status".into(), status.as_u16().to_string()));
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&model_label(model)).observe(elapsed.as_secs_f64());
    }

    /// Records that `served` is now in service.
    pub(crate) fn loaded(&self, served: &ServedModel) {
        let labels = model_label(&served.name);
        self.version.get_or_create(&labels).set(served.version.parse().unwrap_or(0));
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        self.last_reload.get_or_create(&labels).set(now);
    }

    /// Counts a new version of `model` that failed to load.
    pub(crate) fn reload_failed(&self, model: &str) {
        self.reload_failures.get_or_create(&model_label(model)).inc();
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
