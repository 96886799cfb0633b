//! Operations: `GET /metrics` counts exactly what happened (by route template, never by raw
//! path), each request is one log line, the per-application rate limit answers 429 with
//! `Retry-After` to one application only, and a request past the service's deadline is 504.

use std::time::Duration;

use provider_asana_testkit::MockAsana;
use serde_json::json;

use crate::support::{Logs, Service, error_message};

/// The `integrations_http_requests_total` lines of the metrics, sorted.
async fn request_lines(service: &Service) -> (Vec<String>, String) {
    let (status, content_type, text) = service.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("integrations_http_requests_total{"))
        .map(str::to_string)
        .collect();
    lines.sort();
    (lines, text)
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_executes_refreshes_and_asanas_429s() {
    let service = Service::start().await;
    for _ in 0..2 {
        assert_eq!(service.get("/healthz", None).await.0, 200);
    }
    assert_eq!(
        service.get("/api/v1/integrations/connectors", None).await.0,
        401
    );
    assert_eq!(service.get("/no/such/route", None).await.0, 404);
    let (token, id) = service.pat_connector().await;
    let (status, body) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{body}");
    service.asana.rate_limit_next(1, Some(3));
    let (status, body) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 429, "{body}");
    let oauth_id = service.own_client_connector(&token).await;
    let oauth_id = oauth_id.as_str();
    let (status, body) = service
        .execute(
            &token,
            oauth_id,
            "users",
            "get",
            json!({ "user_gid": "me" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(service.asana.token_requests_for("refresh_token"), 1);

    let (lines, text) = request_lines(&service).await;
    let execute = "/api/v1/integrations/connectors/{id}/execute";
    let expected = [
        ("GET", "/api/v1/integrations/connectors", 401, 1),
        ("GET", "/healthz", 200, 2),
        ("GET", "unmatched", 404, 1),
        ("POST", "/api/v1/account/applications/token", 200, 1),
        ("POST", "/api/v1/integrations/connectors", 201, 2),
        ("POST", execute, 200, 2),
        ("POST", execute, 429, 1),
    ];
    let mut expected: Vec<String> = expected
        .iter()
        .map(|(method, route, status, count)| {
            format!(
                "integrations_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            )
        })
        .collect();
    expected.sort();
    assert_eq!(lines, expected, "{text}");
    for line in [
        "# TYPE integrations_execute_duration_seconds histogram",
        "integrations_execute_duration_seconds_bucket{le=\"+Inf\"} 3",
        "integrations_execute_duration_seconds_count 3",
        "# TYPE integrations_token_refreshes_total counter",
        "integrations_token_refreshes_total 1",
        "# TYPE integrations_upstream_rate_limited_total counter",
        "integrations_upstream_rate_limited_total 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(!text.contains(&id) && !text.contains(oauth_id), "no ids");
}

/// Each request is one log line at info: method, route template, status and duration, never an
/// id of the path, the query or a header; health probes and metrics scrapes only at debug.
#[tokio::test]
async fn each_request_is_logged_once_by_its_route_template_without_ids_queries_or_tokens() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    let (status, body) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let listed = "/api/v1/integrations/connectors?customer_name=query-canary";
    assert_eq!(service.get(listed, Some(&token)).await.0, 200);
    assert_eq!(service.get("/no/such/route", None).await.0, 404);
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(service.get(probe, None).await.0, 200);
    }
    assert_eq!(service.get_text("/metrics").await.0, 200);

    let logged = logs.text();
    let lines: Vec<String> = logged
        .lines()
        .filter(|line| line.contains(" integrations_server::edge: "))
        .map(|line| {
            let (_, fields) = line.split_once(" integrations_server::edge: ").unwrap();
            let (head, duration) = fields.rsplit_once(" duration_ms=").unwrap();
            assert!(duration.parse::<f64>().is_ok(), "{line}");
            assert!(line.contains(" INFO "), "{line}");
            head.to_string()
        })
        .collect();
    assert_eq!(
        lines,
        [
            "request method=POST route=/api/v1/account/applications/token status=200",
            "request method=POST route=/api/v1/integrations/connectors status=201",
            "request method=POST route=/api/v1/integrations/connectors/{id}/execute status=200",
            "request method=GET route=/api/v1/integrations/connectors status=200",
            "request method=GET route=unmatched status=404",
        ],
        "{logged}"
    );
    for secret in [token.as_str(), id.as_str(), "query-canary"] {
        assert!(!logged.contains(secret), "{secret} in\n{logged}");
    }
}

#[tokio::test]
async fn an_application_over_its_rate_limit_gets_429_with_retry_after_and_others_do_not() {
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder.rate_limit(1, 3)
    })
    .await;
    let busy_app = service.application("busy").await;
    let busy = service.app_token(&busy_app).await;
    let calm = service.application("calm").await;
    let calm = service.app_token(&calm).await;
    // Its token took one request of three.
    for _ in 0..2 {
        let (status, body) = service
            .get("/api/v1/integrations/connectors", Some(&busy))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let response = service
        .http
        .get(format!("{}/api/v1/integrations/connectors", service.url))
        .bearer_auth(&busy)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["retryable"], true);
    assert!(error_message(&body).contains("more requests than the service accepts"));
    let (status, body) = service
        .token_request(
            &busy_app.application.client_id,
            busy_app.client_secret.expose_secret(),
        )
        .await;
    assert_eq!(status, 429, "issuing tokens counts too: {body}");
    let (status, _) = service
        .token_request(&busy_app.application.client_id, "wrong")
        .await;
    assert_eq!(status, 401, "a wrong secret is refused before the limit");
    let (status, body) = service
        .get("/api/v1/integrations/connectors", Some(&calm))
        .await;
    assert_eq!(status, 200, "another application is unaffected: {body}");
    let (lines, _) = request_lines(&service).await;
    for line in [
        "integrations_http_requests_total{method=\"GET\",route=\"/api/v1/integrations/connectors\",status=\"429\"} 1",
        "integrations_http_requests_total{method=\"POST\",route=\"/api/v1/account/applications/token\",status=\"429\"} 1",
    ] {
        assert!(lines.contains(&line.to_string()), "{line}");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = service
        .get("/api/v1/integrations/connectors", Some(&busy))
        .await;
    assert_eq!(status, 200, "the bucket refilled after Retry-After");
}

/// An application with `max_in_flight` executes waiting on Asana gets 429 (`Retry-After: 1`)
/// for one more, before anything is sent; another application is not held up, and once the
/// calls are answered the application may call again.
#[tokio::test]
async fn an_application_with_its_most_calls_in_flight_gets_429_and_others_do_not() {
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder.max_in_flight(2)
    })
    .await;
    let (busy, busy_id) = service.pat_connector().await;
    let calm = service.application("calm").await;
    let calm = service.app_token(&calm).await;
    let calm_id = service.token_connector(&calm, "c").await;
    service.asana.set_latency(Duration::from_millis(600));
    let slow = || service.execute_users_get(&busy, &busy_id, "me");
    let third = async {
        // Once the first two are waiting on Asana.
        let started = std::time::Instant::now();
        while service.asana.api_requests() < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no calls in flight"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let refused = service.execute_users_get(&busy, &busy_id, "me").await;
        let calm = service.execute_users_get(&calm, &calm_id, "me").await;
        (refused, calm)
    };
    let (first, second, (refused, other)) = tokio::join!(slow(), slow(), third);
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    assert_eq!(other.status(), 200, "another application is not held up");
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["retryable"], true);
    assert_eq!(
        error_message(&body),
        "this application has 2 calls to providers in flight at this instance, the most it may; retry once one has been answered"
    );
    assert_eq!(
        service.asana.api_requests(),
        3,
        "nothing was sent for the refused call"
    );
    service.asana.set_latency(Duration::ZERO);
    assert_eq!(
        service
            .execute_users_get(&busy, &busy_id, "me")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_default_rate_limit_lets_a_hundred_requests_of_one_application_through_at_once() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let statuses = futures::future::join_all(
        (0..100).map(|_| service.get("/api/v1/integrations/connectors", Some(&token))),
    )
    .await;
    assert!(
        statuses.iter().all(|(status, _)| *status == 200),
        "{:?}",
        statuses.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_request_past_the_services_deadline_is_504_and_counted() {
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder
            .request_timeout(Duration::from_millis(300))
            .upstream_timeout(Duration::from_secs(5))
    })
    .await;
    let (token, id) = service.pat_connector().await;
    service.asana.set_latency(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let (status, body) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 504, "{body}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(
        (
            &body["retryable"],
            &body["outcome_unknown"],
            &body["source"]
        ),
        (&json!(true), &json!(true), &json!("service")),
        "an execute cut by the deadline may have run: {body}"
    );
    assert!(error_message(&body).contains(
        "not answered within the service's limit of 300 ms, and may have been carried out"
    ));
    let (lines, _) = request_lines(&service).await;
    assert!(lines.contains(
        &"integrations_http_requests_total{method=\"POST\",route=\"/api/v1/integrations/connectors/{id}/execute\",status=\"504\"} 1"
            .to_string()
    ));
}

/// A connection that does not send a whole request head within the header read timeout is
/// closed: one that sends part of its headers and stops, one that opens and sends nothing, and
/// one kept alive after an answer. A request that takes less is answered.
#[tokio::test]
async fn connections_that_do_not_send_a_request_head_in_time_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let service = Service::start_configured(MockAsana::start().await, true, |b| {
        b.header_read_timeout(Duration::from_millis(500))
    })
    .await;
    let address = service.url.trim_start_matches("http://").to_string();
    let head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    let mut partial = TcpStream::connect(&address).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(&address).await.unwrap();
    let mut kept = TcpStream::connect(&address).await.unwrap();
    kept.write_all(head).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = kept.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));

    for (what, stream) in [
        ("part of a head", &mut partial),
        ("nothing", &mut silent),
        ("nothing after an answer", &mut kept),
    ] {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("a connection that sent {what} is still open"));
        // Closed: an end of stream, or a reset; hyper may answer 408 first.
        if let Ok(n) = read {
            let text = String::from_utf8_lossy(&answer[..n]).to_string();
            assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{what}: {text}");
        }
    }

    let mut quick = TcpStream::connect(&address).await.unwrap();
    quick.write_all(head).await.unwrap();
    let n = quick.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
}
