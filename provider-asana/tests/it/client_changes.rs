//! `Asana-Change` announcements: logged once per client and change, as a warning.

use crate::client_support;

use auth_core::testing::CapturedLogs;

use client_support::client;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn each_announced_change_is_logged_once_as_a_warning() {
    const GOALS: &str =
        "name=new_goal_memberships;info=https://forum.asana.com/t/goals/1;affected=true";
    const LISTS: &str = "name=new_user_task_lists;info=https://forum.asana.com/t/lists/2";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .append_header("asana-change", GOALS)
                .append_header("asana-change", LISTS)
                .set_body_json(json!({"data": {"gid": "1"}})),
        )
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber(tracing::Level::WARN));

    for _ in 0..3 {
        client.get_user("me").await.unwrap();
    }

    let text = logs.text();
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        warnings[0].contains(GOALS) || warnings[1].contains(GOALS),
        "{text}"
    );
    assert!(
        warnings[0].contains(LISTS) || warnings[1].contains(LISTS),
        "{text}"
    );
    assert!(warnings.iter().all(|w| w.contains("/api/1.0/users/me")));
}
