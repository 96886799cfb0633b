//! What every request passes through around its route: the request deadline (past it the
//! answer is 504 and the handler's work is dropped), the request's count in the metrics, by
//! route template, method and status (a 504 counted as one), and one log line: method, route
//! template, status and duration, never the path's ids, the query or a header (at info; at debug
//! for health probes and metrics scrapes, which come every few seconds).
//!
//! One layer with its future written out, so that a request pays for one level of boxing around
//! its route (axum's `from_fn` clones and boxes the route it wraps on every call).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::time::Timeout;
use tower_layer::Layer;
use tower_service::Service;

use crate::limits;
use crate::metrics::{self, Metrics};

/// Wraps each route of the router in [`Edge`].
#[derive(Clone)]
pub(crate) struct EdgeLayer {
    metrics: Arc<Metrics>,
    timeout: Duration,
}

impl EdgeLayer {
    /// Requests counted in `metrics` and answered 504 past `timeout`.
    pub(crate) fn new(metrics: Arc<Metrics>, timeout: Duration) -> Self {
        Self { metrics, timeout }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, route: S) -> Edge<S> {
        Edge {
            route,
            metrics: self.metrics.clone(),
            timeout: self.timeout,
        }
    }
}

/// A route with its deadline and its count.
#[derive(Clone)]
pub(crate) struct Edge<S> {
    route: S,
    metrics: Arc<Metrics>,
    timeout: Duration,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.route.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The matched path is shared (an `Arc`): cloning it allocates nothing.
        let template = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        Answer {
            answer: tokio::time::timeout(self.timeout, self.route.call(request)),
            metrics: self.metrics.clone(),
            timeout: self.timeout,
            template,
            method,
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// The route's answer, or 504 past the deadline; counted when ready.
    pub(crate) struct Answer<F> {
        #[pin]
        answer: Timeout<F>,
        metrics: Arc<Metrics>,
        timeout: Duration,
        template: Option<MatchedPath>,
        method: Method,
        started: Instant,
    }
}

impl<F> Future for Answer<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match ready!(this.answer.poll(cx)) {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(_elapsed) => limits::past_deadline(*this.timeout, this.method),
        };
        let status = response.status();
        this.metrics
            .answered(this.template.as_ref(), this.method, status);
        log(
            this.method,
            this.template.as_ref(),
            status,
            this.started.elapsed(),
        );
        Poll::Ready(Ok(response))
    }
}

/// Routes polled by machines every few seconds: logged at debug, not info.
const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// One line for an answered request: its method, its route template (`unmatched` when none),
/// its status and how long it took, in milliseconds.
fn log(method: &Method, template: Option<&MatchedPath>, status: StatusCode, took: Duration) {
    let route = template.map_or(metrics::UNMATCHED, MatchedPath::as_str);
    let status = status.as_u16();
    let duration_ms = (took.as_secs_f64() * 10_000.0).round() / 10.0;
    if PROBES.contains(&route) {
        tracing::debug!(%method, %route, status, duration_ms, "request");
    } else {
        tracing::info!(%method, %route, status, duration_ms, "request");
    }
}
