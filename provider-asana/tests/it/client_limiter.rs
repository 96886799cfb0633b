//! The per-client concurrency limiter: at most 50 GETs and 15 writes in flight.
//!
//! Each mock response is delayed by `DELAY`, so a request can only start after an earlier one
//! finished: with a limit of N, the (k+N)-th arrival comes at least `DELAY` after the k-th.

use crate::client_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_support::client;
use futures::future::join_all;
use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DELAY: Duration = Duration::from_millis(400);
/// Slack for thread scheduling between the server's clock readings.
const SLACK: Duration = Duration::from_millis(30);

#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<Instant>>>);

impl Respond for Arrivals {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": {"gid": "1"}}))
            .set_delay(DELAY)
    }
}

impl Arrivals {
    /// Asserts that at most `limit` requests overlapped and that `limit` did overlap.
    fn assert_limit(&self, limit: usize, total: usize) {
        let mut arrivals = self.0.lock().unwrap().clone();
        arrivals.sort();
        assert_eq!(arrivals.len(), total);
        for k in limit..total {
            let gap = arrivals[k] - arrivals[k - limit];
            assert!(
                gap + SLACK >= DELAY,
                "request {k} started {gap:?} after request {}: more than {limit} in flight",
                k - limit
            );
        }
        let first_wave = arrivals[limit - 1] - arrivals[0];
        assert!(
            first_wave < DELAY,
            "the first {limit} requests did not run concurrently ({first_wave:?})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_fifty_gets_in_flight() {
    let server = MockServer::start().await;
    let arrivals = Arrivals::default();
    Mock::given(method("GET"))
        .and(path_regex("^/api/1.0/tasks/"))
        .respond_with(arrivals.clone())
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let calls = (0..60).map(|i| {
        let client = client.clone();
        async move { client.tasks().get(&i.to_string(), &[]).await }
    });
    let results = join_all(calls).await;

    assert!(results.iter().all(Result::is_ok));
    arrivals.assert_limit(50, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_fifteen_writes_in_flight_shared_by_clones() {
    let server = MockServer::start().await;
    let arrivals = Arrivals::default();
    Mock::given(method("PUT"))
        .and(path_regex("^/api/1.0/tasks/"))
        .respond_with(arrivals.clone())
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let calls = (0..20).map(|i| {
        let client = client.clone();
        async move {
            client
                .tasks()
                .update(&i.to_string(), &json!({"completed": true}))
                .await
        }
    });
    let results = join_all(calls).await;

    assert!(results.iter().all(Result::is_ok));
    arrivals.assert_limit(15, 20);
}
