//! Limits on what one client may ask of the service: a per-application rate limit (a token
//! bucket per application, [`RateLimiter`]), a per-application bound on the calls to providers
//! in flight ([`InFlight`]) and the answer past a request's deadline ([`past_deadline`]; the
//! deadline itself is kept by `edge`).
//! The request body limit is axum's `DefaultBodyLimit`, set where the router is built.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

use crate::error::ApiError;

/// How long the service may take to answer a request unless configured; past it the answer is
/// 504.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How many requests per second an application may send to one instance unless configured.
pub const DEFAULT_RATE_LIMIT_PER_SECOND: u32 = 100;
/// How many requests an application may send at once to one instance unless configured.
pub const DEFAULT_RATE_LIMIT_BURST: u32 = 200;
/// How many calls to providers (executes, MCP tool calls) one application may have in flight at
/// one instance unless configured.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 64;

/// The most applications whose buckets are kept; past it, full (idle) buckets are forgotten
/// first, then the least recently used. A forgotten bucket starts full again, so forgetting one
/// only ever lets an application through.
const MAX_BUCKETS: usize = 100_000;

/// A token bucket per application: `burst` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    max_buckets: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter letting each key through `per_second` times a second, `burst` at once.
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        Self::bounded(per_second, burst, MAX_BUCKETS)
    }

    fn bounded(per_second: u32, burst: u32, max_buckets: usize) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            max_buckets: max_buckets.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from the application's bucket, or answers 429 with the time until one
    /// is available as `Retry-After`.
    pub(crate) fn admit(&self, application_id: &str) -> Result<(), ApiError> {
        self.check_at(application_id, Instant::now())
            .map_err(|wait| {
                ApiError::rate_limited(
                    "this application sends more requests than the service accepts; retry after the Retry-After delay",
                    Some(wait),
                )
            })
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= self.max_buckets {
            self.make_room(&mut buckets, now);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.burst)
    }

    fn make_room(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        buckets.retain(|_, bucket| self.refilled(bucket, now) < self.burst);
        if buckets.len() >= self.max_buckets {
            let oldest = buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                buckets.remove(&oldest);
            }
        }
    }
}

/// The calls to providers each application has in flight, at most `max` each, from when the
/// call is admitted until it returns (an execute: until its answer has been written to the
/// connection, [`Entered::hold`]): every such call holds
/// the provider's answer in memory (up to 16 MiB for a raw request, and its result beside it),
/// so the rate limit alone, whose burst lets a few hundred start at once, would let one
/// application take the memory every other needs.
#[derive(Debug)]
pub(crate) struct InFlight {
    max: u32,
    counts: Mutex<HashMap<String, u32>>,
}

/// One call counted in [`InFlight`] until it is dropped.
#[derive(Debug)]
pub(crate) struct Entered {
    in_flight: Arc<InFlight>,
    application_id: String,
}

impl InFlight {
    /// At most `max` calls in flight per application.
    pub(crate) fn new(max: u32) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            counts: Mutex::default(),
        })
    }

    /// Counts a call of the application's until the returned guard is dropped, or answers 429
    /// when it has `max` in flight already.
    pub(crate) fn enter(self: &Arc<Self>, application_id: &str) -> Result<Entered, ApiError> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match counts.get_mut(application_id) {
            Some(count) if *count >= self.max => {
                return Err(ApiError::rate_limited(
                    format!(
                        "this application has {} calls to providers in flight at this instance, the most it may; retry once one has been answered",
                        self.max
                    ),
                    Some(Duration::from_secs(1)),
                ));
            }
            Some(count) => *count += 1,
            None => {
                counts.insert(application_id.to_string(), 1);
            }
        }
        Ok(Entered {
            in_flight: self.clone(),
            application_id: application_id.to_string(),
        })
    }
}

/// The most a [`Held`] body hands hyper at once. hyper takes a body's frames into its write
/// queue while the queue holds less than about 400 KiB, and drops the body after its last
/// frame: an answer handed over as one frame would leave the body, and its count, at once,
/// while the whole answer waited in the queue for a client that may never read it.
const HELD_FRAME_BYTES: usize = 64 * 1024;

impl Entered {
    /// `response`, whose body keeps this call counted until all but its last few hundred KiB
    /// have been written to the connection (or the connection is gone): the answer stays in
    /// memory until then, also for a client that does not read it.
    pub(crate) fn hold(self, response: Response) -> Response {
        response.map(|body| {
            Body::new(Held {
                body,
                pending: Bytes::new(),
                _entered: self,
            })
        })
    }
}

/// A response body handed on in frames of at most [`HELD_FRAME_BYTES`], and the [`Entered`] it
/// keeps.
struct Held {
    body: Body,
    /// What is left of the frame the body gave last.
    pending: Bytes,
    _entered: Entered,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.pending.is_empty() {
            match std::task::ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.pending = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
        let n = self.pending.len().min(HELD_FRAME_BYTES);
        Poll::Ready(Some(Ok(Frame::data(self.pending.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.body.size_hint();
        let pending = self.pending.len() as u64;
        let mut hint = SizeHint::new();
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + pending);
        }
        hint.set_lower(inner.lower() + pending);
        hint
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let mut counts = self
            .in_flight
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.application_id) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.application_id);
            }
        }
    }
}

/// The answer to a request its handler did not answer within `timeout` (504, retryable). The
/// handler's work stops where it was: a request that may change something (any method but GET
/// and HEAD: an execute, a proxied write, a connector's creation) may have been carried out, so
/// its answer says `outcome_unknown`.
pub(crate) fn past_deadline(timeout: Duration, method: &Method) -> Response {
    let limit = timeout.as_millis();
    if matches!(*method, Method::GET | Method::HEAD) {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!("the request was not answered within the service's limit of {limit} ms; retry later"),
        )
    } else {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the request was not answered within the service's limit of {limit} ms, and may have been carried out: check before repeating a change; a read can be retried"
            ),
        )
        .outcome_unknown()
    }
    .retryable()
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_answer_keeps_its_call_counted_until_its_body_is_sent() {
        use http_body::Body as _;
        use http_body_util::BodyExt;

        let in_flight = InFlight::new(1);
        let answer: Vec<u8> = (0..150_000u32).map(|n| n as u8).collect();
        let response = in_flight
            .enter("a")
            .unwrap()
            .hold(answer.clone().into_response());
        assert_eq!(response.body().size_hint().exact(), Some(150_000));
        assert!(
            in_flight.enter("a").is_err(),
            "counted while its body waits"
        );
        let mut body = response.into_body();
        let mut sent = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= HELD_FRAME_BYTES);
            sent.extend_from_slice(&data);
            let left = answer.len() - sent.len();
            assert_eq!(body.size_hint().exact(), Some(left as u64));
            assert_eq!(body.is_end_stream(), left == 0);
            assert!(
                in_flight.enter("a").is_err(),
                "counted until the body is dropped"
            );
        }
        assert_eq!(sent, answer);
        drop(body);
        assert!(in_flight.enter("a").is_ok(), "released once sent");
    }

    #[test]
    fn an_application_has_at_most_max_calls_in_flight_and_others_are_not_held_up() {
        let in_flight = InFlight::new(2);
        let first = in_flight.enter("a").unwrap();
        let second = in_flight.enter("a").unwrap();
        let refused = in_flight.enter("a").unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.is_retryable());
        assert!(refused.message().contains("2 calls to providers in flight"));
        let other = in_flight.enter("b").unwrap();
        drop(first);
        let third = in_flight.enter("a").unwrap();
        drop((second, third, other));
        assert!(
            in_flight.counts.lock().unwrap().is_empty(),
            "an application with nothing in flight is forgotten"
        );
    }

    #[tokio::test]
    async fn past_the_deadline_a_request_that_may_change_something_has_an_unknown_outcome() {
        for (method, outcome_unknown) in [
            (Method::GET, None),
            (Method::HEAD, None),
            (Method::POST, Some(true)),
            (Method::PATCH, Some(true)),
            (Method::DELETE, Some(true)),
        ] {
            let response = past_deadline(Duration::from_millis(250), &method);
            assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["retryable"], true, "{method}");
            assert_eq!(
                body.get("outcome_unknown")
                    .and_then(serde_json::Value::as_bool),
                outcome_unknown,
                "{method}"
            );
        }
    }

    #[test]
    fn a_bucket_lets_its_burst_through_then_says_when_to_retry() {
        let limiter = RateLimiter::new(2, 3);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at("a", now), Ok(()));
        }
        assert_eq!(limiter.check_at("a", now), Err(Duration::from_millis(500)));
        assert_eq!(
            limiter.check_at("b", now),
            Ok(()),
            "another key has its own"
        );
        let later = now + Duration::from_millis(500);
        assert_eq!(limiter.check_at("a", later), Ok(()), "refilled");
        assert!(limiter.check_at("a", later).is_err());
    }

    #[test]
    fn the_default_lets_a_hundred_requests_through_in_the_same_instant() {
        let limiter = RateLimiter::new(DEFAULT_RATE_LIMIT_PER_SECOND, DEFAULT_RATE_LIMIT_BURST);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(limiter.check_at("app", now), Ok(()));
        }
    }

    #[test]
    fn the_buckets_are_bounded_and_forget_idle_ones_first() {
        let limiter = RateLimiter::bounded(1, 2, 2);
        let keys = |limiter: &RateLimiter| {
            let mut keys: Vec<String> = limiter.buckets.lock().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let start = Instant::now();
        limiter.check_at("idle", start).unwrap();
        let second = start + Duration::from_secs(1);
        limiter.check_at("busy", second).unwrap();
        limiter.check_at("busy", second).unwrap();
        limiter
            .check_at("new", second + Duration::from_millis(50))
            .unwrap();
        assert_eq!(
            keys(&limiter),
            ["busy", "new"],
            "the full bucket went first"
        );
        let later = second + Duration::from_millis(100);
        limiter.check_at("newer", later).unwrap();
        assert_eq!(
            keys(&limiter),
            ["new", "newer"],
            "then the least recently used"
        );
        assert!(
            limiter.check_at("new", later).is_ok(),
            "a kept bucket keeps its count"
        );
        assert!(limiter.check_at("new", later).is_err());
    }
}
