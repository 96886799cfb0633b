//! The hosted life over HTTP: connectors with a token and with OAuth credentials, lookups by
//! customer, reads and writes, `check`, a refresh on expiry, reconnecting, deleting.

use std::time::Duration;

use provider_asana_testkit::{MockAsana, seed};
use serde_json::{Value, json};

use crate::support::{Service, Serving, error_message, mark_needs_reauthorization, tracked_expiry};

#[tokio::test]
async fn the_hosted_life() {
    let service = Service::start().await;
    let asana = &service.asana;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;

    // A token connector, created with the seed's body (extra fields are ignored).
    let (status, pat) = service
        .post(
            "/api/v1/integrations/connectors",
            Some(&token),
            json!({
                "external_user_id": "customer-1",
                "connector_type": "Asana",
                "name": "My Asana Connector",
                "credentials": { "token": asana.personal_access_token() },
                "replication_config": { "anything": true },
                "source_template_id": "ignored",
            }),
        )
        .await;
    assert_eq!(status, 201, "{pat}");
    assert_eq!(pat["name"], "My Asana Connector");
    assert_eq!(pat["customer_name"], "customer-1");
    assert_eq!(pat["connector_type"], "Asana");
    assert_eq!(
        pat["definition_id"],
        integrations_server::ASANA_DEFINITION_ID
    );
    assert_eq!(pat["status"], "active");
    assert!(pat["created_at"].as_str().unwrap().ends_with('Z'));
    let pat_id = pat["id"].as_str().unwrap().to_string();

    // An OAuth connector through SDK 0.19's path, refreshed by the service's app.
    let issued = asana.issue_tokens("default");
    let (status, oauth) = service
        .post(
            "/v1/integrations/connectors",
            Some(&token),
            json!({
                "workspace_name": "customer-1",
                "definition_id": "d0243522-dccf-4978-8ba0-37ed47a0bdbf",
                "credentials": {
                    "access_token": issued.access_token,
                    "refresh_token": issued.refresh_token,
                },
            }),
        )
        .await;
    assert_eq!(status, 201, "{oauth}");
    assert_eq!(oauth["auth_type"], "oauth");
    let oauth_id = oauth["id"].as_str().unwrap().to_string();

    // Lookups by customer: both, in creation order; another customer has none.
    let (status, listed) = service
        .get(
            "/api/v1/integrations/connectors?external_user_id=customer-1&connector_type=asana",
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [pat_id.as_str(), oauth_id.as_str()]);
    assert_eq!(
        service
            .get(
                "/api/v1/integrations/connectors?customer_name=customer-2",
                Some(&token)
            )
            .await,
        (200, json!({ "data": [], "next_cursor": null }))
    );

    // A list read through the seed's path: the bare array, paging in connector_metadata.
    let (status, body) = service
        .post(
            &format!("/api/v1/connectors/sources/{pat_id}/execute"),
            Some(&token),
            json!({
                "entity": "tasks",
                "action": "list",
                "params": { "project": seed::BACKLOG_PROJECT_GID, "limit": 1 },
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
    assert!(body["connector_metadata"]["next_page"]["offset"].is_string());

    // An offset Asana does not know: 422, not retryable, and the answer says to start over.
    let (status, body) = service
        .execute(
            &token,
            &pat_id,
            "tasks",
            "list",
            json!({ "project": seed::BACKLOG_PROJECT_GID, "limit": 1, "offset": "stale" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["retryable"], false, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with("list again from the first page, without `offset`"),
        "{body}"
    );

    // A get: the bare record.
    let (status, body) = service
        .execute(
            &token,
            &pat_id,
            "tasks",
            "get",
            json!({ "task_gid": seed::DRAFT_TASK_GID }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["gid"], seed::DRAFT_TASK_GID);
    assert_eq!(body["connector_metadata"], json!({}));

    // A write through the OAuth connector reaches Asana.
    let (status, body) = service
        .execute(
            &token,
            &oauth_id,
            "tasks",
            "create",
            json!({ "workspace": seed::WORKSPACE_GID, "name": "Written by the service" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let created = body["result"]["gid"].as_str().unwrap();
    assert_eq!(
        asana.object(created).unwrap()["name"],
        "Written by the service"
    );

    // check, with params null.
    let (status, body) = service
        .execute(&token, &oauth_id, "*", "check", Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["status"], "healthy");
    assert_eq!(body["result"]["error"], Value::Null);
    assert_eq!(body["result"]["checked_entity"], "users");
    assert_eq!(body["result"]["checked_action"], "get");

    // The access token expires: exactly one refresh, and the new token is stored.
    assert_eq!(
        service.stored_access_token(&oauth_id).await.unwrap(),
        issued.access_token
    );
    asana.expire_access_tokens();
    let (status, body) = service
        .execute(
            &token,
            &oauth_id,
            "users",
            "get",
            json!({ "user_gid": "me" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["gid"], seed::ME_GID);
    assert_eq!(asana.token_requests_for("refresh_token"), 1);
    let refreshed = service.stored_access_token(&oauth_id).await.unwrap();
    assert_ne!(refreshed, issued.access_token);

    // The user revokes the grant: 409 with a way to reconnect, and the status says so.
    asana.revoke_all_grants();
    let (status, body) = service
        .execute(
            &token,
            &oauth_id,
            "users",
            "get",
            json!({ "user_gid": "me" }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let message = error_message(&body);
    assert!(
        message.contains("PATCH") && message.contains(&oauth_id),
        "{message}"
    );
    assert_eq!(body["retryable"], false);
    let (_, got) = service
        .get(
            &format!("/api/v1/integrations/connectors/{oauth_id}"),
            Some(&token),
        )
        .await;
    assert_eq!(got["status"], "needs_reauthorization");
    let (status, body) = service
        .execute(&token, &oauth_id, "*", "check", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["status"], "unhealthy");
    assert!(
        body["result"]["error"]
            .as_str()
            .unwrap()
            .contains("re-authorization")
    );

    // PATCH reconnects with new credentials.
    let fresh = asana.issue_tokens("default");
    let (status, patched) = service
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/integrations/connectors/{oauth_id}"),
            Some(&token),
            Some(
                json!({
                    "name": "Reconnected",
                    "credentials": { "access_token": fresh.access_token, "refresh_token": fresh.refresh_token },
                })
                .to_string()
                .into_bytes(),
            ),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["status"], "active");
    assert_eq!(patched["name"], "Reconnected");
    let (status, body) = service
        .execute(&token, &oauth_id, "*", "check", Value::Null)
        .await;
    assert_eq!(
        (status, body["result"]["status"].clone()),
        (200, json!("healthy"))
    );

    // DELETE revokes the grant at Asana, then the connector and its credentials are gone.
    let revocations = asana.revocations();
    let (status, deleted) = service
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/integrations/connectors/{oauth_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["id"], oauth_id.as_str());
    assert_eq!(asana.revocations(), revocations + 1);
    let revoke = asana
        .received_requests()
        .await
        .into_iter()
        .rfind(|r| r.url.path() == "/-/oauth_revoke")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&revoke.body).contains(&format!("token={}", fresh.refresh_token))
    );
    let (status, _) = service
        .get(
            &format!("/api/v1/integrations/connectors/{oauth_id}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(service.stored_access_token(&oauth_id).await, None);
    let (_, listed) = service
        .get("/api/v1/integrations/connectors", Some(&token))
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_rejected_token_checks_unhealthy_with_200() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let connector = service
        .connector(
            &token,
            "customer-1",
            json!({ "token": "not-a-valid-token" }),
        )
        .await;
    let id = connector["id"].as_str().unwrap();
    let (status, body) = service.execute(&token, id, "*", "check", Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["status"], "unhealthy");
    assert!(body["result"]["error"].is_string());
}

#[tokio::test]
async fn several_connectors_per_customer_and_provider_are_all_listed() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let pat = service.asana.personal_access_token().to_string();
    for _ in 0..3 {
        service
            .connector(&token, "customer-1", json!({ "token": pat }))
            .await;
    }
    service
        .connector(&token, "customer-2", json!({ "token": pat }))
        .await;
    let (_, listed) = service
        .get(
            "/api/v1/integrations/connectors?workspace_name=customer-1",
            Some(&token),
        )
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    let (_, listed) = service
        .get(
            &format!(
                "/api/v1/integrations/connectors?definition_id={}",
                integrations_server::ASANA_DEFINITION_ID
            ),
            Some(&token),
        )
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 4);
}

/// The paths of Airbyte's SDK 0.19.34 and before: its token request, its lookup of a customer's
/// connectors of one type (all of them, under `instances`; another customer's or type's none)
/// and its execute, each answering as the current path does.
#[tokio::test]
async fn the_older_sdk_s_token_lookup_and_execute_paths_answer_as_the_current_ones() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let (status, body) = service
        .post(
            "/api/v1/applications/token",
            None,
            json!({
                "client_id": app.application.client_id,
                "client_secret": app.client_secret.expose_secret(),
            }),
        )
        .await;
    assert_eq!(
        (status, &body["token_type"]),
        (200, &json!("bearer")),
        "{body}"
    );
    let token = body["access_token"].as_str().unwrap().to_string();
    let first = service.token_connector(&token, "customer-1").await;
    let second = service.token_connector(&token, "customer-1").await;
    service.token_connector(&token, "customer-2").await;
    let lookup = |user: &str, definition: &str| {
        format!(
            "/api/v1/connectors/instances_for_user?external_user_id={user}&definition_id={definition}"
        )
    };
    let asana = integrations_server::ASANA_DEFINITION_ID;
    let (status, found) = service
        .get(&lookup("customer-1", asana), Some(&token))
        .await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> = found["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|instance| instance["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    for (user, definition) in [("customer-3", asana), ("customer-1", "no-such-type")] {
        let (status, found) = service.get(&lookup(user, definition), Some(&token)).await;
        assert_eq!(
            (status, found),
            (200, json!({ "instances": [] })),
            "{user} {definition}"
        );
    }
    let (status, _) = service.get(&lookup("customer-1", asana), None).await;
    assert_eq!(status, 401);

    let me = json!({ "entity": "users", "action": "get", "params": { "user_gid": "me" } });
    let (status, older) = service
        .post(
            &format!("/api/v1/connectors/instances/{first}/execute"),
            Some(&token),
            me.clone(),
        )
        .await;
    let (_, current) = service
        .post(
            &format!("/api/v1/integrations/connectors/{first}/execute"),
            Some(&token),
            me,
        )
        .await;
    assert_eq!(status, 200, "{older}");
    assert_eq!(older["result"]["gid"], seed::ME_GID);
    assert_eq!(older, current);
}

/// Another instance that found a connector's grant rejected marks it in the shared credential
/// store. This instance's warm connector still holds a token Asana accepts, yet the next execute
/// is 409 and sends nothing to Asana.
#[tokio::test]
async fn a_connector_marked_needs_reauthorization_in_the_store_is_refused_by_the_next_execute() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    let me = || json!({ "user_gid": "me" });
    let (status, body) = service.execute(&token, &id, "users", "get", me()).await;
    assert_eq!(status, 200, "{body}");
    mark_needs_reauthorization(&service.credentials().await, "asana", &id).await;
    let sent = service.asana.api_requests();
    let (status, body) = service.execute(&token, &id, "users", "get", me()).await;
    assert_eq!(status, 409, "{body}");
    assert!(error_message(&body).contains(&id), "{body}");
    assert_eq!(service.asana.api_requests(), sent, "nothing was sent");
}

/// A token connector whose token Asana rejects, which nothing can refresh, says so: 409 on
/// execute, `needs_reauthorization` in its status (for an application looking for connectors
/// to reconnect), and the next execute sends nothing; a PATCH with a good token reconnects it.
#[tokio::test]
async fn a_token_connector_whose_token_asana_rejects_needs_reauthorization() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let created = service
        .connector(&token, "c", json!({ "token": "not-a-token-asana-knows" }))
        .await;
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/integrations/connectors/{id}");
    let me = || json!({ "user_gid": "me" });
    let (status, body) = service.execute(&token, &id, "users", "get", me()).await;
    assert_eq!(status, 409, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, got) = service.get(&path, Some(&token)).await;
        if got["status"] == "needs_reauthorization" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {got}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let sent = service.asana.api_requests();
    let (status, body) = service.execute(&token, &id, "users", "get", me()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(service.asana.api_requests(), sent, "nothing was sent");

    let (status, patched) = service
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(
                json!({ "credentials": { "token": service.asana.personal_access_token() } })
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(
        (status, &patched["status"]),
        (200, &json!("active")),
        "{patched}"
    );
    let (status, body) = service.execute(&token, &id, "users", "get", me()).await;
    assert_eq!(status, 200, "{body}");
}

/// Concurrent updates of one connector, to a personal access token, to OAuth credentials or of
/// its name only, lose none of their changes: the row's kind is always that of the credentials
/// written last, and every update answered 200 or asked to be sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_leave_the_row_describing_the_credentials_written_last() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    let pat = service.asana.personal_access_token().to_string();
    let path = format!("/api/v1/integrations/connectors/{id}");
    for round in 0..5 {
        let updates = (0..12).map(|n| {
            let name = format!("n{round}-{n}");
            let body = match n % 3 {
                0 => json!({ "name": name, "credentials": { "token": pat } }),
                1 => json!({ "name": name, "credentials": {
                    "refresh_token": service.asana.issue_tokens("default").refresh_token,
                } }),
                _ => json!({ "name": name }),
            };
            let (service, token, path) = (&service, &token, &path);
            async move {
                let answer = service
                    .send(
                        reqwest::Method::PATCH,
                        path,
                        Some(token),
                        Some(body.to_string().into_bytes()),
                    )
                    .await;
                (name, answer)
            }
        });
        let mut applied = Vec::new();
        for (name, (status, body)) in futures::future::join_all(updates).await {
            assert!(status == 200 || status == 409, "{status}: {body}");
            if status == 409 {
                assert_eq!(body["retryable"], true, "{body}");
            } else {
                assert_eq!(body["name"], name, "{body}");
                applied.push(name);
            }
        }
        let (status, row) = service.get(&path, Some(&token)).await;
        assert_eq!(status, 200, "{row}");
        // The name is one an update was answered 200 for: one asked to be sent again changed
        // nothing.
        assert!(
            applied.iter().any(|name| row["name"] == name.as_str()),
            "round {round}: {} is none of {applied:?}",
            row["name"]
        );
        use integrations::CredentialStore;
        let stored = service
            .credentials()
            .await
            .get("asana", &id)
            .await
            .unwrap()
            .unwrap();
        let payload: Value = serde_json::from_slice(stored.record.payload.expose_bytes()).unwrap();
        let oauth = payload.get("refresh_token").is_some_and(|t| !t.is_null());
        assert_eq!(
            row["auth_type"],
            if oauth { "oauth" } else { "token" },
            "round {round}: the row says {} over {payload}",
            row["auth_type"]
        );
    }
}

/// The list answers a page at a time, oldest first: `limit` connectors (100 by default, at most
/// 1,000) and a `next_cursor` for the page after, `null` on the last; filters hold across pages.
#[tokio::test]
async fn the_list_answers_pages_that_together_hold_every_connector_once() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let pat = service.asana.personal_access_token().to_string();
    let mut created = Vec::new();
    for i in 0..5 {
        let customer = if i % 2 == 0 { "even" } else { "odd" };
        let connector = service
            .connector(&token, customer, json!({ "token": pat }))
            .await;
        created.push(connector["id"].as_str().unwrap().to_string());
        // Connectors created in the same millisecond are listed by id: a later one here.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/integrations/connectors?limit=2&cursor={c}"),
            None => "/api/v1/integrations/connectors?limit=2".to_string(),
        };
        let (status, page) = service.get(&path, Some(&token)).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2, "{page}");
        seen.extend(data.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!((pages, &seen), (3, &created));
    let (_, all) = service
        .get("/api/v1/integrations/connectors", Some(&token))
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 5);
    assert_eq!(all["next_cursor"], Value::Null);
    // A filter holds on every page.
    let (_, first) = service
        .get(
            "/api/v1/integrations/connectors?customer_name=even&limit=2",
            Some(&token),
        )
        .await;
    let next = first["next_cursor"].as_str().unwrap();
    let (_, second) = service
        .get(
            &format!("/api/v1/integrations/connectors?customer_name=even&limit=2&cursor={next}"),
            Some(&token),
        )
        .await;
    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        [ids(&first), ids(&second)].concat(),
        [created[0].clone(), created[2].clone(), created[4].clone()]
    );
    assert_eq!(second["next_cursor"], Value::Null);
    for bad in [
        "limit=0",
        "limit=1001",
        "cursor=x",
        "cursor=12.",
        "cursor=.id",
    ] {
        let (status, answer) = service
            .get(
                &format!("/api/v1/integrations/connectors?{bad}"),
                Some(&token),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {answer}");
        assert_eq!(answer["retryable"], false, "{bad}: {answer}");
    }
}

/// A list whose last page is exactly full says so: four connectors in pages of two are two
/// pages, the first with a `next_cursor`, the second with both remaining connectors and a
/// `null` one (no empty third page).
#[tokio::test]
async fn a_last_page_that_is_exactly_full_has_no_next_cursor() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let pat = service.asana.personal_access_token().to_string();
    let mut created = Vec::new();
    for _ in 0..4 {
        let connector = service
            .connector(&token, "c", json!({ "token": pat }))
            .await;
        created.push(connector["id"].as_str().unwrap().to_string());
    }
    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, first) = service
        .get("/api/v1/integrations/connectors?limit=2", Some(&token))
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(ids(&first).len(), 2, "{first}");
    let next = first["next_cursor"].as_str().expect("a next page");
    let (status, second) = service
        .get(
            &format!("/api/v1/integrations/connectors?limit=2&cursor={next}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(ids(&second).len(), 2, "{second}");
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
    let mut listed = [ids(&first), ids(&second)].concat();
    listed.sort();
    created.sort();
    assert_eq!(listed, created);
}

/// A token connector reconnected (PATCH) with a refresh token alone is due for a refresh at once,
/// and the background refresher is told so by the time the PATCH answers: its expiry is
/// tracked, as the epoch.
#[tokio::test]
async fn a_connector_reconnected_with_oauth_credentials_has_its_expiry_tracked() {
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder.no_refresh_ahead()
    })
    .await;
    let (token, id) = service.pat_connector().await;
    assert_eq!(tracked_expiry(service.dir.path(), &id), None);
    let issued = service.asana.issue_tokens("default");
    let (status, patched) = service
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
            Some(
                json!({ "credentials": { "refresh_token": issued.refresh_token } })
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["auth_type"], "oauth", "{patched}");
    assert_eq!(tracked_expiry(service.dir.path(), &id), Some(0));
}

/// The background refresher renews a token that expires within its margin before it expires,
/// with no execute asking for it: a token another instance obtained 58 minutes ago (an hour's
/// lifetime, two minutes left) is refreshed once, and its new expiry, an hour ahead, is tracked.
#[tokio::test]
async fn the_refresher_renews_a_token_expiring_within_its_margin_before_it_expires() {
    let service = refreshing_service(Serving::Serve).await;
    let id = connector_expiring_in_two_minutes(&service).await;
    assert!(renewed_within(&service, &id, Duration::from_secs(5)).await);
}

/// An application that serves the router itself gets the refresher from `spawn_background`,
/// and none without it.
#[tokio::test]
async fn a_router_served_elsewhere_refreshes_ahead_only_with_its_background_tasks() {
    let with = refreshing_service(Serving::Router { background: true }).await;
    let id = connector_expiring_in_two_minutes(&with).await;
    assert!(renewed_within(&with, &id, Duration::from_secs(5)).await);

    let without = refreshing_service(Serving::Router { background: false }).await;
    let id = connector_expiring_in_two_minutes(&without).await;
    assert!(!renewed_within(&without, &id, Duration::from_millis(600)).await);
    assert_eq!(without.asana.token_requests(), 0);
}

/// A service whose refresher looks every 50 ms for tokens expiring within five minutes.
async fn refreshing_service(how: Serving) -> Service {
    let service = Service::start_serving(MockAsana::start().await, how, |builder| {
        builder.refresh_ahead(Duration::from_secs(300), Duration::from_millis(50))
    })
    .await;
    service.asana.set_token_lifetime(3600);
    service
}

/// An OAuth connector whose stored token (an hour's lifetime) expires in two minutes, its
/// expiry tracked by the service.
async fn connector_expiring_in_two_minutes(service: &Service) -> String {
    use integrations::CredentialStore;
    use integrations::auth_core::PutMode;
    use std::time::SystemTime;

    let (token, id, _) = service.oauth_connector().await;
    let store = service.credentials().await;
    let stored = store.get("asana", &id).await.unwrap().expect("stored");
    let mut credentials = integrations::Credentials::from_payload(&stored.record.payload).unwrap();
    credentials.token.expires_in = Some(3600);
    credentials.token.expires_at = Some(SystemTime::now() + Duration::from_secs(120));
    let mut record = stored.record;
    record.payload = credentials.to_payload();
    store
        .put(record, PutMode::Update(stored.version))
        .await
        .unwrap();
    // A change of the connector's row has the service track the stored token's expiry.
    let (status, body) = service
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
            Some(json!({ "name": "renamed" }).to_string().into_bytes()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    id
}

/// Whether the connector's token is refreshed, once, within `within`, with its new expiry (an
/// hour ahead) tracked.
async fn renewed_within(service: &Service, id: &str, within: Duration) -> bool {
    use std::time::{SystemTime, UNIX_EPOCH};

    let asana = &service.asana;
    let millis = |at: SystemTime| at.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let started = std::time::Instant::now();
    let renewed = loop {
        if asana.token_requests_for("refresh_token") == 1
            && let Some(ms) = tracked_expiry(service.dir.path(), id)
            && ms > millis(SystemTime::now() + Duration::from_secs(600))
        {
            break ms;
        }
        if started.elapsed() > within {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let expected = millis(SystemTime::now() + Duration::from_secs(3600));
    assert!(
        (expected - renewed).abs() < 5_000,
        "{renewed} vs {expected}"
    );
    assert_eq!(asana.token_requests_for("refresh_token"), 1);
    assert_eq!(asana.token_requests(), 1);
    true
}

/// A reconnect whose new credentials were stored but whose row could not be written (another
/// process holds the service database's write lock past the busy timeout) says so: 503,
/// retryable, `outcome_unknown`, and what was written; the same PATCH then completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_whose_row_write_fails_says_the_credentials_were_replaced() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let id = service.own_client_connector(&token).await;
    let path = format!("/api/v1/integrations/connectors/{id}");
    let patch = json!({ "credentials": { "token": service.asana.personal_access_token() } })
        .to_string()
        .into_bytes();

    let lock = rusqlite::Connection::open(service.dir.path().join("service.db")).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, body) = service
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(patch.clone()),
        )
        .await;
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["retryable"], true, "{body}");
    assert_eq!(body["outcome_unknown"], true, "{body}");
    let message = error_message(&body);
    assert!(
        message.contains("the new credentials were stored, the connector not updated")
            && message.contains("send the same request again"),
        "{message}"
    );
    assert_eq!(
        service.stored_access_token(&id).await.as_deref(),
        Some(service.asana.personal_access_token()),
        "the credentials were replaced before the row write failed"
    );
    let (_, row) = service.get(&path, Some(&token)).await;
    assert_eq!(row["auth_type"], "oauth", "the row was not written");

    let (status, body) = service
        .send(reqwest::Method::PATCH, &path, Some(&token), Some(patch))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["auth_type"], "token");
    assert_eq!(body["status"], "active");
    let answer = service.execute_users_get(&token, &id, "me").await;
    assert_eq!(answer.status(), 200);
}

/// A connector whose credential record no longer opens (sealed under a key the service does
/// not have) can be deleted (its grant cannot be revoked): its record and row are gone
/// afterwards, and the other connector is left as it was.
#[tokio::test]
async fn a_connector_whose_credentials_do_not_open_can_be_deleted() {
    use integrations::auth_core::CredentialRecord;
    use integrations::{CredentialStore, Credentials, OAuth2Token};

    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let id = service.own_client_connector(&token).await;
    let readable = service.token_connector(&token, "c").await;
    let payload = Credentials::new(OAuth2Token::bearer("foreign")).to_payload();
    let foreign = service
        .seal_under_another_key(CredentialRecord::new("asana", &id, payload))
        .await;

    let path = format!("/api/v1/integrations/connectors/{id}");
    let (status, body) = service
        .send(reqwest::Method::DELETE, &path, Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "needs_reauthorization");
    assert!(foreign.get("asana", &id).await.unwrap().is_none());
    assert_eq!(service.get(&path, Some(&token)).await.0, 404);
    assert_eq!(service.asana.revocations(), 0, "nothing readable to revoke");
    let (status, list) = service
        .get(
            "/api/v1/integrations/connectors?customer_name=c",
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], readable.as_str());
    assert_eq!(list["data"][0]["status"], "active");
}

/// A connector whose tokens open but whose own OAuth client does not (sealed under a key the
/// service does not have) can be deleted too: its grant cannot be revoked without the client.
#[tokio::test]
async fn a_connector_whose_own_oauth_client_does_not_open_can_be_deleted() {
    use integrations::CredentialStore;
    use integrations::auth_core::{CredentialRecord, Payload};

    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let id = service.own_client_connector(&token).await;
    let client = json!({ "client_id": "x", "client_secret": "y" }).to_string();
    let foreign = service
        .seal_under_another_key(CredentialRecord::new(
            "asana-oauth-client",
            &id,
            Payload::new(client.into_bytes()),
        ))
        .await;

    let path = format!("/api/v1/integrations/connectors/{id}");
    let (status, body) = service
        .send(reqwest::Method::DELETE, &path, Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(service.asana.revocations(), 0, "no client to revoke with");
    assert!(
        foreign
            .get("asana-oauth-client", &id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(service.stored_access_token(&id).await.is_none());
    assert_eq!(service.get(&path, Some(&token)).await.0, 404);
}
