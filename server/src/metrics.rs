//! The service's metrics, answered at `GET /metrics` in Prometheus' text format: requests by
//! method, route template and status; the latency of executes; token refreshes; Asana's 429s.
//!
//! Written by hand: four metric families need no registry crate, and the text format is a few
//! lines per family. Every label value comes from a bounded set (the router's route templates,
//! a fixed list of methods, status codes), so the metrics' memory is bounded whatever clients
//! send.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode};

/// The content type of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The upper bounds, in seconds, of the execute latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The label of requests that matched no route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// The service's counters, shared by the `edge` layer, the handlers and the connectors' clients.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Requests by route template, then by method and status: a known route is counted
    /// without allocating.
    requests: Mutex<BTreeMap<String, RouteCounts>>,
    execute: Mutex<Histogram>,
    refreshes: AtomicU64,
    upstream_rate_limited: AtomicU64,
}

/// One route's requests by method and status.
type RouteCounts = BTreeMap<(&'static str, u16), u64>;

#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket of [`LATENCY_BUCKETS`] (not cumulative), then those above all.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Metrics {
    /// Counts one answered request by its route template (never the raw path, which holds
    /// ids), method and status.
    pub(crate) fn answered(
        &self,
        template: Option<&MatchedPath>,
        method: &Method,
        status: StatusCode,
    ) {
        let route = template.map_or(UNMATCHED, MatchedPath::as_str);
        let key = (method_label(method), status.as_u16());
        let mut requests = lock(&self.requests);
        let counts = match requests.get_mut(route) {
            Some(counts) => counts,
            None => requests.entry(route.to_string()).or_default(),
        };
        *counts.entry(key).or_default() += 1;
    }

    /// Records how long one execute took.
    pub(crate) fn execute_latency(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        let mut histogram = lock(&self.execute);
        histogram.buckets[bucket] += 1;
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// Counts one refresh of a connector's access token.
    pub(crate) fn refreshed(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one call that Asana answered 429.
    pub(crate) fn upstream_rate_limited(&self) {
        self.upstream_rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// The metrics in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "integrations_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
        );
        for (route, counts) in lock(&self.requests).iter() {
            let route = escape(route);
            for ((method, status), count) in counts {
                let _ = writeln!(
                    out,
                    "integrations_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}",
                );
            }
        }
        family(
            &mut out,
            "integrations_execute_duration_seconds",
            "histogram",
            "How long executes took, from the request's authentication to its answer.",
        );
        {
            let histogram = lock(&self.execute);
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "integrations_execute_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "integrations_execute_duration_seconds_bucket{{le=\"+Inf\"}} {}\n\
                 integrations_execute_duration_seconds_sum {}\n\
                 integrations_execute_duration_seconds_count {}",
                histogram.count, histogram.sum, histogram.count
            );
        }
        for (name, help, value) in [
            (
                "integrations_token_refreshes_total",
                "Connectors' access tokens refreshed and stored.",
                &self.refreshes,
            ),
            (
                "integrations_upstream_rate_limited_total",
                "Calls to Asana that ended in its 429 (after the client's retries).",
                &self.upstream_rate_limited,
            ),
        ] {
            family(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_counts_the_slow_ones_in_inf_only() {
        let metrics = Metrics::default();
        metrics.execute_latency(Duration::from_millis(3));
        metrics.execute_latency(Duration::from_millis(200));
        metrics.execute_latency(Duration::from_secs(60));
        let text = metrics.render();
        for line in [
            "integrations_execute_duration_seconds_bucket{le=\"0.005\"} 1",
            "integrations_execute_duration_seconds_bucket{le=\"0.1\"} 1",
            "integrations_execute_duration_seconds_bucket{le=\"0.25\"} 2",
            "integrations_execute_duration_seconds_bucket{le=\"30\"} 2",
            "integrations_execute_duration_seconds_bucket{le=\"+Inf\"} 3",
            "integrations_execute_duration_seconds_count 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("integrations_execute_duration_seconds_sum "))
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - 60.203).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn an_unusual_method_is_one_label() {
        let metrics = Metrics::default();
        for method in [&b"BREW"[..], b"FETCH"] {
            let method = Method::from_bytes(method).unwrap();
            metrics.answered(None, &method, StatusCode::NOT_FOUND);
        }
        assert!(metrics.render().lines().any(|l| l
            == "integrations_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 2"));
    }
}
