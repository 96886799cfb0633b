//! Retries: 429 with `Retry-After` (and its bounded wait; unusable values mean our own backoff),
//! 5xx and timeouts on GET but not on POST, and exactly one retry with a fresh token after a 401,
//! and which token the client asks its source for. The overall deadline of a call, against a
//! server that trickles its body.
//!
//! Everything runs in real time with a [`RetryConfig`] shrunk to milliseconds
//! (`client_support::fast_retry`), or with a backoff so long (`slow_backoff`) that a wait that
//! must not happen would show. Waits are measured with generous upper bounds: the lower bounds are
//! the waits the client must have made.

use crate::client_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use auth_core::StaticTokenSource;
use client_support::raw::{RawServer, Reply};
use client_support::{
    CountingTokenSource, client, client_with, fast_retry, no_retries, settings, settings_at,
    slow_backoff,
};
use provider_asana::{
    AsanaClient, AsanaClientSettings, AsanaError, ConcurrencyLimiter, RetryConfig,
};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ok_user() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "42", "name": "Greg"}}))
}

fn rate_limited(retry_after: Option<&str>) -> ResponseTemplate {
    let response = ResponseTemplate::new(429).set_body_json(json!({"errors": [
        {"message": "You have made too many requests recently. Please, be chill."}
    ]}));
    match retry_after {
        Some(seconds) => response.insert_header("Retry-After", seconds),
        None => response,
    }
}

async fn mount_sequence(
    server: &MockServer,
    http_method: &str,
    p: &str,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(method(http_method))
        .and(path(p))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method(http_method))
        .and(path(p))
        .respond_with(then)
        .with_priority(2)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Asserts `low <= elapsed < high`.
#[track_caller]
fn assert_between(elapsed: Duration, low: Duration, high: Duration) {
    assert!(
        elapsed >= low && elapsed < high,
        "{elapsed:?} not in [{low:?}, {high:?})"
    );
}

#[tokio::test]
async fn rate_limit_waits_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    mount_sequence(
        &server,
        "GET",
        "/api/1.0/users/me",
        rate_limited(Some("0.25")),
        1,
        ok_user(),
    )
    .await;
    // Our own backoff would wait at least 5 s: ending sooner shows `Retry-After` was the wait.
    let (client, _) = client_with(settings(&server).with_retry(slow_backoff()));

    let started = Instant::now();
    let me = client.get_user("me").await.unwrap();

    assert_eq!(me.gid, "42");
    assert_eq!(requests(&server).await, 2);
    assert_between(started.elapsed(), ms(250), ms(2500));
}

#[tokio::test]
async fn rate_limit_applies_to_post_too() {
    let server = MockServer::start().await;
    mount_sequence(
        &server,
        "POST",
        "/api/1.0/tasks",
        rate_limited(Some("0.1")),
        1,
        ResponseTemplate::new(201).set_body_json(json!({"data": {"gid": "9"}})),
    )
    .await;
    let (client, _) = client_with(settings(&server).with_retry(slow_backoff()));

    let started = Instant::now();
    let task = client
        .tasks()
        .create(&json!({"workspace": "1"}))
        .await
        .unwrap();
    assert_eq!(task.gid, "9");
    assert_eq!(requests(&server).await, 2);
    assert_between(started.elapsed(), ms(100), ms(2500));
}

#[tokio::test]
async fn rate_limit_gives_up_when_the_bounded_wait_is_spent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(rate_limited(Some("0.25")))
        .mount(&server)
        .await;
    // 500 ms of rate-limit waits, so two waits of 250 ms, then the third 429 is returned.
    let (client, _) = client_with(settings(&server).with_retry(fast_retry()));

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();

    let AsanaError::RateLimited {
        retry_after,
        waited,
        info,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*retry_after, Some(ms(250)));
    assert_eq!(*waited, ms(500));
    assert_eq!(info.status, 429);
    assert_eq!(err.retry_after(), Some(ms(250)));
    assert!(err.is_retryable());
    assert_eq!(requests(&server).await, 3);
    assert_between(started.elapsed(), ms(500), ms(3000));
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_fails_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(rate_limited(Some("600")))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();
    assert!(
        matches!(err, AsanaError::RateLimited { waited, .. } if waited == Duration::ZERO),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
    assert!(started.elapsed() < ms(2500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn rate_limit_without_retry_after_backs_off() {
    let server = MockServer::start().await;
    mount_sequence(
        &server,
        "GET",
        "/api/1.0/users/me",
        rate_limited(None),
        2,
        ok_user(),
    )
    .await;
    let (client, _) = client_with(settings(&server).with_retry(fast_retry()));

    let started = Instant::now();
    client.get_user("me").await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(requests(&server).await, 3);
    // Backoff 50 ms then 100 ms, each jittered into [50%, 100%]; the default would take 1.5 s.
    assert_between(elapsed, ms(75), ms(1500));
}

#[tokio::test]
async fn unusable_retry_after_values_mean_our_own_backoff() {
    for value in [
        "1e30",
        "NaN",
        "-5",
        "inf",
        "18446744073709551616",
        "86401",
        "soon",
        "Wed, 21 Oct 2015 07:28:00 GMT",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/1.0/users/me"))
            .respond_with(rate_limited(Some(value)))
            .mount(&server)
            .await;
        let (client, _) =
            client_with(settings(&server).with_retry(fast_retry().with_max_retries(2)));

        let started = Instant::now();
        let err = client.get_user("me").await.unwrap_err();
        let elapsed = started.elapsed();

        assert!(
            matches!(
                err,
                AsanaError::RateLimited {
                    retry_after: None,
                    ..
                }
            ),
            "{value}: {err:?}"
        );
        assert_eq!(requests(&server).await, 3, "{value}");
        // Backoff 50 ms then 100 ms, each jittered into [50%, 100%].
        assert_between(elapsed, ms(75), ms(1500));
    }
}

#[tokio::test]
async fn a_retry_after_longer_than_the_configured_maximum_means_our_own_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(rate_limited(Some("2")))
        .mount(&server)
        .await;
    let retry = fast_retry()
        .with_max_retry_after(Duration::from_secs(1))
        .with_max_retries(1);
    let (client, _) = client_with(settings(&server).with_retry(retry));

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();

    assert!(
        matches!(
            err,
            AsanaError::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests(&server).await, 2);
    // One backoff of 50 ms jittered, not the 2 s asked for.
    assert_between(started.elapsed(), ms(25), ms(1500));
}

#[test]
fn a_backoff_base_below_one_is_refused() {
    for base in [0.5, f64::NAN] {
        let err = AsanaClient::new(
            CountingTokenSource::new(&["token-1"]),
            AsanaClientSettings::default().with_retry(RetryConfig::default().with_base(base)),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                AsanaError::InvalidArgument {
                    name: "retry.base",
                    ..
                }
            ),
            "{base}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_rate_limit_wait_past_the_deadline_is_not_started() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(rate_limited(Some("30")))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(settings(&server).with_deadline(Duration::from_secs(10)));

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();
    assert!(
        matches!(err, AsanaError::RateLimited { waited, .. } if waited == Duration::ZERO),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(requests(&server).await, 1);
    assert!(started.elapsed() < ms(2500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_trickling_body_cannot_hold_a_call_past_its_deadline() {
    let server = RawServer::start(|_| Reply::dribble(1_000_000, Duration::from_millis(50))).await;
    let (client, _) = client_with(
        settings_at(&server.uri)
            .with_timeout(Duration::from_secs(2))
            .with_retry(RetryConfig::default().with_max_retries(2))
            .with_deadline(Duration::from_secs(1)),
    );

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(
        matches!(
            &err,
            AsanaError::DeadlineExceeded { method, path, deadline, attempts: 1 }
                if method == "GET" && path == "/api/1.0/users/me" && *deadline == Duration::from_secs(1)
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn the_deadline_spans_every_attempt_and_the_waits_between_them() {
    let server = RawServer::start(|_| Reply::dribble(1_000_000, Duration::from_millis(50))).await;
    let deadline = Duration::from_millis(2500);
    let (client, _) = client_with(
        settings_at(&server.uri)
            .with_timeout(Duration::from_millis(300))
            .with_retry(RetryConfig::default().with_max_retries(4))
            .with_deadline(deadline),
    );

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();
    let elapsed = started.elapsed();

    // Either the deadline cut an attempt short, or the next wait would not have ended before it
    // and the last attempt's timeout was returned at once.
    assert!(
        matches!(
            &err,
            AsanaError::DeadlineExceeded { .. } | AsanaError::Timeout { .. }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        elapsed <= deadline + Duration::from_millis(500),
        "{elapsed:?}"
    );
    assert!(server.connections() >= 2, "retried within the deadline");
}

#[tokio::test]
async fn the_deadline_cuts_a_token_source_that_never_answers() {
    let server = MockServer::start().await;
    let client = AsanaClient::new(
        CountingTokenSource::stuck(),
        settings(&server).with_deadline(ms(300)),
    )
    .unwrap();

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();

    assert!(
        matches!(&err, AsanaError::DeadlineExceeded { attempts: 1, deadline, .. } if *deadline == ms(300)),
        "{err:?}"
    );
    assert_between(started.elapsed(), ms(300), ms(1000));
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test]
async fn the_deadline_cuts_a_wait_for_a_limiter_permit() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(ok_user().set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let limiter = Arc::new(ConcurrencyLimiter::with_limits(1, 1));
    let (holder, _) = client_with(settings(&server).with_limiter(limiter.clone()));
    let held = tokio::spawn(async move { holder.get_user("me").await });
    while requests(&server).await == 0 {
        tokio::time::sleep(ms(10)).await;
    }
    let (waiter, _) = client_with(
        settings(&server)
            .with_limiter(limiter)
            .with_deadline(ms(300)),
    );

    let started = Instant::now();
    let err = waiter.get_user("me").await.unwrap_err();

    assert!(
        matches!(&err, AsanaError::DeadlineExceeded { attempts: 1, .. }),
        "{err:?}"
    );
    assert_between(started.elapsed(), ms(300), ms(1000));
    assert_eq!(
        requests(&server).await,
        1,
        "the waiter never sent its request"
    );
    assert_eq!(held.await.unwrap().unwrap().gid, "42");
}

#[tokio::test]
async fn the_attempt_timeout_is_the_settings_one_over_a_shared_client_with_a_shorter_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(ok_user().set_delay(ms(400)))
        .expect(1)
        .mount(&server)
        .await;
    let shared = reqwest::Client::builder().timeout(ms(100)).build().unwrap();
    let (client, _) = client_with(
        settings(&server)
            .with_http_client(shared)
            .with_timeout(Duration::from_secs(2))
            .with_retry(no_retries()),
    );

    assert_eq!(client.get_user("me").await.unwrap().gid, "42");
}

/// An attachment download whose file answers only after 3 s, with a client timeout of 300 ms,
/// fails with `AsanaError::Timeout` for that 300 ms timeout, well before the file would arrive:
/// the download of the file is bounded by the attempt timeout as API requests are.
#[tokio::test]
async fn a_stalled_attachment_download_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/attachments/500"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "500", "download_url": format!("{}/api/1.0/files/500/a.txt", server.uri())
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/files/500/a.txt"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(b"late".to_vec())
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let (client, _) = client_with(
        settings(&server)
            .with_timeout(ms(300))
            .with_retry(no_retries()),
    );

    let started = Instant::now();
    let err = client.attachments().download("500").await.unwrap_err();

    assert!(
        matches!(&err, AsanaError::Timeout { timeout, .. } if *timeout == ms(300)),
        "{err:?}"
    );
    assert_between(started.elapsed(), ms(300), ms(2500));
}

#[tokio::test]
async fn a_body_still_arriving_when_the_attempt_times_out_is_a_timeout_error() {
    let server = RawServer::start(|_| Reply::dribble(1_000_000, Duration::from_millis(50))).await;
    let (client, _) = client_with(
        settings_at(&server.uri)
            .with_timeout(ms(300))
            .with_deadline(Duration::from_secs(10))
            .with_retry(no_retries()),
    );

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();

    assert!(
        matches!(&err, AsanaError::Timeout { timeout, attempts: 1, .. } if *timeout == ms(300)),
        "{err:?}"
    );
    assert_between(started.elapsed(), ms(300), ms(1500));
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_shared_clients_own_read_timeout_is_a_network_error_not_the_attempts_timeout() {
    let server = RawServer::start(|_| Reply::dribble(10, Duration::from_millis(400))).await;
    let shared = reqwest::Client::builder()
        .read_timeout(ms(100))
        .build()
        .unwrap();
    let (client, _) = client_with(
        settings_at(&server.uri)
            .with_http_client(shared)
            .with_timeout(Duration::from_secs(5))
            .with_retry(no_retries()),
    );

    let err = client.get_user("me").await.unwrap_err();

    assert!(
        matches!(&err, AsanaError::Network { attempts: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_attempt_past_the_settings_timeout_is_a_timeout_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(ok_user().set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(
        settings(&server)
            .with_timeout(ms(200))
            .with_retry(no_retries()),
    );

    let started = Instant::now();
    let err = client.get_user("me").await.unwrap_err();

    assert!(
        matches!(&err, AsanaError::Timeout { timeout, attempts: 1, .. } if *timeout == ms(200)),
        "{err:?}"
    );
    assert_between(started.elapsed(), ms(200), ms(1000));
}

#[tokio::test]
async fn server_errors_are_retried_on_get_with_backoff() {
    let server = MockServer::start().await;
    mount_sequence(
        &server,
        "GET",
        "/api/1.0/tasks/1",
        ResponseTemplate::new(503),
        2,
        ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})),
    )
    .await;
    let (client, _) = client_with(settings(&server).with_retry(fast_retry()));

    let started = Instant::now();
    assert_eq!(client.tasks().get("1", &[]).await.unwrap().gid, "1");
    let elapsed = started.elapsed();
    assert_eq!(requests(&server).await, 3);
    // Backoff 50 ms then 100 ms, each jittered into [50%, 100%].
    assert_between(elapsed, ms(75), ms(1500));
}

/// A DELETE retried after an attempt that may have deleted it (a 504, or no answer in time) and
/// then answered 404 is done; a first 404, with no earlier attempt, is still `NotFound`.
#[tokio::test]
async fn a_retried_delete_that_finds_nothing_was_deleted() {
    for first in [
        ResponseTemplate::new(504),
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": {}}))
            .set_delay(ms(400)),
    ] {
        let server = MockServer::start().await;
        mount_sequence(
            &server,
            "DELETE",
            "/api/1.0/tasks/1",
            first,
            1,
            ResponseTemplate::new(404).set_body_json(json!({"errors": [
                {"message": "task: Unknown object: 1"}
            ]})),
        )
        .await;
        let (client, _) = client_with(
            settings(&server)
                .with_timeout(ms(150))
                .with_retry(fast_retry()),
        );
        client.tasks().delete("1").await.unwrap();
        assert_eq!(requests(&server).await, 2);
    }

    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/api/1.0/tasks/1"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let (client, _) = client_with(settings(&server).with_retry(fast_retry()));
    let err = client.tasks().delete("1").await.unwrap_err();
    assert!(matches!(err, AsanaError::NotFound(_)), "{err:?}");
    // A 429 is a refusal before any work: the 404 after it is the answer.
    let server = MockServer::start().await;
    mount_sequence(
        &server,
        "DELETE",
        "/api/1.0/tasks/1",
        ResponseTemplate::new(429).insert_header("Retry-After", "0"),
        1,
        ResponseTemplate::new(404),
    )
    .await;
    let (client, _) = client_with(settings(&server).with_retry(fast_retry()));
    let err = client.tasks().delete("1").await.unwrap_err();
    assert!(matches!(err, AsanaError::NotFound(_)), "{err:?}");
    assert_eq!(requests(&server).await, 2);
    // A GET is not a DELETE: its 404 after a 503 is the answer.
    let server = MockServer::start().await;
    mount_sequence(
        &server,
        "GET",
        "/api/1.0/tasks/1",
        ResponseTemplate::new(503),
        1,
        ResponseTemplate::new(404),
    )
    .await;
    let (client, _) = client_with(settings(&server).with_retry(fast_retry()));
    let err = client.tasks().get("1", &[]).await.unwrap_err();
    assert!(matches!(err, AsanaError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn server_errors_give_up_after_max_retries() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/api/1.0/tasks/1"))
        .respond_with(ResponseTemplate::new(502).set_body_json(json!({"errors": [
            {"message": "Server Error", "phrase": "6 sad squid snuggle softly"}
        ]})))
        .mount(&server)
        .await;
    let (client, _) = client_with(settings(&server).with_retry(fast_retry().with_max_retries(2)));

    let err = client.tasks().delete("1").await.unwrap_err();
    let AsanaError::Server(info) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(info.status, 502);
    assert_eq!(info.phrase(), Some("6 sad squid snuggle softly"));
    assert!(err.is_retryable());
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn server_errors_are_never_retried_on_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(settings(&server).with_retry(slow_backoff()));

    let started = Instant::now();
    let err = client
        .tasks()
        .create(&json!({"workspace": "1", "name": "once"}))
        .await
        .unwrap_err();
    let AsanaError::OutcomeUnknown { cause } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(&**cause, AsanaError::Server(info) if info.status == 503),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        err.to_string(),
        "Asana POST /api/1.0/tasks (HTTP 503): Asana server error; the request may have been applied all the same, so it was not retried: check whether it took effect (read the object back) before repeating it, or it may be applied twice"
    );
    assert_eq!(requests(&server).await, 1);
    assert!(started.elapsed() < ms(2500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_post_whose_connection_never_opened_is_retryable() {
    // A port nobody listens on: the request never reached anyone, so it was not applied.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base =
        AsanaClientSettings::new(format!("http://127.0.0.1:{port}/api/1.0").parse().unwrap());
    let (client, _) = client_with(base.with_retry(no_retries()));
    let err = client
        .tasks()
        .create(&json!({"workspace": "1"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::Network { attempts: 1, method, .. } if method == "POST"),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn timeouts_are_retried_on_get() {
    let server = MockServer::start().await;
    mount_sequence(
        &server,
        "GET",
        "/api/1.0/tasks/1",
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": {"gid": "slow"}}))
            .set_delay(Duration::from_secs(2)),
        1,
        ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})),
    )
    .await;
    let (client, _) = client_with(
        settings(&server)
            .with_timeout(ms(200))
            .with_retry(fast_retry()),
    );

    let started = Instant::now();
    let task = client.tasks().get("1", &[]).await.unwrap();
    assert_eq!(task.gid, "1");
    assert_eq!(requests(&server).await, 2);
    // The 200 ms timeout, then a backoff of 25 to 50 ms; the slow response would take 2 s.
    assert_between(started.elapsed(), ms(225), ms(2000));
}

#[tokio::test]
async fn timeouts_are_not_retried_on_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(
        settings(&server)
            .with_timeout(ms(200))
            .with_retry(fast_retry()),
    );

    let err = client
        .tasks()
        .create(&json!({"workspace": "1"}))
        .await
        .unwrap_err();
    let AsanaError::OutcomeUnknown { cause } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(&**cause, AsanaError::Timeout { attempts: 1, method, .. } if method == "POST"),
        "{err:?}"
    );
    // Asana may have created the task: repeating the call could create a second one.
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "Asana POST /api/1.0/tasks timed out after 200ms; the request may have been applied all the same, so it was not retried: check whether it took effect (read the object back) before repeating it, or it may be applied twice"
    );
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    // A port nobody listens on: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base =
        AsanaClientSettings::new(format!("http://127.0.0.1:{port}/api/1.0").parse().unwrap());
    let (client, _) = client_with(base.with_retry(fast_retry().with_max_retries(1)));
    let err = client.get_user("me").await.unwrap_err();
    assert!(
        matches!(err, AsanaError::Network { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn unauthorized_invalidates_and_retries_once_with_the_new_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"errors": [
            {"message": "The bearer token has expired. If you have a refresh token, please use it to request a new bearer token, otherwise allow the user to re-authenticate."}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks"))
        .and(header("authorization", "Bearer token-2"))
        .and(body_json(json!({"data": {"workspace": "1"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {"gid": "5"}})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, tokens) = client(&server);

    let task = client
        .tasks()
        .create(&json!({"workspace": "1"}))
        .await
        .unwrap();
    assert_eq!(task.gid, "5");
    assert_eq!(tokens.invalidations(), 1);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_cached_token_is_used_without_awaiting_the_source_and_a_401_still_replaces_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"errors": [
            {"message": "Not Authorized"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .and(header("authorization", "Bearer token-2"))
        .respond_with(ok_user())
        .expect(1)
        .mount(&server)
        .await;
    let tokens = CountingTokenSource::caching(&["token-1", "token-2"]);
    let client = AsanaClient::new(tokens.clone(), settings(&server)).unwrap();

    let user = client.get_user("me").await.unwrap();
    assert_eq!(user.gid, "42");
    assert_eq!(tokens.cached_calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        tokens.token_calls.load(Ordering::SeqCst),
        0,
        "a cached token needs no await"
    );
    assert_eq!(tokens.invalidations(), 1);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn without_a_cached_token_the_source_is_awaited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ok_user())
        .expect(1)
        .mount(&server)
        .await;
    let (client, tokens) = client(&server);

    client.get_user("me").await.unwrap();
    assert_eq!(tokens.cached_calls.load(Ordering::SeqCst), 1);
    assert_eq!(tokens.token_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_unauthorized_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"errors": [
            {"message": "Not Authorized"}
        ]})))
        .mount(&server)
        .await;
    let (client, tokens) = client(&server);

    let err = client.get_user("me").await.unwrap_err();
    assert!(
        matches!(&err, AsanaError::Unauthorized { refreshed: true, info } if info.messages() == vec!["Not Authorized"]),
        "{err:?}"
    );
    assert!(err.needs_reauthorization());
    assert_eq!(tokens.invalidations(), 1);
    let seen: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(seen, vec!["Bearer token-1", "Bearer token-2"]);
    assert!(!format!("{err} {err:?}").contains("token-"));
}

#[tokio::test]
async fn unauthorized_with_a_token_that_cannot_be_refreshed_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = Arc::new(StaticTokenSource::new("asana", "app", "pat-1".into()));
    let client = AsanaClient::new(tokens, settings(&server)).unwrap();

    let err = client.get_user("me").await.unwrap_err();
    assert!(
        matches!(
            err,
            AsanaError::Unauthorized {
                refreshed: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.needs_reauthorization());
}
