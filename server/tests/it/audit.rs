//! The audit log: every connector change and every execute, with parameter names and never their
//! values, newest first, for the caller's application (and a scoped token's customer) only.

use serde_json::json;

use crate::support::Service;

#[tokio::test]
async fn changes_and_executes_are_audited_newest_first_with_param_names_only() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let pat = service.asana.personal_access_token().to_string();
    let connector = service
        .connector(&token, "customer-1", json!({ "token": pat }))
        .await;
    let id = connector["id"].as_str().unwrap();
    let (status, _) = service
        .execute(
            &token,
            id,
            "tasks",
            "get",
            json!({ "task_gid": "1201000000000601", "opt_fields": ["name", "secret-looking-value"] }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = service
        .execute(&token, id, "tasks", "get", json!({ "task_gid": "999" }))
        .await;
    assert_eq!(status, 404);
    let (status, _) = service
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
            Some(json!({ "name": "renamed" }).to_string().into_bytes()),
        )
        .await;
    assert_eq!(status, 200);
    let other = service
        .connector(&token, "customer-2", json!({ "token": pat }))
        .await;

    let (status, audit) = service.get("/api/v1/audit", Some(&token)).await;
    assert_eq!(status, 200);
    let entries = audit["data"].as_array().unwrap();
    let operations: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        [
            "connector.create",
            "connector.update",
            "execute",
            "execute",
            "connector.create"
        ]
    );
    // Ids are time-ordered (UUID version 7): newest first reads them in descending order.
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.is_sorted_by(|newer, older| newer > older), "{ids:?}");
    assert!(ids.iter().all(|id| id.as_bytes()[14] == b'7'), "{ids:?}");
    assert_eq!(entries[0]["connector_id"], other["id"]);
    let failed = &entries[2];
    assert_eq!(failed["outcome"], "error");
    assert_eq!(failed["status"], 404);
    let read = &entries[3];
    assert_eq!(read["customer_name"], "customer-1");
    assert_eq!(read["connector_id"], id);
    assert_eq!(
        (read["entity"].as_str(), read["action"].as_str()),
        (Some("tasks"), Some("get"))
    );
    assert_eq!(read["param_names"], json!(["opt_fields", "task_gid"]));
    assert_eq!(
        (read["outcome"].as_str(), read["status"].as_u64()),
        (Some("ok"), Some(200))
    );
    assert!(read["duration_ms"].is_u64());
    assert!(read["at"].as_str().unwrap().ends_with('Z'));
    assert!(!audit.to_string().contains("secret-looking-value"));
    assert!(!audit.to_string().contains("1201000000000601"));
    assert_eq!(entries[1]["param_names"], json!(["name"]));

    let (_, limited) = service.get("/api/v1/audit?limit=2", Some(&token)).await;
    assert_eq!(limited["data"].as_array().unwrap().len(), 2);
    assert_eq!(limited["data"][0], entries[0]);
    let (status, _) = service.get("/api/v1/audit?limit=0", Some(&token)).await;
    assert_eq!(status, 422);
    let (status, _) = service.get("/api/v1/audit?limit=many", Some(&token)).await;
    assert_eq!(status, 400);

    // A scoped token sees its customer's entries; another application sees none.
    let scoped = service.scoped_token(&token, "customer-2").await;
    let (_, own) = service.get("/api/v1/audit", Some(&scoped)).await;
    assert_eq!(own["data"].as_array().unwrap().len(), 1);
    let stranger = service.application("stranger").await;
    let stranger = service.app_token(&stranger).await;
    let (status, none) = service.get("/api/v1/audit", Some(&stranger)).await;
    assert_eq!((status, none), (200, json!({ "data": [] })));
    let (status, _) = service.get("/api/v1/audit", None).await;
    assert_eq!(status, 401);
}

/// A caller cannot grow the audit log by more than a bounded entry per request: long names are
/// cut (at a character boundary, ending with `…`) and at most 64 param names are kept, the last
/// saying how many more there were; names the service stores are refused past 256 bytes.
#[tokio::test]
async fn an_entry_is_bounded_whatever_the_request_holds() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    let pat = service.asana.personal_access_token().to_string();
    // 127 bytes of `a` then `é` (2 bytes): the cut falls inside the `é`.
    let entity = format!("{}é{}", "a".repeat(124), "b".repeat(10_000));
    let params: serde_json::Map<String, serde_json::Value> = (0..100)
        .map(|i| (format!("p{i:03}{}", "x".repeat(500)), json!(i)))
        .collect();
    let (status, _) = service
        .execute(&token, &id, &entity, "get", json!(params))
        .await;
    assert_eq!(status, 400);
    let (status, audit) = service.get("/api/v1/audit?limit=1", Some(&token)).await;
    assert_eq!(status, 200);
    let entry = &audit["data"][0];
    assert_eq!(entry["entity"], format!("{}…", "a".repeat(124)));
    let names = entry["param_names"].as_array().unwrap();
    assert_eq!(names.len(), 64);
    let cut = format!("p000{}…", "x".repeat(121));
    assert_eq!((names[0].as_str(), cut.len()), (Some(cut.as_str()), 128));
    assert_eq!(names[62].as_str().map(|n| &n[..4]), Some("p062"));
    assert_eq!(names[63], "… 37 more");

    let longest = "c".repeat(256);
    for (body, expected) in [
        (
            json!({"customer_name": longest, "connector_type": "Asana", "credentials": {"token": pat}}),
            201,
        ),
        (
            json!({"customer_name": format!("{longest}c"), "connector_type": "Asana", "credentials": {"token": pat}}),
            422,
        ),
        (
            json!({"external_user_id": format!("{longest}c"), "connector_type": "Asana", "credentials": {"token": pat}}),
            422,
        ),
        (
            json!({"customer_name": "c", "name": format!("{longest}n"), "connector_type": "Asana", "credentials": {"token": pat}}),
            422,
        ),
    ] {
        let (status, answer) = service
            .post("/api/v1/integrations/connectors", Some(&token), body)
            .await;
        assert_eq!(status, expected, "{answer}");
        if status == 201 {
            // The default name ("Asana " and the customer's) is cut to the limit, so that it
            // can be given back as it was answered.
            let name = answer["name"].as_str().unwrap();
            assert_eq!(name, format!("Asana {}", "c".repeat(250)));
            let (status, patched) = service
                .send(
                    reqwest::Method::PATCH,
                    &format!(
                        "/api/v1/integrations/connectors/{}",
                        answer["id"].as_str().unwrap()
                    ),
                    Some(&token),
                    Some(json!({ "name": name }).to_string().into_bytes()),
                )
                .await;
            assert_eq!(status, 200, "{patched}");
        }
    }
}

/// Entries past the retention are deleted while the service serves; newer ones stay.
#[tokio::test]
async fn entries_past_the_retention_are_deleted_and_newer_ones_stay() {
    let asana = provider_asana_testkit::MockAsana::start().await;
    let retention = std::time::Duration::from_secs(2);
    let service = Service::start_configured(asana, true, move |builder| {
        builder.audit_retention(Some(retention))
    })
    .await;
    let (token, first) = service.pat_connector().await;
    let pat = service.asana.personal_access_token().to_string();
    let entries = |audit: &serde_json::Value| -> Vec<String> {
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["connector_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, audit) = service.get("/api/v1/audit", Some(&token)).await;
    assert_eq!(entries(&audit), [first]);
    // Past the retention and one more look (a tenth of it), the entry is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, audit) = service.get("/api/v1/audit", Some(&token)).await;
        if entries(&audit).is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{audit}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let second = service
        .connector(&token, "customer-1", json!({ "token": pat }))
        .await;
    let (_, audit) = service.get("/api/v1/audit", Some(&token)).await;
    assert_eq!(entries(&audit), [second["id"].as_str().unwrap()]);
}
