//! What the client sends and how it reads answers: headers, opt_fields, `{"data": ...}` bodies,
//! default workspace, raw requests and the origin check, attachments and where their downloads may
//! go, events.

use crate::client_support;

use std::sync::Arc;
use std::time::Duration;

use auth_core::StaticTokenSource;
use client_support::raw::{RawServer, Reply};
use client_support::{client, client_with, form_fields, settings, settings_at};
use futures::TryStreamExt;
use provider_asana::client::{ByteRange, DownloadOptions};
use provider_asana::models::{
    AttachmentUpload, CreateComment, CreateTask, CreateWebhook, ProjectPlacement, UpdateTask,
    WebhookFilter,
};
use provider_asana::{AsanaClient, AsanaClientSettings, AsanaError};
use reqwest::Method;
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn get_user_me_sends_bearer_token_and_opt_fields() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .and(header("authorization", "Bearer token-1"))
        .and(header("accept", "application/json"))
        .and(query_param("opt_fields", "name,email,workspaces.name"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "42", "resource_type": "user", "name": "Greg", "email": "g@example.com",
            "workspaces": [{"gid": "7", "resource_type": "workspace", "name": "Acme"}],
            "photo": null, "custom_thing": {"x": 1}
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let me = client
        .users()
        .get("me", &["name", "email", "workspaces.name"])
        .await
        .unwrap();

    assert_eq!(me.gid, "42");
    assert_eq!(me.name.as_deref(), Some("Greg"));
    assert_eq!(me.email.as_deref(), Some("g@example.com"));
    assert_eq!(me.workspaces.unwrap()[0].name.as_deref(), Some("Acme"));
    assert_eq!(me.extra.get("custom_thing"), Some(&json!({"x": 1})));
}

#[tokio::test]
async fn get_without_opt_fields_sends_no_query() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1"))
        .and(query_param_is_missing("opt_fields"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    assert_eq!(client.tasks().get("1", &[]).await.unwrap().gid, "1");
}

#[tokio::test]
async fn gids_are_encoded_as_one_path_segment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/a%2F..%2Fb%3Fx=1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    client.users().get("a/../b?x=1", &[]).await.unwrap();
    let err = client.tasks().get("..", &[]).await.unwrap_err();
    assert!(
        matches!(err, AsanaError::InvalidArgument { name: "gid", .. }),
        "{err:?}"
    );
    let err = client.tasks().get("", &[]).await.unwrap_err();
    assert!(
        matches!(err, AsanaError::InvalidArgument { name: "gid", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn create_task_sends_exactly_the_data_envelope() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks"))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"data": {"name": "Buy milk", "projects": ["11"], "notes": "2%"}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "gid": "99", "resource_type": "task", "name": "Buy milk"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let task = client
        .tasks()
        .create(&CreateTask {
            name: Some("Buy milk".into()),
            projects: Some(vec!["11".into()]),
            notes: Some("2%".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(task.gid, "99");
    assert_eq!(task.resource_type.as_deref(), Some("task"));
}

#[tokio::test]
async fn creates_without_a_workspace_use_the_default_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks"))
        .and(body_json(
            json!({"data": {"name": "A", "workspace": "1200"}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {"gid": "1"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tags"))
        .and(body_json(
            json!({"data": {"name": "urgent", "workspace": "1200"}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {"gid": "2"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/projects"))
        .and(body_json(json!({"data": {"name": "P", "team": "5"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {"gid": "3"}})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(settings(&server).with_workspace_gid("1200"));
    assert_eq!(client.default_workspace(), Some("1200"));

    client.tasks().create(&json!({"name": "A"})).await.unwrap();
    client
        .tags()
        .create(&json!({"name": "urgent"}))
        .await
        .unwrap();
    // A team is enough for a project: no workspace is added.
    client
        .projects()
        .create(&json!({"name": "P", "team": "5"}))
        .await
        .unwrap();

    let (no_default, _) = client_support::client(&server);
    let err = no_default
        .tasks()
        .create(&json!({"name": "A"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AsanaError::MissingWorkspace { .. }),
        "{err:?}"
    );
    let err = no_default
        .projects()
        .list_for_workspace(None)
        .page()
        .await
        .unwrap_err();
    assert!(
        matches!(err, AsanaError::MissingWorkspace { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn updates_deletes_and_relationship_writes() {
    let server = MockServer::start().await;
    let ok_empty = ResponseTemplate::new(200).set_body_json(json!({"data": {}}));
    Mock::given(method("PUT"))
        .and(path("/api/1.0/tasks/1"))
        .and(body_json(
            json!({"data": {"completed": true, "assignee": null}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"gid": "1", "completed": true}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/1.0/tasks/1"))
        .respond_with(ok_empty.clone())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks/1/addTag"))
        .and(body_json(json!({"data": {"tag": "5"}})))
        .respond_with(ok_empty.clone())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks/1/addProject"))
        .and(body_json(json!({"data": {"project": "8", "section": "9"}})))
        .respond_with(ok_empty.clone())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/sections/9/addTask"))
        .and(body_json(json!({"data": {"task": "1"}})))
        .respond_with(ok_empty.clone())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks/1/stories"))
        .and(body_json(json!({"data": {"text": "Done!"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "gid": "77", "resource_subtype": "comment_added", "type": "comment", "text": "Done!"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/webhooks"))
        .and(body_json(json!({"data": {
            "resource": "8", "target": "https://example.com/hook",
            "filters": [{"resource_type": "task", "action": "changed"}]
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "gid": "300", "active": true, "target": "https://example.com/hook"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let mut update = UpdateTask {
        completed: Some(true),
        ..Default::default()
    };
    update
        .extra
        .insert("assignee".into(), serde_json::Value::Null);
    let task = client.tasks().update("1", &update).await.unwrap();
    assert_eq!(task.completed, Some(true));
    client.tasks().delete("1").await.unwrap();
    client.tasks().add_tag("1", "5").await.unwrap();
    client
        .tasks()
        .add_project(
            "1",
            "8",
            Some(&ProjectPlacement {
                section: Some("9".into()),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    client.sections().add_task("9", "1").await.unwrap();
    let story = client
        .stories()
        .create_comment(
            "1",
            &CreateComment {
                text: Some("Done!".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(story.story_type.as_deref(), Some("comment"));
    let webhook = client
        .webhooks()
        .create(&CreateWebhook {
            resource: "8".into(),
            target: "https://example.com/hook".into(),
            filters: Some(vec![WebhookFilter {
                resource_type: Some("task".into()),
                action: Some("changed".into()),
                ..Default::default()
            }]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(webhook.active, Some(true));
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_before_sending() {
    let server = MockServer::start().await;
    let (client, _) = client(&server);
    let err = client.tasks().update("1", &json!(["x"])).await.unwrap_err();
    assert!(
        matches!(err, AsanaError::InvalidArgument { name: "body", .. }),
        "{err:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn raw_request_takes_paths_and_same_origin_urls_and_returns_the_whole_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1"))
        .and(query_param("opt_fields", "name"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})))
        .expect(3)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks/1/addFollowers"))
        .and(body_json(json!({"data": {"followers": ["me"]}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let by_path = client
        .request(Method::GET, "/tasks/1", &[("opt_fields", "name")], None)
        .await
        .unwrap();
    assert_eq!(by_path, json!({"data": {"gid": "1"}}));
    let query_in_path = client
        .request(Method::GET, "tasks/1?opt_fields=name", &[], None)
        .await
        .unwrap();
    assert_eq!(query_in_path, by_path);
    let absolute = format!("{}/api/1.0/tasks/1", server.uri());
    client
        .request(Method::GET, &absolute, &[("opt_fields", "name")], None)
        .await
        .unwrap();
    client
        .request(
            Method::POST,
            "/tasks/1/addFollowers",
            &[],
            Some(json!({"data": {"followers": ["me"]}})),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn raw_request_refuses_other_origins_before_sending_anything() {
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {}})))
        .expect(0)
        .mount(&other)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {}})))
        .expect(0)
        .mount(&server)
        .await;
    let (client, tokens) = client(&server);
    let main = Url::parse(&server.uri()).unwrap();

    let refused = [
        format!("{}/api/1.0/tasks/1?secret-query=1", other.uri()),
        format!("https://127.0.0.1:{}/api/1.0/tasks/1", main.port().unwrap()),
        format!("{}/other/tasks/1", server.uri()),
        format!("{}/api/1.0x/tasks", server.uri()),
        format!(
            "http://user:pw@127.0.0.1:{}/api/1.0/tasks",
            main.port().unwrap()
        ),
        "/../../admin".to_string(),
        "javascript:alert(1)".to_string(),
    ];
    for target in &refused {
        let err = client
            .request(Method::GET, target, &[], None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AsanaError::OffOrigin { .. }),
            "{target}: {err:?}"
        );
        assert!(!err.to_string().contains("secret-query"), "{err}");
        let err = client.request_page(target, &[]).await.unwrap_err();
        assert!(
            matches!(err, AsanaError::OffOrigin { .. }),
            "{target}: {err:?}"
        );
        let err = client
            .list::<serde_json::Value>(target, &[])
            .page()
            .await
            .unwrap_err();
        assert!(
            matches!(err, AsanaError::OffOrigin { .. }),
            "{target}: {err:?}"
        );
    }
    let err = client
        .request(
            Method::GET,
            &format!("{}/api/1.0/x", other.uri()),
            &[],
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "refused to send the Asana token to {}: raw requests only go to {}/api/1.0 (pass a path such as `/tasks/123`)",
            other.uri(),
            server.uri()
        )
    );
    // Refused before even asking for a token.
    assert_eq!(
        tokens.token_calls.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert!(other.received_requests().await.unwrap().is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn base_url_must_be_https_except_on_loopback() {
    let tokens = Arc::new(StaticTokenSource::new("asana", "s", "t".into()));
    for bad in [
        "http://app.asana.com/api/1.0",
        "ftp://127.0.0.1/api",
        "https://app.asana.com/api/1.0?x=1",
        "https://u:p@app.asana.com/api/1.0",
    ] {
        let err = AsanaClient::new(
            tokens.clone(),
            AsanaClientSettings::new(Url::parse(bad).unwrap()),
        )
        .unwrap_err();
        assert!(
            matches!(err, AsanaError::InvalidUrl { .. }),
            "{bad}: {err:?}"
        );
    }
    for good in [
        "https://app.asana.com/api/1.0/",
        "http://127.0.0.1:9/api",
        "http://localhost:9",
        "http://[::1]:9/",
    ] {
        AsanaClient::new(
            tokens.clone(),
            AsanaClientSettings::new(Url::parse(good).unwrap()),
        )
        .unwrap();
    }
    let client = AsanaClient::new(tokens, AsanaClientSettings::default()).unwrap();
    assert_eq!(
        client.settings().api_base_url.as_str(),
        "https://app.asana.com/api/1.0"
    );
    assert!(!format!("{client:?}").contains("\"t\""));
}

#[tokio::test]
async fn a_link_attachment_is_sent_as_multipart_fields_and_resent_whole_after_a_401() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/attachments"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"errors": [
            {"message": "Not Authorized"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/attachments"))
        .and(header("authorization", "Bearer token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "501", "resource_type": "attachment", "resource_subtype": "external",
            "name": "Spec", "host": "external", "view_url": "https://docs.example/spec"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let attachment = client
        .attachments()
        .attach_url("123", "https://Docs.Example/spec?v=2&x=y", "Spec")
        .await
        .unwrap();

    assert_eq!(attachment.gid, "501");
    assert_eq!(attachment.resource_subtype.as_deref(), Some("external"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let expected = vec![
        ("parent".to_string(), "123".to_string()),
        ("resource_subtype".to_string(), "external".to_string()),
        (
            "url".to_string(),
            "https://docs.example/spec?v=2&x=y".to_string(),
        ),
        ("name".to_string(), "Spec".to_string()),
    ];
    for request in &requests {
        let content_type = request
            .headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            content_type.starts_with("multipart/form-data; boundary="),
            "{content_type}"
        );
        assert_eq!(form_fields(&request.body), expected);
        assert!(!String::from_utf8_lossy(&request.body).contains("filename="));
    }
}

#[tokio::test]
async fn a_bad_link_attachment_is_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    let (client, tokens) = client(&server);
    let attachments = client.attachments();
    let cases = [
        (" ", "https://docs.example/spec", "Spec", "parent"),
        ("123", "docs.example/spec", "Spec", "url"),
        ("123", "ftp://docs.example/spec", "Spec", "url"),
        ("123", " https://docs.example/spec", "Spec", "url"),
        ("123", "https://docs.example/a\nb", "Spec", "url"),
        ("123", "https://docs.example/a b", "Spec", "url"),
        ("123", "https://docs.example/spec", "  ", "name"),
    ];
    for (parent, url, name, argument) in cases {
        let err = attachments.attach_url(parent, url, name).await.unwrap_err();
        assert!(
            matches!(&err, AsanaError::InvalidArgument { name, .. } if *name == argument),
            "{parent:?} {url:?} {name:?}: {err:?}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(
        tokens.token_calls.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

/// Downloads are served on the API origin, outside the API base path (`/bucket/...`): plain
/// http is fetched only there, and without the token.
#[tokio::test]
async fn attachment_upload_is_multipart_and_download_sends_no_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/attachments"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "500", "resource_type": "attachment", "name": "notes.txt"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/attachments/500"))
        .and(query_param("opt_fields", "download_url"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "500", "download_url": format!("{}/bucket/notes.txt?X-Amz-Signature=abc", server.uri())
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/notes.txt"))
        .and(query_param("X-Amz-Signature", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"hello file".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/expired"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let attachment = client
        .attachments()
        .upload(AttachmentUpload::new(
            "123",
            "notes.txt",
            "text/plain",
            b"hello file".to_vec(),
        ))
        .await
        .unwrap();
    assert_eq!(attachment.gid, "500");
    let upload = &server.received_requests().await.unwrap()[0];
    let content_type = upload
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = String::from_utf8_lossy(&upload.body);
    assert!(
        body.contains("Content-Disposition: form-data; name=\"parent\"\r\n\r\n123\r\n"),
        "{body}"
    );
    assert!(
        body.contains("Content-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nhello file\r\n"),
        "{body}"
    );

    let content = client.attachments().download("500").await.unwrap();
    assert_eq!(&content[..], b"hello file");
    let downloads: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/bucket/"))
        .collect();
    assert_eq!(downloads.len(), 1);
    assert!(downloads[0].headers.get("authorization").is_none());

    let err = client
        .attachments()
        .download_from(&format!("{}/bucket/expired", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AsanaError::Download { status: 403, .. }),
        "{err:?}"
    );
    let err = client
        .attachments()
        .download_from("http://example.com/file")
        .await
        .unwrap_err();
    assert!(matches!(err, AsanaError::InvalidUrl { .. }), "{err:?}");
    let err = client
        .attachments()
        .upload(AttachmentUpload::new("1", "a", "not a mime", b"x".to_vec()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AsanaError::InvalidArgument {
                name: "content_type",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_download_url_on_another_local_server_is_refused_and_nothing_is_sent() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/attachments/500"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "500", "download_url": format!("{}/admin/secrets", elsewhere.uri())
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"internal".to_vec()))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let (client, _) = client(&server);

    let err = client.attachments().download("500").await.unwrap_err();
    let AsanaError::InvalidUrl {
        what: "attachment download",
        reason,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        *reason,
        format!(
            "{} is not https; plain http is only fetched from the API origin {}",
            elsewhere.uri(),
            server.uri()
        )
    );
    assert!(!err.is_retryable());
    for refused in [
        format!("{}/file", elsewhere.uri()),
        format!("https://127.0.0.1:{}/file", elsewhere.address().port()),
        "https://localhost/file".to_string(),
        "https://169.254.169.254/latest/meta-data".to_string(),
        "http://storage.example.com/file".to_string(),
    ] {
        let err = client
            .attachments()
            .download_from(&refused)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                AsanaError::InvalidUrl {
                    what: "attachment download",
                    ..
                }
            ),
            "{refused}: {err:?}"
        );
    }
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    server.verify().await;
}

#[tokio::test]
async fn a_download_url_under_the_api_base_is_fetched_with_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/attachments/500"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "500", "download_url": format!("{}/api/1.0/files/500/notes.txt", server.uri())
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/files/500/notes.txt"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"hello file".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let content = client.attachments().download("500").await.unwrap();
    assert_eq!(&content[..], b"hello file");
    server.verify().await;
}

#[tokio::test]
async fn a_download_over_the_limit_is_not_read_to_the_end() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bucket/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![7u8; 4096]))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(settings(&server).with_max_download_bytes(4095));
    let err = client
        .attachments()
        .download_from(&format!("{}/bucket/big", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::DownloadTooLarge { host, limit: 4095 } if host == "127.0.0.1"),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    // Without a Content-Length the limit holds while the body streams in.
    let raw = RawServer::start(|_| Reply::without_length(64, 64 * 1024)).await;
    let (client, _) = client_with(settings_at(&raw.uri).with_max_download_bytes(256 * 1024));
    let err = client
        .attachments()
        .download_from(&format!("{}/bucket/big", raw.uri))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::DownloadTooLarge { limit: 262_144, .. }),
        "{err:?}"
    );
    assert_eq!(raw.connections(), 1);
    server.verify().await;
}

/// Mounts `/api/1.0/attachments/500` pointing at `{server}/bucket/{file}`.
async fn mount_download_url(server: &MockServer, download_url: &str) {
    Mock::given(method("GET"))
        .and(path("/api/1.0/attachments/500"))
        .and(query_param("opt_fields", "download_url"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "500", "download_url": download_url
        }})))
        .mount(server)
        .await;
}

/// The requests `server` received under `/bucket/`.
async fn bucket_requests(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/bucket/"))
        .collect()
}

#[tokio::test]
async fn a_streamed_download_sends_the_exact_range_and_writes_only_those_bytes() {
    let server = MockServer::start().await;
    mount_download_url(&server, &format!("{}/bucket/notes.txt", server.uri())).await;
    Mock::given(method("GET"))
        .and(path("/bucket/notes.txt"))
        .and(header("range", "bytes=2-5"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("content-range", "bytes 2-5/10")
                .set_body_bytes(b"llo ".to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/notes.txt"))
        .and(header("range", "bytes=6-"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("content-range", "bytes 6-9/10")
                .set_body_bytes(b"file".to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Downloads are in-memory only up to max_download_bytes; streams have no cap by default.
    let (client, _) = client_with(settings(&server).with_max_download_bytes(1));

    let mut written = Vec::new();
    let options = DownloadOptions::default().with_range(ByteRange::new(2, 5).unwrap());
    let count = client
        .attachments()
        .download_to("500", &mut written, &options)
        .await
        .unwrap();
    assert_eq!((count, &written[..]), (4, &b"llo "[..]));

    let mut rest = Vec::new();
    let options = DownloadOptions::default().with_range(ByteRange::starting_at(6));
    let count = client
        .attachments()
        .stream_from(
            &format!("{}/bucket/notes.txt", server.uri()),
            &mut rest,
            &options,
        )
        .await
        .unwrap();
    assert_eq!((count, &rest[..]), (4, &b"file"[..]));

    let requests = bucket_requests(&server).await;
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("authorization").is_none())
    );
    server.verify().await;
}

#[tokio::test]
async fn a_server_that_ignores_range_answers_200_and_only_the_range_is_written() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bucket/notes.txt"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"hello file".to_vec()))
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let url = format!("{}/bucket/notes.txt", server.uri());
    let fetch = |range: ByteRange| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let mut written = Vec::new();
            let options = DownloadOptions::default().with_range(range);
            let result = client
                .attachments()
                .stream_from(&url, &mut written, &options)
                .await;
            result.map(|count| (count, written))
        }
    };

    assert_eq!(
        fetch(ByteRange::new(2, 5).unwrap()).await.unwrap(),
        (4, b"llo ".to_vec())
    );
    assert_eq!(
        fetch(ByteRange::starting_at(6)).await.unwrap(),
        (4, b"file".to_vec())
    );
    // A range past the end of a file is truncated, as a 206 would be.
    assert_eq!(
        fetch(ByteRange::new(8, 100).unwrap()).await.unwrap(),
        (2, b"le".to_vec())
    );
    let err = fetch(ByteRange::starting_at(10)).await.unwrap_err();
    assert!(
        matches!(&err, AsanaError::DownloadRange { reason, .. } if reason == "the file ends before the range starts"),
        "{err:?}"
    );
    // A range to the last byte there can be spans more bytes than a u64 counts: all of the file.
    assert_eq!(
        fetch(ByteRange::new(0, u64::MAX).unwrap()).await.unwrap(),
        (10, b"hello file".to_vec())
    );
    let heads: Vec<_> = bucket_requests(&server)
        .await
        .iter()
        .map(|r| r.headers["range"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        heads,
        [
            "bytes=2-5",
            "bytes=6-",
            "bytes=8-100",
            "bytes=10-",
            "bytes=0-18446744073709551615"
        ]
    );
}

#[tokio::test]
async fn a_range_the_server_cannot_or_does_not_answer_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bucket/past-the-end"))
        .respond_with(ResponseTemplate::new(416).insert_header("content-range", "bytes */10"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/other-bytes"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("content-range", "bytes 0-3/10")
                .set_body_bytes(b"hell".to_vec()),
        )
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let options = DownloadOptions::default().with_range(ByteRange::new(20, 29).unwrap());
    let mut written = Vec::new();

    let err = client
        .attachments()
        .stream_from(
            &format!("{}/bucket/past-the-end", server.uri()),
            &mut written,
            &options,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::DownloadRange { host, reason } if host == "127.0.0.1" && reason == "bytes=20-29 is past the end of the file"),
        "{err:?}"
    );
    let err = client
        .attachments()
        .stream_from(
            &format!("{}/bucket/other-bytes", server.uri()),
            &mut written,
            &options,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::DownloadRange { reason, .. } if reason == "asked for bytes=20-29, the server answered bytes from 0"),
        "{err:?}"
    );
    // A 206 to a request without Range.
    let err = client
        .attachments()
        .stream_from(
            &format!("{}/bucket/other-bytes", server.uri()),
            &mut written,
            &DownloadOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AsanaError::DownloadRange { .. }), "{err:?}");
    assert!(written.is_empty());
    assert!(ByteRange::new(5, 4).is_err());
}

/// A stream is timed per read, so one that takes longer than the shared HTTP client's own total
/// timeout still completes: that timeout does not apply to downloads.
#[tokio::test]
async fn a_stream_longer_than_the_shared_clients_timeout_completes() {
    let raw = RawServer::start(|_| Reply {
        head: "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\nConnection: close".into(),
        body: Box::new(std::iter::repeat_n(vec![b'x'; 10], 10)),
        pace: Duration::from_millis(60),
    })
    .await;
    let shared = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let (client, _) = client_with(
        settings_at(&raw.uri)
            .with_http_client(shared)
            .with_timeout(Duration::from_secs(2)),
    );

    let mut written = Vec::new();
    let count = client
        .attachments()
        .stream_from(
            &format!("{}/bucket/big.bin", raw.uri),
            &mut written,
            &DownloadOptions::default(),
        )
        .await
        .unwrap();

    assert_eq!((count, written), (100, vec![b'x'; 100]));
}

#[tokio::test]
async fn a_streamed_download_to_a_file_renames_it_into_place_when_complete() {
    let server = MockServer::start().await;
    mount_download_url(&server, &format!("{}/bucket/big.bin", server.uri())).await;
    let content: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    Mock::given(method("GET"))
        .and(path("/bucket/big.bin"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(content.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(settings(&server).with_max_download_bytes(1024));
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("big.bin");
    std::fs::write(&destination, b"old").unwrap();

    let size = client
        .attachments()
        .download_to_file("500", &destination, &DownloadOptions::default())
        .await
        .unwrap();

    assert_eq!(size, content.len() as u64);
    assert_eq!(std::fs::read(&destination).unwrap(), content);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["big.bin"]);
    server.verify().await;
}

#[tokio::test]
async fn a_download_that_fails_midway_leaves_no_file_and_the_old_one_untouched() {
    // Announces 1000 bytes, sends 100, then closes the connection.
    let raw = RawServer::start(|head| {
        if head.starts_with("GET /api/1.0/attachments/500") {
            let url = format!(
                "http://{}/bucket/cut.bin",
                head.split("host: ")
                    .nth(1)
                    .and_then(|rest| rest.split("\r\n").next())
                    .unwrap_or_default()
            );
            Reply::full(
                "200 OK",
                "application/json",
                json!({"data": {"gid": "500", "download_url": url}})
                    .to_string()
                    .into_bytes(),
            )
        } else {
            Reply {
                head: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close".into(),
                body: Box::new(std::iter::once(vec![1u8; 100])),
                pace: std::time::Duration::ZERO,
            }
        }
    })
    .await;
    let (client, _) = client_with(settings_at(&raw.uri));
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.bin");
    let existing = dir.path().join("existing.bin");
    std::fs::write(&existing, b"old").unwrap();

    for destination in [&fresh, &existing] {
        let err = client
            .attachments()
            .download_to_file("500", destination, &DownloadOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, AsanaError::Network { .. }), "{err:?}");
    }

    assert!(!fresh.exists());
    assert_eq!(std::fs::read(&existing).unwrap(), b"old");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["existing.bin"]);
    let downloads = raw
        .requests()
        .iter()
        .filter(|head| head.starts_with("GET /bucket/cut.bin"))
        .count();
    assert_eq!(downloads, 2);
}

#[tokio::test]
async fn a_refused_streamed_download_sends_nothing_and_creates_no_file() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    mount_download_url(&server, &format!("{}/admin/secrets", elsewhere.uri())).await;
    let (client, _) = client(&server);
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("secrets");

    let err = client
        .attachments()
        .download_to_file("500", &destination, &DownloadOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AsanaError::InvalidUrl {
                what: "attachment download",
                ..
            }
        ),
        "{err:?}"
    );
    let mut written = Vec::new();
    for refused in [
        format!("{}/file", elsewhere.uri()),
        "https://localhost/file".to_string(),
        "https://169.254.169.254/latest/meta-data".to_string(),
    ] {
        let err = client
            .attachments()
            .stream_from(&refused, &mut written, &DownloadOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                AsanaError::InvalidUrl {
                    what: "attachment download",
                    ..
                }
            ),
            "{refused}: {err:?}"
        );
    }
    assert!(written.is_empty());
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_streamed_download_past_its_cap_stops() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bucket/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![7u8; 4096]))
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let mut written = Vec::new();
    let err = client
        .attachments()
        .stream_from(
            &format!("{}/bucket/big", server.uri()),
            &mut written,
            &DownloadOptions::default().with_max_bytes(4095),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::DownloadTooLarge { limit: 4095, .. }),
        "{err:?}"
    );
    assert!(written.is_empty());
    // The cap counts the bytes of the range only.
    let count = client
        .attachments()
        .stream_from(
            &format!("{}/bucket/big", server.uri()),
            &mut written,
            &DownloadOptions::default()
                .with_range(ByteRange::new(0, 99).unwrap())
                .with_max_bytes(100),
        )
        .await
        .unwrap();
    assert_eq!((count, written.len()), (100, 100));

    // Without a Content-Length the cap holds while the body streams in.
    let raw = RawServer::start(|_| Reply::without_length(64, 1024)).await;
    let (client, _) = client_with(settings_at(&raw.uri));
    let mut written = Vec::new();
    let err = client
        .attachments()
        .stream_from(
            &format!("{}/bucket/big", raw.uri),
            &mut written,
            &DownloadOptions::default().with_max_bytes(10_000),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::DownloadTooLarge { limit: 10_000, .. }),
        "{err:?}"
    );
    assert!(written.len() <= 10_000, "{}", written.len());
}

#[tokio::test]
async fn events_412_is_a_sync_reset_not_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/events"))
        .and(query_param("resource", "11"))
        .and(query_param_is_missing("sync"))
        .respond_with(ResponseTemplate::new(412).set_body_json(json!({
            "errors": [{"message": "Sync token invalid or too old."}],
            "sync": "fresh-sync"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/events"))
        .and(query_param("resource", "11"))
        .and(query_param("sync", "fresh-sync"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"action": "changed", "resource": {"gid": "1", "resource_type": "task"},
                      "change": {"field": "name"}}],
            "sync": "next-sync",
            "has_more": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/events"))
        .and(query_param("resource", "12"))
        .respond_with(ResponseTemplate::new(412).set_body_json(json!({"errors": []})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let first = client.events().get("11", None).await.unwrap();
    assert!(first.sync_reset);
    assert!(first.events.is_empty());
    assert_eq!(first.sync, "fresh-sync");
    assert!(!first.has_more);

    let next = client.events().get("11", Some(&first.sync)).await.unwrap();
    assert!(!next.sync_reset);
    assert!(next.has_more);
    assert_eq!(next.sync, "next-sync");
    assert_eq!(next.events.len(), 1);
    assert_eq!(next.events[0].action.as_deref(), Some("changed"));
    assert_eq!(next.events[0].resource.as_ref().unwrap().gid, "1");

    // A 412 without a sync token is a plain error.
    let err = client.events().get("12", None).await.unwrap_err();
    assert!(
        matches!(err, AsanaError::UnexpectedStatus(ref info) if info.status == 412),
        "{err:?}"
    );
}

#[tokio::test]
async fn events_against_the_testkit_reset_then_deliver_a_task_update() {
    use provider_asana_testkit::{MockAsana, seed};

    let asana = MockAsana::start().await;
    let tokens = Arc::new(StaticTokenSource::new(
        "asana",
        "s",
        asana.personal_access_token().into(),
    ));
    let client = AsanaClient::new(tokens, settings_at(&asana.uri())).unwrap();
    let project = seed::LAUNCH_PROJECT_GID;

    let first = client.events().get(project, None).await.unwrap();
    assert!(first.sync_reset);
    assert!(first.events.is_empty());
    assert!(!first.has_more);
    assert!(!first.sync.is_empty());

    let update = UpdateTask {
        name: Some("Draft the announcement".into()),
        ..Default::default()
    };
    client
        .tasks()
        .update(seed::DRAFT_TASK_GID, &update)
        .await
        .unwrap();

    let next = client
        .events()
        .get(project, Some(&first.sync))
        .await
        .unwrap();
    assert!(!next.sync_reset);
    assert!(!next.has_more);
    assert_ne!(next.sync, first.sync);
    let [event] = next.events.as_slice() else {
        panic!("one event: {:?}", next.events);
    };
    assert_eq!(event.action.as_deref(), Some("changed"));
    let resource = event.resource.as_deref().expect("resource");
    assert_eq!(resource.gid, seed::DRAFT_TASK_GID);
    assert_eq!(resource.resource_type.as_deref(), Some("task"));
    assert_eq!(resource.name.as_deref(), Some("Draft the announcement"));
    assert_eq!(
        event.user.as_deref().map(|u| u.gid.as_str()),
        Some(seed::ME_GID)
    );
    assert_eq!(event.parent, None);
    assert!(event.created_at.is_some());
    assert_eq!(event.extra.get("type"), Some(&json!("task")));

    let after = client
        .events()
        .get(project, Some(&next.sync))
        .await
        .unwrap();
    assert!(!after.sync_reset && after.events.is_empty() && !after.has_more);
}

#[tokio::test]
async fn list_endpoints_send_their_filters() {
    let server = MockServer::start().await;
    let empty = ResponseTemplate::new(200).set_body_json(json!({"data": [], "next_page": null}));
    for (p, params) in [
        (
            "/api/1.0/tasks",
            vec![("assignee", "me"), ("workspace", "1200"), ("limit", "100")],
        ),
        (
            "/api/1.0/users",
            vec![("workspace", "1200"), ("limit", "100")],
        ),
        ("/api/1.0/users/me/teams", vec![("organization", "1200")]),
        (
            "/api/1.0/attachments",
            vec![("parent", "1"), ("limit", "100")],
        ),
        (
            "/api/1.0/webhooks",
            vec![("workspace", "1200"), ("resource", "8")],
        ),
        (
            "/api/1.0/workspaces/1200/tasks/search",
            vec![("text", "milk"), ("limit", "100")],
        ),
    ] {
        let mut mock = Mock::given(method("GET")).and(path(p));
        for (k, v) in params {
            mock = mock.and(query_param(k, v));
        }
        mock.respond_with(empty.clone())
            .expect(1)
            .mount(&server)
            .await;
    }
    let (client, _) = client_with(settings(&server).with_workspace_gid("1200"));

    assert!(
        client
            .tasks()
            .list_for_assignee("me", None)
            .page()
            .await
            .unwrap()
            .data
            .is_empty()
    );
    client
        .users()
        .list_for_workspace(None)
        .page()
        .await
        .unwrap();
    client
        .teams()
        .list_for_user("me", None)
        .page()
        .await
        .unwrap();
    client
        .attachments()
        .list_for_parent("1")
        .page()
        .await
        .unwrap();
    client
        .webhooks()
        .list(None, Some("8"))
        .page()
        .await
        .unwrap();
    client
        .tasks()
        .search(None)
        .param("text", "milk")
        .page()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_teams_users_are_listed_page_by_page() {
    let server = MockServer::start().await;
    let user = |gid: &str| json!({"gid": gid, "resource_type": "user", "name": gid});
    Mock::given(method("GET"))
        .and(path("/api/1.0/users"))
        .and(query_param("team", "5"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("offset"))
        .and(query_param_is_missing("workspace"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [user("1"), user("2")],
            "next_page": {"offset": "o2", "path": "/users?team=5&limit=100&offset=o2"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users"))
        .and(query_param("team", "5"))
        .and(query_param("limit", "100"))
        .and(query_param("offset", "o2"))
        .and(query_param_is_missing("workspace"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [user("3")],
            "next_page": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let users: Vec<String> = client
        .users()
        .list_for_team("5")
        .stream()
        .map_ok(|user| user.gid)
        .try_collect()
        .await
        .unwrap();

    assert_eq!(users, ["1", "2", "3"]);
    server.verify().await;
    let err = client.users().list_for_team("").page().await.unwrap_err();
    assert!(
        matches!(&err, AsanaError::InvalidArgument { name: "team", .. }),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn enabled_and_disabled_changes_are_sent_on_every_request_and_only_when_set() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1", "name": "A"}})),
        )
        .mount(&server)
        .await;
    let (with_changes, _) = client_with(
        settings(&server)
            .with_enable_change("new_goal_memberships")
            .with_enable_change("new_user_task_lists")
            .with_disable_change("string_ids"),
    );
    let (plain, _) = client(&server);

    with_changes.get_user("me").await.unwrap();
    plain.get_user("me").await.unwrap();

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    let header = |i: usize, name: &str| {
        received[i]
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        header(0, "asana-enable").as_deref(),
        Some("new_goal_memberships,new_user_task_lists")
    );
    assert_eq!(header(0, "asana-disable").as_deref(), Some("string_ids"));
    assert_eq!(header(1, "asana-enable"), None);
    assert_eq!(header(1, "asana-disable"), None);
}

#[tokio::test]
async fn a_change_name_that_cannot_be_a_header_is_refused_when_the_client_is_built() {
    let tokens = Arc::new(StaticTokenSource::new("asana", "s", "t".into()));
    let settings = AsanaClientSettings::new(Url::parse("http://127.0.0.1:9/api/1.0").unwrap())
        .with_disable_change("bad\nname");
    let err = AsanaClient::new(tokens, settings).unwrap_err();
    assert!(
        matches!(
            &err,
            AsanaError::InvalidArgument {
                name: "asana-disable",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn api_redirects_are_not_followed_and_the_token_stays_home() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/api/1.0/users/me", elsewhere.uri())),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let (client, _) = client(&server);

    let err = client.users().get("me", &[]).await.unwrap_err();

    assert!(!format!("{err:?}").contains("token-1"), "{err:?}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}
